"""Reason codes in the browser: credit given with a code, then counted on the report."""

import pytest
from playwright.sync_api import expect

from core.roles import ADMIN
from tests.e2e.conftest import ARTIFACTS
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_credit_with_a_reason_code_is_counted_on_the_report(page, login, make_staff):
    customer = ClientFactory(first_name="Ada", last_name="Byron", currency="GBP")
    login(make_staff(ADMIN, username="bea"))
    page.goto(f"/billing/clients/{customer.pk}/credit/")
    page.get_by_label("Amount").fill("25.00")
    page.get_by_role("button", name="Save").click()  # no code chosen: refused, input kept
    expect(page.locator("#id_reason_code.is-invalid")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("25.00")
    page.get_by_label("Reason code").select_option(label="SLA compensation")
    page.locator("#id_reason").fill("Four hours of downtime on the 3rd")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Credit updated.")).to_be_visible()

    page.goto("/audit/reasons/")
    row = page.get_by_role("row", name="SLA compensation")
    expect(row.first).to_contain_text("25.00 GBP")
    page.screenshot(path=str(ARTIFACTS / "reason-codes-report.png"), full_page=True)
    page.get_by_role("link", name="SLA compensation").first.click()
    expect(page.get_by_text("Four hours of downtime on the 3rd").first).to_be_visible()
