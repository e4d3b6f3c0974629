import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Invoice, TaxRule
from core.roles import ADMIN
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_invoice_by_hand_published_paid_in_two_parts_pdf_and_every_step_in_the_feed(
    page, login, make_staff
):
    TaxRule.objects.create(level=1, name="VAT", rate=20, country="GB")
    customer = ClientFactory(first_name="Ada", last_name="Byron", currency="GBP", country="GB")
    login(make_staff(ADMIN, username="bea"))

    # A new invoice from the client's profile: two lines, totals from the server.
    page.goto(customer.get_absolute_url() + "?tab=invoices")
    page.get_by_role("link", name="New invoice").click()
    page.get_by_label("Description of line 1").fill("Website migration (hours)")
    page.get_by_label("Quantity of line 1").fill("1.5")
    page.get_by_label("Unit price of line 1").fill("40.00")
    page.get_by_role("button", name="Add a line").click()
    page.get_by_label("Description of line 2").fill("SSL certificate")
    page.get_by_label("Unit price of line 2").fill("25.00")
    page.get_by_role("button", name="Recalculate totals").click()
    expect(page.get_by_test_id("preview-total")).to_have_text("102.00 GBP")  # 85 + 20 % VAT
    page.get_by_role("button", name="Save and publish").click()

    invoice = Invoice.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {invoice.number}")
    expect(page.get_by_test_id("balance")).to_have_text("102.00 GBP")

    # A part payment, then the rest paid by a cheque banked yesterday (back-dated: a reason).
    page.get_by_role("link", name="Add payment").click()
    page.get_by_label("Amount").fill("60.00")
    page.get_by_label("Gateway").select_option("bank_transfer")
    page.get_by_label("Transaction ID", exact=True).fill("BT-7731")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id("balance")).to_have_text("42.00 GBP")

    page.get_by_role("link", name="Add payment").click()
    page.get_by_label("Gateway").select_option("cheque")
    yesterday = timezone.localtime() - dt.timedelta(days=1)
    page.get_by_label("Date", exact=False).first.fill(yesterday.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Record payment").click()
    expect(page.locator("#id_audit_reason.is-invalid")).to_be_visible()  # refused, input kept
    expect(page.get_by_label("Gateway")).to_have_value("cheque")
    page.get_by_label("Reason for this change").fill("cheque banked on Friday")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id("balance")).to_have_text("0.00 GBP")
    expect(page.locator(".badge", has_text="Paid")).to_be_visible()
    expect(page.get_by_text("back-dated")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{invoice.number}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    # The trail: the invoice's creation, publishing and payments, with the reason given.
    page.goto("/audit/?model=billing.transaction")
    rows = page.get_by_role("row")
    expect(rows.filter(has_text="BT-7731")).to_have_count(1)
    expect(rows.filter(has_text="cheque banked on Friday")).not_to_have_count(0)
    page.goto("/audit/?model=billing.invoice")
    expect(page.get_by_role("row").filter(has_text=invoice.number).first).to_be_visible()
    page.goto(invoice.get_absolute_url() + "?tab=history")
    expect(page.get_by_text("Reason: cheque banked on Friday").first).to_be_visible()
    expect(page.locator(".diff-new", has_text="Paid").first).to_be_visible()
