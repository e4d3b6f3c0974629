"""Browser: a Support user sees on a hosting account who changed its price and why, and the
account's history (its add-ons included), without breaking the CSP."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from core.roles import ADMIN, SUPPORT
from hosting.services import add_addon, update_service
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_sign_in import WATCH_CSP
from tests.factories.clients import ClientFactory
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import make_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_support_sees_who_changed_a_service_price_and_why(page, login, make_staff):
    catalog = make_catalog()
    customer = ClientFactory(first_name="Grace", last_name="Hopper", currency="GBP")
    service = ServiceFactory(
        client=customer,
        product=catalog.basic,
        domain="compilerworks.co.uk",
        recurring_amount=Decimal("5.00"),
    )
    bea = make_staff(ADMIN, username="bea")
    update_service(
        service=service,
        data={"recurring_amount": Decimal("3.50")},
        actor=bea,
        reason="loyalty discount, ticket ABC-123456",
    )
    add_addon(
        service=service,
        data={
            "definition": catalog.backup,
            "billing_cycle": "monthly",
            "recurring_price": Decimal("2.00"),
        },
        actor=bea,
        reason="asked by phone",
    )
    page.add_init_script(WATCH_CSP)
    login(make_staff(SUPPORT, username="sam"))
    page.goto(service.get_absolute_url())

    expect(page.locator(".prov-line")).to_contain_text("Last changed by bea")
    marker = page.locator('details.prov-marker[data-field="recurring_amount"]')
    expect(marker).to_be_visible()
    marker.locator("summary").click()
    card = marker.locator(".prov-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("changed by bea")
    expect(card).to_contain_text("loyalty discount, ticket ABC-123456")
    expect(card).to_contain_text("5.00")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "provenance-marker.png"), full_page=True)

    card.get_by_role("link", name="All changes").click()
    history = page.locator("article[data-record]")
    expect(history.filter(has_text="loyalty discount, ticket ABC-123456")).to_have_count(1)
    expect(history.filter(has_text="Daily backups on compilerworks.co.uk")).to_have_count(1)
    # Support reads the record's history; the trail's entry pages stay Admin-only.
    expect(page.get_by_role("link", name="entry")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "provenance-history.png"), full_page=True)
    assert page.evaluate("window.__cspViolations") == []
