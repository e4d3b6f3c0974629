"""Browser: an Admin reverts a client's edited email from the audit entry page."""

import pytest
from playwright.sync_api import expect

from clients.models import Client
from clients.services import update_client
from core.roles import ADMIN
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_sign_in import WATCH_CSP
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_reverts_a_clients_edited_email_from_the_entry_page(page, login, make_staff):
    customer = ClientFactory(first_name="Grace", last_name="Hopper", email="grace@navy.mil")
    bea = make_staff(ADMIN, username="bea")
    update_client(
        client=customer, data={"email": "grace@wrong.example"}, actor=bea, reason="typed in call"
    )
    page.add_init_script(WATCH_CSP)
    login(make_staff(ADMIN, username="ada"))
    page.goto(customer.get_absolute_url() + "?tab=history")
    page.get_by_role("link", name="entry").first.click()
    expect(page.locator("h1")).to_contain_text("clients.update_client")
    page.get_by_role("link", name="Revert…").click()

    expect(page.locator("h1")).to_have_text("Revert this edit")
    preview = page.locator("#preview-heading").locator("xpath=../..")
    expect(preview).to_contain_text("grace@wrong.example")
    expect(preview).to_contain_text("grace@navy.mil")
    page.get_by_label("Reason").fill("wrong address, the client confirmed the old one")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "revert-preview.png"), full_page=True)
    page.get_by_role("button", name="Revert").click()

    expect(page.locator(".alert-success")).to_contain_text("The edit was reverted.")
    expect(page.locator(".revert-link")).to_contain_text("Reverts entry")
    expect(page.get_by_text("wrong address, the client confirmed the old one")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "revert-done.png"), full_page=True)
    assert Client.objects.get(pk=customer.pk).email == "grace@navy.mil"

    page.locator(".revert-link a").click()
    expect(page.locator(".revert-link")).to_contain_text("Reverted by entry")
    page.screenshot(path=str(ARTIFACTS / "revert-original.png"), full_page=True)
    assert page.evaluate("window.__cspViolations") == []
