import pytest
from playwright.sync_api import expect

from core.roles import ADMIN
from demo.hosting import load_starter_catalog
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_hosting_account_and_domain_by_hand_then_suspended_all_in_history_and_feed(
    page, login, make_staff
):
    load_starter_catalog()
    customer = ClientFactory(first_name="Hedy", last_name="Lamarr", currency="GBP")
    login(make_staff(ADMIN, username="dana"))
    page.goto(customer.get_absolute_url())

    page.get_by_role("link", name="Products/Services").click()
    page.get_by_role("link", name="Add hosting account").click()
    page.get_by_label("Product").select_option(label="Business")
    page.get_by_label("Server").select_option(label="web01")
    page.get_by_label("Domain").fill("Lamarr-Radio.com")
    page.get_by_label("Username").fill("hedy")
    page.get_by_label("Account password").fill("Frequency-Hop-1942")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Business")
    expect(page.get_by_text("9.99 GBP").first).to_be_visible()

    page.get_by_role("link", name="Suspend").click()
    page.get_by_label("Reason for this change").fill("unpaid invoice 1042")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text="Suspended:")).to_contain_text(
        "unpaid invoice 1042"
    )

    page.get_by_role("link", name="History").click()
    expect(page.get_by_text("Reason: unpaid invoice 1042")).to_be_visible()
    expect(page.locator(".diff-new", has_text="Suspended")).to_be_visible()

    page.goto(customer.get_absolute_url() + "?tab=domains")
    page.get_by_role("link", name="Add domain").click()
    page.get_by_label("Domain name").fill("Hedy-Lamarr.co.uk")
    page.get_by_label("Order type").select_option("register")
    page.get_by_label("Name server 1").fill("ns1.example.net")
    page.get_by_label("Name server 2").fill("ns2.example.net")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("hedy-lamarr.co.uk")

    page.goto(customer.get_absolute_url() + "?tab=history")
    page.get_by_role("link", name="Audit trail").click()
    rows = page.get_by_role("row")
    suspended = rows.filter(has_text="Suspension reason").filter(has_text="unpaid invoice 1042")
    expect(suspended).to_have_count(1)
    expect(rows.filter(has_text="hedy-lamarr.co.uk").filter(has_text="Created")).to_have_count(1)
    expect(rows.filter(has_text="lamarr-radio.com").filter(has_text="Created")).to_have_count(1)
