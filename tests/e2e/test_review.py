"""A reviewer clears the review queue: the count on the dashboard, the queue with each entry's
diff, one entry escalated and then decided, nothing left."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from billing import services as billing
from core.roles import ADMIN, BILLING, SUPPORT
from review.models import FlaggedEntry, ReviewDecision, ReviewRule
from review.rules import ensure_default_rules
from tests.e2e.conftest import ARTIFACTS
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_clears_the_queue(page, login, make_staff):
    ensure_default_rules()
    # The test's own set-up (factories, logins) writes outside any context and at any hour:
    # those two rules would flag it; what is reviewed here is bea's money.
    ReviewRule.objects.filter(key__in=["unattributed", "outside_hours"]).update(enabled=False)
    bea = make_staff(BILLING, username="bea")
    customer = ClientFactory(first_name="Olga", last_name="Owens", currency="GBP")
    billing.add_credit(
        client=customer, amount=Decimal("750.00"), reason="SLA compensation", actor=bea
    )
    invoice = make_invoice(customer, lines=[("1", "900.00")], actor=bea)
    payment = pay(invoice, actor=bea)
    billing.refund_payment(payment=payment, actor=bea, reason="cancelled within 14 days")

    sam = make_staff(SUPPORT, username="sam")
    # An Admin gave Support the right on the Roles page.
    Group.objects.get(name=SUPPORT).permissions.add(
        Permission.objects.get(content_type__app_label="review", codename="review_entry")
    )

    # A support reviewer reads the trail, clears the credit and escalates the refund.
    login(sam)
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("button", name="Scan the trail now").click()
    expect(page.get_by_text("newly flagged")).to_be_visible()
    credit = page.locator("article.review-entry", has_text="Credit of 750.00 GBP added")
    expect(credit).to_contain_text("SLA compensation")
    expect(credit.locator(".diff-new").first).to_be_visible()
    refund = page.locator("article.review-entry", has_text="Refund of 900.00 GBP")
    expect(refund).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-queue-waiting.png"), full_page=True)
    credit.get_by_label("Note").fill("Matches the outage ticket")
    credit.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_text("Decision recorded.")).to_be_visible()
    refund.get_by_label("Note").fill("Full refund: Admins to confirm")
    refund.get_by_role("button", name="Escalate").click()
    expect(refund).to_contain_text("Escalated: an Admin decides on it.")

    # An Admin sees what waits on the dashboard and decides on the escalated entry.
    page.context.clear_cookies()
    ada = make_staff(ADMIN, username="ada")
    login(ada)
    expect(page.get_by_role("link", name="1 escalated to Admins")).to_be_visible()
    page.get_by_role("link", name="Review queue").click()
    refund = page.locator("article.review-entry", has_text="Refund of 900.00 GBP")
    expect(refund).to_contain_text("Full refund: Admins to confirm")
    refund.get_by_label("Note").fill("Confirmed with the client's cancellation email")
    refund.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_text("Nothing waiting for review.")).to_be_visible()
    page.get_by_label("State").select_option("reviewed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("article.review-entry")).to_have_count(
        FlaggedEntry.objects.filter(status="reviewed").count()
    )
    page.screenshot(path=str(ARTIFACTS / "review-queue-cleared.png"), full_page=True)
    assert FlaggedEntry.objects.open().count() == 0
    assert ReviewDecision.objects.count() == 3
