from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Invoice
from core.roles import ADMIN
from hosting.models import Domain, Service
from orders.models import Order, ServiceChange
from tests.e2e.conftest import ARTIFACTS
from tests.factories.clients import ClientFactory
from tests.factories.orders import make_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_order_preview_accept_pay_then_upgrade_with_a_proration_invoice(page, login, make_staff):
    make_catalog()  # Basic 5.00 + 1.00 setup, Pro 15.00 a month, .com 10.00
    customer = ClientFactory(first_name="Grace", last_name="Hopper", currency="GBP")
    login(make_staff(ADMIN, username="olivia"))

    # A two-line order from the client's profile: a hosting plan and its domain.
    page.goto(customer.get_absolute_url() + "?tab=orders")
    page.get_by_role("link", name="New order").click()
    page.locator("#id_products-0-product").select_option(label="Basic")
    page.locator("#id_products-0-hostname").fill("grace.com")
    page.get_by_role("button", name="Add a domain").click()
    page.locator("#id_domains-0-name").fill("grace.com")
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("order-preview")
    expect(preview).to_contain_text("Hosting account: Basic - grace.com")
    expect(preview).to_contain_text("Domain: grace.com")
    expect(page.get_by_test_id("preview-total")).to_have_text("16.00 GBP")
    assert Order.objects.count() == 0  # the preview saved nothing
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "order-preview.png"), full_page=True)

    # Saved as pending, then accepted with one invoice for both lines.
    page.get_by_role("button", name="Place order").click()
    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order #{order.pk}")
    page.get_by_role("link", name="Accept order").click()
    page.get_by_label("Accounts, domains and add-ons start as").select_option("active")
    page.get_by_label("Generate one invoice").check()
    page.get_by_label("Email the invoice").uncheck()
    page.get_by_role("button", name="Accept order").click()
    expect(page.get_by_text("accepted.")).to_be_visible()
    order.refresh_from_db()
    invoice = order.invoice
    assert invoice.total == Decimal("16.00")
    assert Service.objects.get().status == "active" and Domain.objects.get().status == "active"

    # Pay the order's invoice.
    page.get_by_role("link", name=str(invoice)).first.click()
    page.get_by_role("link", name="Add payment").click()
    page.get_by_label("Gateway").select_option("bank_transfer")
    page.get_by_label("Transaction ID", exact=True).fill("BT-1001")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id("balance")).to_have_text("0.00 GBP")

    # Upgrade the account: the proration shows before anything is saved.
    service = Service.objects.get()
    page.goto(service.get_absolute_url())
    page.get_by_role("link", name="Upgrades & cancellation").click()
    page.get_by_role("link", name="Upgrade / downgrade").click()
    page.get_by_label("New product").select_option(label="Pro")
    page.get_by_role("button", name="Preview proration").click()
    expect(page.get_by_test_id("proration-difference")).to_have_text("10.00 GBP")
    assert ServiceChange.objects.count() == 0
    page.get_by_label("Email the proration invoice").uncheck()
    page.get_by_role("button", name="Confirm change").click()
    change = ServiceChange.objects.get()
    expect(page.get_by_text(f"happens when invoice {change.invoice} is paid")).to_be_visible()
    expect(page.get_by_role("table", name="Changes")).to_contain_text("Upgrade")
    expect(page.get_by_text("Upgrade to Pro waiting for invoice")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "service-changes-tab.png"), full_page=True)
    page.get_by_role("link", name=str(change.invoice)).click()
    expect(page.get_by_test_id("balance")).to_have_text("10.00 GBP")
    assert Invoice.objects.count() == 2
