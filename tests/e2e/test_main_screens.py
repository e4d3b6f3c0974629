import re

import pytest
from playwright.sync_api import expect

from core.roles import ADMIN, READ_ONLY
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_create_a_client_change_its_email_and_find_it_in_the_audit_trail(page, login, make_staff):
    login(make_staff(ADMIN, username="alice"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Add client").first.click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Company").fill("Analytical Engines")
    page.get_by_label("Email address").fill("ada@old.example")
    page.get_by_label("Phone number").fill("+44 20 7946 0001")
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    expect(page.get_by_role("alert")).to_contain_text("added")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Email address").fill("ada@new.example")
    page.get_by_label("Reason for this change").fill("client asked by phone")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("ada@new.example").first).to_be_visible()

    page.get_by_role("link", name="Audit trail").first.click()
    row = page.get_by_role("row").filter(has_text="Email address changed")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("client asked by phone")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("clients.update_client")
    expect(page.locator(".diff-old", has_text="ada@old.example")).to_be_visible()
    expect(page.locator(".diff-new", has_text="ada@new.example")).to_be_visible()

    page.get_by_role("link", name="Ada Lovelace (Analytical Engines)").first.click()
    page.get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(r"tab=history"))
    expect(page.locator(".diff-old", has_text="ada@old.example")).to_be_visible()
    expect(page.locator(".diff-new", has_text="ada@new.example")).to_be_visible()


def test_bad_input_is_shown_next_to_each_field_and_kept(page, login, make_staff):
    ClientFactory(email="taken@example.com")
    login(make_staff(ADMIN))
    page.goto("/clients/new/")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Email address").fill("TAKEN@example.com")
    page.get_by_label("Phone number").fill("12")
    page.get_by_role("button", name="Add client").click()
    expect(page.locator("#error_1_id_last_name")).to_have_text("This field is required.")
    expect(page.locator("#error_1_id_phone")).to_contain_text("valid phone number")
    expect(page.get_by_text("Another client already uses this email address.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Grace")
    expect(page.get_by_label("Email address")).to_have_value("TAKEN@example.com")


def test_client_search_narrows_the_list_as_you_type(page, login, make_staff):
    ClientFactory(last_name="Zwicky")
    ClientFactory.create_batch(3, last_name="Other")
    login(make_staff(READ_ONLY))
    page.goto("/clients/")
    expect(page.get_by_role("row")).to_have_count(5)
    page.get_by_label("Search").fill("zwi")
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile("Zwicky"))).to_be_visible()


def test_read_only_staff_cannot_open_the_audit_trail(page, login, make_staff):
    login(make_staff(READ_ONLY))
    expect(page.get_by_role("link", name="Audit trail")).to_have_count(0)
    response = page.goto("/audit/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You don’t have access to this page")


def test_admin_reviews_staff_sessions_and_filters_the_feed(page, login, make_staff):
    admin = make_staff(ADMIN, username="rev")
    ClientFactory(last_name="Feedtest")
    login(admin)
    page.get_by_role("link", name="Staff sessions").click()
    rows = page.get_by_role("row").filter(has_text="rev")
    expect(rows.filter(has_text="Logged in")).to_have_count(1)
    expect(rows.filter(has_text="Second factor passed")).to_have_count(1)
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Record type").select_option("clients.client")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("row").filter(has_text="Feedtest")).to_have_count(1)
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", re.compile("model=clients.client")
    )


def test_a_client_added_with_its_emails_reads_as_one_entry_with_a_section_per_action(
    page, login, make_staff
):
    login(make_staff(ADMIN, username="carol"))
    page.goto("/clients/new/")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Phone number").fill("+44 20 7946 0002")
    page.get_by_label("Country").select_option("GB")
    # The welcome email and the set-password link stay ticked, as they come.
    expect(page.get_by_label("Send the welcome email")).to_be_checked()
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")

    page.goto("/audit/?model=clients.client&operation=insert")
    # Nothing sealed yet on a fresh trail: the page says so rather than implying it is checked.
    expect(page.locator("#seal-status")).to_contain_text("Never sealed")
    row = page.get_by_role("row").filter(has_text="Grace Hopper")
    expect(row.locator("code")).to_have_text("clients.create_client")
    expect(row).to_contain_text("Created")
    row.get_by_role("link").first.click()
    sections = page.locator("section.audit-section")
    expect(sections.first.locator(".badge").first).to_have_text("clients.create_client")
    expect(sections.first).to_contain_text("Grace Hopper")
    assert sections.count() > 1  # the emails are their own actions of the same request


def test_a_name_with_a_right_to_left_override_stays_in_its_place(page, login, make_staff):
    from tests.factories.billing import make_invoice

    login(make_staff(ADMIN, username="demo-admin"))
    evil = ClientFactory(first_name="\u202eEvil", last_name="Smith", company_name="")
    make_invoice(evil)
    page.goto(evil.get_absolute_url())
    # The words after the name keep their order: the breadcrumb still ends in the name, and
    # the summary's "Client since" line reads left to right.
    crumb = page.locator(".breadcrumb")
    expect(crumb).to_contain_text("Clients")
    box_name = page.get_by_role("heading", level=1).bounding_box()
    assert box_name is not None and box_name["width"] > 0
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "right_to_left_profile.png"))
    page.goto("/clients/?q=Smith")
    row = page.get_by_role("row").filter(has_text="Smith").first
    expect(row).to_be_visible()


def test_a_colleagues_change_made_while_the_form_is_open_is_shown_not_overwritten(
    page, login, make_staff
):
    from clients import services as client_services
    from clients.models import Client

    login(make_staff(ADMIN, username="alice"))
    colleague = make_staff(ADMIN, username="bea")
    customer = ClientFactory(first_name="Ada", last_name="Lovelace", email="ada@old.example")
    page.goto(f"/clients/{customer.pk}/edit/")
    page.get_by_label("Company").fill("Analytical Engines")
    # Meanwhile, Bea changes the email from her own screen.
    client_services.update_client(
        client=customer, data={"email": "ada@new.example"}, actor=colleague
    )
    page.get_by_role("button", name="Save changes").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("While you had this form open, bea changed this client")
    expect(alert).to_contain_text("ada@new.example")
    expect(page.get_by_label("Company")).to_have_value("Analytical Engines")
    assert Client.objects.get(pk=customer.pk).company_name != "Analytical Engines"
    page.get_by_role("button", name="Save changes").click()  # having seen it
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    saved = Client.objects.get(pk=customer.pk)
    assert (saved.company_name, saved.email) == ("Analytical Engines", "ada@new.example")
