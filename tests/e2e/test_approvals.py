"""Four eyes in the browser: a refund above the threshold, from request to approval."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalRequest
from billing.models import Transaction
from core.roles import BILLING
from tests.e2e.conftest import ARTIFACTS
from tests.factories.billing import line, make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.four_eyes]


def test_a_refund_above_the_threshold_waits_until_a_second_person_approves_it(
    page, browser, live_server, login, make_staff
):
    maker, checker = make_staff(BILLING, username="mia"), make_staff(BILLING, username="theo")
    customer = ClientFactory(first_name="Grace", last_name="Hopper", currency="USD")
    invoice = make_invoice(customer, lines=[line(unit_price="400.00", taxed=False)], actor=maker)
    payment = pay(invoice, actor=maker, transaction_id="WIRE-1")

    # Mia refunds 250: over the 100 threshold, so it waits; nothing is refunded yet.
    login(maker)
    page.goto(payment.get_absolute_url())
    page.get_by_role("link", name="Refund").click()
    page.get_by_label("Amount").fill("250.00")
    page.get_by_label("Reason code").select_option(label="Client cancelled")
    page.locator("#id_reason").fill("Client cancelled within 30 days")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Waiting for approval: Refunds above 100.00 USD"
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund 250.00 USD")
    expect(page.get_by_role("button", name="Approve and apply")).to_have_count(0)
    assert not Transaction.objects.filter(refund_of=payment).exists()

    # Theo sees it waiting on his dashboard, opens it and approves it with a reason.
    second = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    tab = second.new_page()
    login(checker, tab)
    expect(tab.locator("#approvals-heading")).to_contain_text("1")
    tab.get_by_role("link", name="Refund 250.00 USD").first.click()
    expect(tab.get_by_text("Client cancelled within 30 days")).to_be_visible()
    tab.get_by_label("Reason for your decision").fill("Checked the cancellation ticket")
    tab.get_by_role("button", name="Approve and apply").click()
    expect(tab.get_by_text("Approved and applied")).to_be_visible()
    tab.screenshot(path=str(ARTIFACTS / "approval_approved.png"), full_page=True)

    refund = Transaction.objects.get(refund_of=payment)
    assert refund.amount_out == Decimal("250.00")
    request = ApprovalRequest.objects.get()
    assert request.status == "approved" and request.decided_by == checker

    # The trail names Mia as the one who refunded and Theo as the approver.
    second.close()
    page.context.clear_cookies()
    login(make_staff("Admin", username="ada-admin"))
    page.goto("/audit/?action=billing.refund_payment")
    page.get_by_role("row", name="Refund #").get_by_role("link").first.click()
    refund_section = page.get_by_role("region", name="billing.refund_payment")
    expect(refund_section.get_by_text("by mia", exact=True)).to_be_visible()
    expect(refund_section.get_by_text("approved by theo")).to_be_visible()
