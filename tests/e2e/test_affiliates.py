import datetime as dt

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from affiliates.models import Affiliate, Commission, Payout
from core.roles import BILLING
from tests.e2e.conftest import ARTIFACTS
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_enrol_refer_clear_and_pay_a_commission(page, login, make_staff):
    partner = ClientFactory(first_name="Paula", last_name="Partner", company_name="Resell Ltd")
    ClientFactory(first_name="Rita", last_name="Referred", currency="GBP")
    login(make_staff(BILLING, username="bea"))

    page.goto(partner.get_absolute_url() + "?tab=affiliate")
    page.get_by_role("link", name="Enrol as affiliate").click()
    page.get_by_label("Commission type").select_option("fixed")
    page.get_by_label("Commission", exact=True).fill("12.00")
    page.get_by_label("Payout threshold").fill("10.00")
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Affiliate RESELLLTD")
    affiliate = Affiliate.objects.get()

    page.get_by_role("link", name="Add referral").click()
    page.get_by_label("Client").fill("rita")
    page.get_by_role("option", name="Rita Referred").click()
    page.get_by_role("button", name="Add referral").click()
    expect(page.get_by_text("Referral added.")).to_be_visible()
    expect(page.locator("#referrals")).to_contain_text("Rita Referred")

    page.get_by_role("link", name="Add commission").click()
    page.get_by_label("Amount").fill("12.00")
    page.get_by_label("Note").fill("Referred Rita (signed up by phone)")
    page.get_by_label("Clears on").fill(dt.date.today().isoformat())
    page.get_by_role("button", name="Add commission").click()
    expect(page.locator("#commissions")).to_contain_text("Pending")

    call_command("clear_commissions")  # the daily job
    page.reload()
    expect(page.locator("#commissions")).to_contain_text("Cleared")
    expect(page.get_by_test_id("balance")).to_have_text("12.00 GBP")

    page.get_by_role("link", name="Record payout").click()
    page.get_by_label("Amount").fill("12.00")
    page.get_by_label("Credit on the affiliate's client account").check()
    page.get_by_label("Reason code").select_option(label="Scheduled payout")
    page.get_by_role("button", name="Record payout").click()
    expect(page.get_by_test_id("balance")).to_have_text("0.00 GBP")
    expect(page.locator("#commissions")).to_contain_text("Paid")
    assert Payout.objects.get().credit_entry is not None
    assert Commission.objects.get().status == "paid"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "affiliate.png"), full_page=True)
    assert affiliate.client == partner
