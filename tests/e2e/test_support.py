import datetime as dt

import pytest
from playwright.sync_api import expect

from core.roles import ADMIN
from support.models import Communication, Ticket, TicketReply
from tests.e2e.conftest import ARTIFACTS
from tests.factories.clients import ClientFactory
from tests.factories.support import PNG, DepartmentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_ticket_with_attachment_reply_note_call_and_the_timeline(page, login, make_staff, tmp_path):
    DepartmentFactory(name="Technical support")
    customer = ClientFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    staff = make_staff(ADMIN, username="olivia")
    login(staff)
    screenshot = tmp_path / "bounce.png"
    screenshot.write_bytes(PNG)

    # Open a ticket from the client's profile, with a screenshot attached.
    page.goto(customer.get_absolute_url() + "?tab=tickets")
    page.get_by_role("link", name="Open a ticket").click()
    page.get_by_label("Department").select_option(label="Technical support")
    page.get_by_label("Subject").fill("Email <b>bouncing</b>")
    page.get_by_label("Message").fill("Mail to info@ bounces since Monday.")
    page.get_by_label("Priority").select_option("high")
    page.get_by_label("Attachments").set_input_files(str(screenshot))
    page.get_by_role("button", name="Open ticket").click()
    ticket = Ticket.objects.get()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"#{ticket.number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Email <b>bouncing</b>")
    expect(page.get_by_role("link", name="bounce.png")).to_be_visible()

    # Reply to the client, then add an internal note.
    page.get_by_label("Reply to the client", exact=True).check()
    page.get_by_label("Message").fill("We raised the mailbox quota; please try again.")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Reply added and emailed to ada@example.com")).to_be_visible()
    page.get_by_label("Internal note (staff only, never emailed)").check()
    page.get_by_label("Message").fill("Second time this month: check the server's disk.")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Internal note added (not emailed).")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED
    assert [r.kind for r in ticket.replies.order_by("id")] == [
        TicketReply.Kind.STAFF,
        TicketReply.Kind.NOTE,
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ticket.png"), full_page=True)

    # Log the phone call that followed, with a follow-up for tomorrow.
    page.get_by_role("link", name="Log a call…").click()
    page.get_by_label("Inbound (the client contacted us)").check()
    page.get_by_label("Duration (minutes)").fill("8")
    page.get_by_label("Summary").fill("Ada called: mail works again, wants a bigger plan.")
    page.get_by_label("Outcome").select_option("follow_up")
    page.get_by_label("Follow-up date").fill((dt.date.today() + dt.timedelta(days=1)).isoformat())
    page.get_by_label("Follow-up owner").select_option(label="olivia")
    page.get_by_role("button", name="Log it").click()
    entry = Communication.objects.get()
    assert entry.ticket == ticket and entry.follow_up_owner == staff

    # The client timeline shows all of it, newest first.
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Ada called: mail works again")
    expect(timeline).to_contain_text("Second time this month")
    expect(timeline).to_contain_text("We raised the mailbox quota")
    expect(timeline).to_contain_text(f"Ticket opened: #{ticket.number}")
    expect(timeline).to_contain_text("Support ticket to ada@example.com")
    page.screenshot(path=str(ARTIFACTS / "client-timeline.png"), full_page=True)
    page.get_by_label("Tickets", exact=True).check()
    page.get_by_role("button", name="Apply").click()
    expect(timeline.locator(":scope > li")).to_have_count(1)

    # And in the audit feed, attributed to the staff member.
    page.goto("/audit/")
    feed = page.locator("table")
    expect(
        feed.get_by_role("link", name=f"#{ticket.number} Email <b>bouncing</b>").first
    ).to_be_visible()
    # A reply is named by its ticket's number and subject, not the ticket's id.
    expect(feed.get_by_text(f"Internal note on #{ticket.number} Email")).to_be_visible()
    expect(feed.get_by_text(f"Communication #{entry.pk}")).to_be_visible()
    expect(feed).to_contain_text("olivia")


def test_queue_my_tickets_and_follow_ups_due(page, login, make_staff):
    from django.utils import timezone

    from support import services
    from tests.factories.support import CommunicationFactory, open_ticket

    sam = make_staff("Support", username="sam")
    mine = open_ticket(actor=sam, assignee=sam, subject="Disk quota on web3")
    open_ticket(actor=sam, subject="DNS not resolving", priority="high")
    closed = open_ticket(actor=sam, subject="Old question")
    services.change_ticket_status(ticket=closed, status="closed", actor=sam)
    CommunicationFactory(
        client=mine.client,
        follow_up_on=timezone.localdate() - dt.timedelta(days=1),
        follow_up_owner=sam,
        summary="Call back about the quota",
    )
    login(sam)

    page.get_by_role("link", name="Tickets", exact=True).click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)  # awaiting action: the closed one is not there
    expect(page.get_by_role("link", name="Closed", exact=True)).to_be_visible()
    page.get_by_role("link", name="My tickets 1").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Disk quota on web3")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ticket-queue.png"), full_page=True)

    page.goto("/")
    expect(page.get_by_text("Call back about the quota")).to_be_visible()
    page.get_by_role("link", name="All (1)").click()
    expect(page.get_by_text("overdue", exact=True)).to_be_visible()
    page.get_by_label("What came of it").fill("Quota raised, client happy")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("Follow-up done.")).to_be_visible()
    expect(page.get_by_text("Nothing to follow up.")).to_be_visible()
