import pytest
from playwright.sync_api import expect

from core.roles import ADMIN
from tests.factories.clients import ClientFactory, CustomFieldFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_client_with_custom_field_contact_pinned_note_then_closed_all_in_the_trail(
    page, login, make_staff
):
    ClientFactory(email="taken@example.com", first_name="Existing", last_name="Person")
    CustomFieldFactory(name="Reseller ID", regex=r"R-\d{4}", description="Format R-1234")
    login(make_staff(ADMIN, username="carol"))

    page.goto("/clients/new/")
    page.get_by_label("Email address").fill("taken@example.com")
    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("Existing Person")
    expect(warning).to_contain_text("same email")
    page.get_by_label("Email address").fill("grace@cobol.example")
    expect(warning).to_have_count(0)

    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Email a set-password link").uncheck()
    page.get_by_label("Send the welcome email").uncheck()
    page.get_by_label("Reseller ID").fill("bad")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_text("Reseller ID does not have the expected format.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Grace")
    page.get_by_label("Reseller ID").fill("R-2024")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")

    page.get_by_role("link", name="Custom fields").click()
    expect(page.get_by_text("R-2024")).to_be_visible()

    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Add contact").click()
    page.get_by_label("First name").fill("Bob")
    page.get_by_label("Last name").fill("Tech")
    page.get_by_label("Email address").fill("bob@cobol.example")
    page.get_by_label("Role").select_option("technical")
    page.get_by_label("Support emails").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="bob@cobol.example")).to_be_visible()

    page.get_by_role("link", name="Notes").click()
    page.locator("#id_body").fill("Prefers phone calls after 5pm")
    page.get_by_label("Pin to the top of the profile").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Pinned: Prefers phone calls after 5pm")).to_be_visible()

    page.get_by_role("link", name="Close client").click()
    page.get_by_label("Reason for this change").fill("moved to another provider")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("is closed")).to_be_visible()
    expect(page.locator(".badge", has_text="Closed")).to_be_visible()

    page.get_by_role("link", name="Audit trail").click()
    rows = page.get_by_role("row")
    expect(
        rows.filter(has_text="Status changed").filter(has_text="moved to another provider")
    ).to_have_count(1)
    expect(rows.filter(has_text="Note").filter(has_text="Created")).to_have_count(1)
    expect(rows.filter(has_text="Contact").filter(has_text="Bob Tech")).to_have_count(1)
    expect(rows.filter(has_text="Custom field value").filter(has_text="Created")).to_have_count(1)
    expect(rows.filter(has_text="Grace Hopper").filter(has_text="Created")).to_have_count(1)


def test_find_a_client_from_the_dashboard_picker(page, login, make_staff):
    target = ClientFactory(first_name="Zora", last_name="Neale")
    ClientFactory.create_batch(3)
    login(make_staff(ADMIN))
    page.get_by_label("Find a client").fill("zora")
    page.get_by_role("option", name="Zora Neale").click()
    expect(page).to_have_url(
        f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}/clients/{target.pk}/"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Zora Neale")
