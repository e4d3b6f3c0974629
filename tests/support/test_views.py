from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from clients.models import Note
from support import services
from support.models import Communication, Ticket, TicketAttachment
from tests.factories.clients import ClientFactory
from tests.factories.support import (
    CommunicationFactory,
    DepartmentFactory,
    open_ticket,
    png,
    text_file,
)
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def department():
    return DepartmentFactory(name="Technical support")


@pytest.fixture
def support_user():
    return StaffFactory(role="Support", username="sam")


@pytest.fixture
def support_http(support_user):
    http = HttpClient()
    http.force_login(support_user)
    return http


def _ticket_post(department, **overrides):
    data = {
        "department": department.pk,
        "subject": "Mailbox full",
        "message": "Client cannot receive mail.",
        "priority": "high",
        "cc": "",
        "assignee": "",
        "contact": "",
        "service": "",
        "domain": "",
        "private_note": "",
        "opened_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "reason": "",
    }
    data.update(overrides)
    return data


# Opening -------------------------------------------------------------------------------------


def test_open_ticket_page_asks_for_the_client_first(support_http):
    response = support_http.get(reverse("support:ticket-create"))
    assert response.status_code == 200
    assert b"Someone who is not a client" in response.content


def test_open_ticket_for_a_client_with_an_attachment(support_http, department, support_user):
    customer = ClientFactory()
    Note.objects.create(client=customer, author=support_user, body="Always call first", pinned=True)
    url = reverse("support:ticket-create") + f"?client={customer.pk}"
    page = support_http.get(url)
    assert b"Always call first" in page.content  # pinned notes at the top
    response = support_http.post(url, {**_ticket_post(department), "attachments": [png()]})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    assert ticket.client == customer and ticket.priority == "high"
    assert ticket.attachments.get().name == "screenshot.png"
    detail = support_http.get(ticket.get_absolute_url())
    assert detail.status_code == 200
    assert ticket.number.encode() in detail.content and b"Always call first" in detail.content


def test_open_ticket_for_a_non_client(support_http, department):
    url = reverse("support:ticket-create") + "?guest=1"
    response = support_http.post(
        url, _ticket_post(department, name="Grace Hopper", email="grace@example.org")
    )
    assert response.status_code == 302
    assert Ticket.objects.get().client is None


