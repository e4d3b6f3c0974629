import pytest
from playwright.sync_api import expect

from core.roles import SUPPORT
from kb.models import Article
from tests.e2e.conftest import ARTIFACTS
from tests.factories.kb import CategoryFactory, write_article

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_write_edit_compare_publish_and_find_an_article(page, login, make_staff, live_server):
    CategoryFactory(name="Email", slug="email")
    write_article(title="Webmail login", body="Go to webmail.example.com")
    login(make_staff(SUPPORT, username="sam"))

    page.get_by_role("link", name="Knowledgebase").click()
    page.get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill("Set up email on Thunderbird")
    page.get_by_label("Category").select_option(label="Email")
    page.get_by_label("Body").fill("Use **IMAP** on port 993.\n\n<script>alert(1)</script>")
    page.get_by_label("Tags").fill("email, thunderbird")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up email on Thunderbird")
    expect(page.locator("article strong")).to_have_text("IMAP")
    article = Article.objects.get(title="Set up email on Thunderbird")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Body").fill("Use **IMAP** on port 993 and SMTP on port 465.")
    page.get_by_label("Change note").fill("SMTP port added")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Article saved as a new revision.")).to_be_visible()

    page.get_by_role("link", name="Revisions (2)").click()
    page.get_by_role("button", name="Compare").click()
    diff = page.get_by_test_id("diff")
    expect(diff).to_contain_text("+ Use **IMAP** on port 993 and SMTP on port 465.")
    expect(diff).to_contain_text("- Use **IMAP** on port 993.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kb-compare.png"), full_page=True)

    page.get_by_role("link", name=article.title).click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published.", exact=True)).to_be_visible()

    # Anyone finds it on the public knowledgebase, with the match highlighted.
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server.url + "/kb/public/")
    page.get_by_label("Search the knowledgebase").fill("thunderbird smtp")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("mark").first).to_be_visible()
    page.get_by_role("link", name="Set up email on Thunderbird").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up email on Thunderbird")
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_text("Thank you for your feedback.")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "kb-public.png"), full_page=True)
