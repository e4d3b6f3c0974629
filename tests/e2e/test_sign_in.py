"""Browser: enrol a second factor and sign in with it; no page breaks the CSP."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from core.roles import ADMIN
from tests.factories.clients import ClientFactory, ClientGroupFactory
from tests.factories.second_factor import current_code
from tests.factories.users import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Collected before any script of the page runs; a violation of the policy lands here.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.lineNumber}`);
});
"""


def password_login(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_enrol_then_sign_in_with_a_code_from_the_app(page, make_staff):
    admin = make_staff(ADMIN, username="ada")
    password_login(page, "ada")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your second factor")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    # The page goes nowhere else until the factor is set up.
    page.goto("/clients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your second factor")

    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert page.locator("#totp-secret").inner_text() in device.config_url
    page.get_by_label("Code from the app").fill(current_code(device))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have kept them — continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")  # where it was going

    page.get_by_role("button", name="Log out").click()
    password_login(page, "ada")
    expect(page.get_by_role("heading", level=1)).to_have_text("Second factor")
    device.refresh_from_db()
    # The code used to confirm cannot be used again: the app's next one (drift of one step).
    page.get_by_label("Code").fill(current_code(device, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def test_no_page_reports_a_content_security_policy_violation(page, login, make_staff):
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(WATCH_CSP)
    customer = ClientFactory(first_name="Ada", group=ClientGroupFactory(colour="#884400"))
    login(make_staff(ADMIN, username="carol"))
    for url in (
        "/",
        "/clients/",
        f"/clients/{customer.pk}/",
        "/clients/new/",
        "/billing/invoices/",
        "/billing/invoices/new/",
        reverse("support:ticket-list"),
        reverse("kb:article-list"),
        "/audit/",
        "/audit/staff-sessions/",
        "/accounts/staff/",
        "/accounts/enrol/",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], (url, violations)
    assert errors == []
    page.goto(f"/clients/{customer.pk}/")
    badge = page.locator("[data-badge-colour]").first
    expect(badge).to_have_css("background-color", "rgb(136, 68, 0)")