def test_bad_ticket_input_comes_back_with_the_input_and_saves_nothing(support_http, department):
    customer = ClientFactory()
    url = reverse("support:ticket-create") + f"?client={customer.pk}"
    earlier = (timezone.localtime() - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = support_http.post(
        url,
        _ticket_post(department, subject="Keep this subject", opened_at=earlier, cc="nope"),
    )
    assert response.status_code == 400
    assert b"Keep this subject" in response.content
    form = response.context["form"]
    assert "cc" in form.errors or "reason" in form.errors
    assert not Ticket.objects.exists()


def test_oversized_attachment_error_is_next_to_the_field(support_http, department, settings):
    settings.TICKET_ATTACHMENT_MAX_BYTES = 10
    customer = ClientFactory()
    url = reverse("support:ticket-create") + f"?client={customer.pk}"
    response = support_http.post(
        url, {**_ticket_post(department), "attachments": [text_file("big.log", b"x" * 50)]}
    )
    assert response.status_code == 400
    assert "big.log" in str(response.context["form"].errors["attachments"])
    assert not Ticket.objects.exists() and not TicketAttachment.objects.exists()


def test_html_in_subject_and_message_is_shown_as_text(support_http, support_user):
    ticket = open_ticket(
        actor=support_user,
        subject="<script>alert('s')</script>",
        message="<img src=x onerror=alert(1)>",
    )
    services.add_reply(ticket=ticket, kind="staff", message="<b>bold?</b>", actor=support_user)
    for url in (
        ticket.get_absolute_url(),
        reverse("support:ticket-list"),
        ticket.client.get_absolute_url() + "?tab=timeline",
    ):
        content = support_http.get(url).content
        assert b"<script>alert" not in content and b"<img src=x" not in content
        assert b"<b>bold?</b>" not in content
    assert b"&lt;script&gt;alert" in support_http.get(ticket.get_absolute_url()).content


# Attachments ---------------------------------------------------------------------------------


def test_attachment_download_needs_permission_and_department_access(support_user, client_as):
    ticket = open_ticket(actor=support_user, attachments=[png()])
    url = ticket.attachments.get().get_absolute_url()
    anonymous = HttpClient().get(url)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert client_as(None).get(url).status_code == 403  # staff without a role
    ok = client_as("Support").get(url)
    assert ok.status_code == 200
    assert ok["Content-Disposition"].startswith('attachment; filename="screenshot.png"')
    assert ok["X-Content-Type-Options"] == "nosniff"
    # A department restricted to Billing hides the ticket and its files from Support.
    ticket.department.roles.add(Group.objects.get(name="Billing"))
    assert client_as("Support").get(url).status_code == 404
    assert client_as("Billing").get(url).status_code == 200


def test_attachment_missing_on_disk_is_a_404_not_a_500(support_user, support_http):
    ticket = open_ticket(actor=support_user, attachments=[png()])
    attachment = ticket.attachments.get()
    attachment.file.storage.delete(attachment.file.name)
    assert support_http.get(attachment.get_absolute_url()).status_code == 404


# Replies and status ----------------------------------------------------------------------------


def test_reply_and_internal_note_through_the_form(
    support_http, support_user, django_capture_on_commit_callbacks
):
    ticket = open_ticket(actor=support_user)
    mail.outbox.clear()
    url = reverse("support:ticket-reply", args=[ticket.number])
    with django_capture_on_commit_callbacks(execute=True):
        reply = support_http.post(
            url, {"kind": "staff", "message": "Restarted PHP", "send_email": "on", "new_status": ""}
        )
        note = support_http.post(
            url, {"kind": "note", "message": "Server 3 again", "new_status": ""}
        )
    assert reply.status_code == 302 and note.status_code == 302
    assert len(mail.outbox) == 1 and "Server 3" not in mail.outbox[0].body
    page = support_http.get(ticket.get_absolute_url()).content.decode()
    assert "Restarted PHP" in page and "Internal note" in page and "Server 3 again" in page


def test_empty_reply_comes_back_with_an_error(support_http, support_user):
    ticket = open_ticket(actor=support_user)
    response = support_http.post(
        reverse("support:ticket-reply", args=[ticket.number]),
        {"kind": "staff", "message": "", "new_status": ""},
    )
    assert response.status_code == 400 and "message" in response.context["reply_form"].errors


def test_close_and_reopen_pages(support_http, support_user):
    ticket = open_ticket(actor=support_user)
    url = reverse("support:ticket-status", args=[ticket.number])
    assert support_http.post(url, {"status": "closed"}).status_code == 302
    refused = support_http.post(url, {"status": "open", "audit_reason": ""})
    assert refused.status_code == 400
    assert (
        support_http.post(url, {"status": "open", "audit_reason": "Came back"}).status_code == 302
    )
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_read_only_staff_see_tickets_but_cannot_open_or_reply(client_as, support_user):
    ticket = open_ticket(actor=support_user)
    http = client_as("Read-only")
    assert http.get(ticket.get_absolute_url()).status_code == 200
    assert http.get(reverse("support:ticket-create")).status_code == 403
    assert (
        http.post(
            reverse("support:ticket-reply", args=[ticket.number]), {"kind": "staff", "message": "x"}
        ).status_code
        == 403
    )


def test_unknown_ticket_number_is_a_404(support_http):
    assert (
        support_http.get(reverse("support:ticket-detail", args=["ZZZ-000000"])).status_code == 404
    )


# Queue -----------------------------------------------------------------------------------------


def test_queue_filters_counts_and_my_tickets(support_http, support_user):
    mine = open_ticket(actor=support_user, assignee=support_user, subject="Mine")
    closed = open_ticket(actor=support_user, subject="Closed one")
    services.change_ticket_status(ticket=closed, status="closed", actor=support_user)
    open_ticket(actor=support_user, subject="Someone else's", priority="low")
    url = reverse("support:ticket-list")
    response = support_http.get(url)
    assert [t.subject for t in response.context["object_list"]] == ["Someone else's", "Mine"]
    assert response.context["mine_count"] == 1 and response.context["awaiting_count"] == 2
    counts = {value: n for value, _label, n in response.context["status_counts"]}
    assert counts["closed"] is None and counts["open"] == 2  # closed ones are not counted
    assert list(support_http.get(url + "?assignee=me").context["object_list"]) == [mine]
    assert list(support_http.get(url + "?status=closed").context["object_list"]) == [closed]
    assert [t.subject for t in support_http.get(url + "?priority=low").context["object_list"]] == [
        "Someone else's"
    ]
    by_number = support_http.get(url + f"?number=%23{mine.number.lower()}&view=all")
    assert list(by_number.context["object_list"]) == [mine]
    by_client = support_http.get(url + f"?client={mine.client_id}&view=all")
    assert list(by_client.context["object_list"]) == [mine]


def test_queue_sorts_by_last_activity(support_http, support_user):
    old = open_ticket(actor=support_user, subject="Old")
    open_ticket(actor=support_user, subject="New")
    services.add_reply(ticket=old, kind="client", message="Any news?", actor=support_user)
    rows = support_http.get(reverse("support:ticket-list")).context["object_list"]
    assert [t.subject for t in rows] == ["Old", "New"]


def test_queue_hides_departments_of_other_roles(client_as, support_user):
    hidden = DepartmentFactory(name="Accounts")
    hidden.roles.add(Group.objects.get(name="Billing"))
    admin = StaffFactory(role="Admin")
    open_ticket(actor=admin, department=hidden, subject="Refund")
    rows = client_as("Support").get(reverse("support:ticket-list")).context["object_list"]
    assert list(rows) == []


def test_queue_runs_a_constant_number_of_queries(
    support_http, support_user, django_assert_max_num_queries
):
    for n in range(3):
        open_ticket(actor=support_user, subject=f"T{n}", assignee=support_user)
    with django_assert_max_num_queries(14):
        support_http.get(reverse("support:ticket-list"))
    for n in range(30):
        open_ticket(actor=support_user, subject=f"U{n}", assignee=support_user)
    with django_assert_max_num_queries(14):
        support_http.get(reverse("support:ticket-list"))


def test_ticket_page_runs_a_bounded_number_of_queries(
    support_http, support_user, django_assert_max_num_queries
):
    ticket = open_ticket(actor=support_user, attachments=[png()])
    for n in range(20):
        services.add_reply(
            ticket=ticket,
            kind="staff",
            message=f"r{n}",
            actor=support_user,
            attachments=[png(f"{n}.png")] if n % 5 == 0 else (),
        )
    with django_assert_max_num_queries(16):
        support_http.get(ticket.get_absolute_url())


# Communication log -----------------------------------------------------------------------------


def test_log_a_call_from_the_client_profile(support_http, support_user):
    customer = ClientFactory()
    url = reverse("support:communication-create") + f"?client={customer.pk}"
    assert support_http.get(url).status_code == 200
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = support_http.post(
        url,
        {
            "channel": "phone",
            "direction": "in",
            "contact": "",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "7",
            "summary": "Wants a bigger plan",
            "outcome": "follow_up",
            "follow_up_on": tomorrow,
            "follow_up_owner": support_user.pk,
        },
    )
    assert response.status_code == 302
    entry = Communication.objects.get()
    assert entry.duration_minutes == 7 and entry.follow_up_owner == support_user


def test_bad_communication_input_keeps_it(support_http, support_user):
    customer = ClientFactory()
    url = reverse("support:communication-create") + f"?client={customer.pk}"
    response = support_http.post(
        url,
        {
            "channel": "phone",
            "direction": "in",
            "summary": "Keep me",
            "outcome": "follow_up",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "abc",
            "follow_up_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 400
    assert b"Keep me" in response.content
    errors = response.context["form"].errors
    assert "duration_minutes" in errors
    assert not Communication.objects.exists()


def test_follow_ups_due_list_and_done(support_http, support_user):
    today = timezone.localdate()
    due = CommunicationFactory(
        follow_up_on=today - dt.timedelta(days=1),
        follow_up_owner=support_user,
        summary="Call back about DNS",
    )
    CommunicationFactory(follow_up_on=today + dt.timedelta(days=5), follow_up_owner=support_user)
    CommunicationFactory(follow_up_on=today, follow_up_owner=StaffFactory())
    response = support_http.get(reverse("support:follow-up-list"))
    assert list(response.context["object_list"]) == [due]
    assert b"overdue" in response.content
    upcoming = support_http.get(reverse("support:follow-up-list") + "?when=upcoming")
    assert len(upcoming.context["object_list"]) == 1
    done = support_http.post(
        reverse("support:follow-up-done", args=[due.pk]), {"result": "Sorted", "next": "follow-ups"}
    )
    assert done.status_code == 302
    assert len(support_http.get(reverse("support:follow-up-list")).context["object_list"]) == 0


def test_dashboard_shows_my_tickets_and_follow_ups(support_http, support_user):
    open_ticket(actor=support_user, assignee=support_user, subject="Assigned to Sam")
    CommunicationFactory(
        follow_up_on=timezone.localdate(), follow_up_owner=support_user, summary="Ring the client"
    )
    content = support_http.get(reverse("core:dashboard")).content.decode()
    assert "Assigned to Sam" in content and "Ring the client" in content


def test_support_admin_pages_load_for_an_admin(staff_client, support_user):
    ticket = open_ticket(actor=support_user, attachments=[png()])
    services.add_reply(ticket=ticket, kind="note", message="n", actor=support_user)
    CommunicationFactory(client=ticket.client)
    for name in ("department", "ticket", "ticketreply", "ticketattachment", "communication"):
        assert staff_client.get(reverse(f"admin:support_{name}_changelist")).status_code == 200
    assert (
        staff_client.get(
            reverse("admin:support_department_change", args=[ticket.department_id])
        ).status_code
        == 200
    )


def test_admin_bulk_close_goes_through_the_service_with_a_reason(staff_client, support_user):
    ticket = open_ticket(actor=support_user)
    response = staff_client.post(
        reverse("admin:support_ticket_changelist"),
        {"action": "close_selected", "_selected_action": [ticket.pk], "audit_reason": "spam"},
    )
    assert response.status_code in (200, 302)
    ticket.refresh_from_db()
    assert ticket.status == "closed"
