from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.tracking import event_model_for
from clients.models import EmailLog
from support import services
from support.models import (
    Communication,
    Department,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketReply,
)
from tests.factories.clients import ClientFactory
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.support import (
    PNG,
    CommunicationFactory,
    DepartmentFactory,
    open_ticket,
    png,
    text_file,
)
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent():
    return StaffFactory(role="Support", username="sam-support")


def _codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


# Opening -------------------------------------------------------------------------------------


def test_open_ticket_for_a_client_gets_a_masked_number_and_emails_after_commit(
    agent, django_capture_on_commit_callbacks
):
    customer = ClientFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = open_ticket(customer=customer, actor=agent, cc="boss@example.com")
        assert mail.outbox == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert ticket.number[:3].isalpha() and ticket.number[3] == "-" and len(ticket.number) == 10
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.name == customer.full_name and ticket.email == "ada@example.com"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com", "boss@example.com"]
    assert ticket.number in mail.outbox[0].subject
    assert mail.outbox[0].from_email == ticket.department.email
    assert EmailLog.objects.get(client=customer).kind == EmailLog.Kind.TICKET


def test_open_ticket_with_do_not_email_sends_nothing(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(actor=agent, suppress_email=True)
    assert mail.outbox == []
    assert not EmailLog.objects.filter(client=ticket.client).exists()


def test_open_ticket_for_a_contact_writes_to_the_contact(agent, django_capture_on_commit_callbacks):
    customer = ClientFactory()
    contact = customer.contacts.create(first_name="Tim", last_name="Tech", email="tim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(customer=customer, contact=contact, actor=agent)
    assert ticket.email == "tim@example.com" and ticket.name == "Tim Tech"
    assert mail.outbox[0].to == ["tim@example.com"]


def test_open_ticket_for_a_non_client_needs_name_and_email(agent):
    with pytest.raises(ValidationError) as exc:
        open_ticket(customer=None, name="Grace", email="", actor=agent)
    assert _codes(exc.value) == {"requester_required"}
    ticket = open_ticket(customer=None, name="Grace Hopper", email="grace@example.org", actor=agent)
    assert ticket.client is None and ticket.email == "grace@example.org"


def test_mail_to_a_non_client_and_the_cc_is_in_the_email_log_and_sent_after_commit(
    agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = open_ticket(
            customer=None,
            name="Grace Hopper",
            email="grace@example.org",
            cc="team@example.org",
            actor=agent,
            attachments=[png()],
        )
    log = EmailLog.objects.get()
    assert log.client is None and log.to == "grace@example.org, team@example.org"
    assert (log.kind, log.status, log.from_email) == ("ticket", "queued", ticket.department.email)
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert mail.outbox[0].to == ["grace@example.org", "team@example.org"]
    assert mail.outbox[0].attachments[0][0] == "screenshot.png"


def test_open_ticket_refuses_another_clients_service_domain_and_contact(agent):
    customer, other = ClientFactory(), ClientFactory()
    with pytest.raises(ValidationError) as exc:
        open_ticket(
            customer=customer,
            actor=agent,
            service=ServiceFactory(client=other),
            domain=DomainFactory(client=other),
        )
    assert _codes(exc.value) == {"wrong_client"}
    assert set(exc.value.error_dict) == {"service", "domain"}
    contact = other.contacts.create(first_name="X", last_name="Y", email="x@example.com")
    with pytest.raises(ValidationError) as exc:
        open_ticket(customer=customer, contact=contact, actor=agent)
    assert _codes(exc.value) == {"wrong_client"}
    assert not Ticket.objects.exists()


def test_database_refuses_a_ticket_linked_to_another_clients_service(agent):
    ticket = open_ticket(actor=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(service=ServiceFactory())


def test_backdated_ticket_is_flagged_and_needs_a_reason(agent):
    earlier = timezone.now() - dt.timedelta(days=2)
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, opened_at=earlier)
    assert _codes(exc.value) == {"reason_required"}
    ticket = open_ticket(actor=agent, opened_at=earlier, reason="Client called Monday")
    assert ticket.backdated and ticket.backdate_reason == "Client called Monday"
    event = event_model_for(Ticket).objects.get(pgh_obj_id=ticket.pk)
    assert event.pgh_context.metadata["reason"] == "Client called Monday"
    recent = open_ticket(actor=agent, opened_at=timezone.now() - dt.timedelta(minutes=2))
    assert not recent.backdated


def test_ticket_cannot_be_opened_in_the_future(agent):
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, opened_at=timezone.now() + dt.timedelta(hours=3))
    assert _codes(exc.value) == {"opened_in_future"}


def test_inactive_or_hidden_department_takes_no_ticket(agent):
    closed = DepartmentFactory(name="Old desk", active=False)
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, department=closed)
    assert _codes(exc.value) == {"department_inactive"}
    from django.contrib.auth.models import Group

    billing_only = DepartmentFactory(name="Accounts")
    billing_only.roles.add(Group.objects.get(name="Billing"))
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, department=billing_only)
    assert _codes(exc.value) == {"department_hidden"}
    assert Ticket.objects.visible_to(agent).count() == 0


def test_initial_private_note_is_an_internal_note_never_emailed(
    agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(actor=agent, private_note="VIP: handle with care")
    note = ticket.replies.get()
    assert note.kind == TicketReply.Kind.NOTE and note.emailed_to == ""
    assert "VIP" not in mail.outbox[0].body


def test_bad_cc_address_is_refused_on_the_cc_field(agent):
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, cc="ok@example.com, not-an-address")
    assert exc.value.error_dict.keys() == {"cc"}


# Attachments ---------------------------------------------------------------------------------


def test_attachments_are_stored_outside_the_web_root_with_a_random_name(agent, settings):
    ticket = open_ticket(actor=agent, attachments=[png(), text_file()])
    files = list(ticket.attachments.order_by("id"))
    assert [f.name for f in files] == ["screenshot.png", "error.log"]
    assert files[0].content_type == "image/png" and files[0].size == len(PNG)
    assert "screenshot" not in files[0].file.name
    assert str(settings.PRIVATE_MEDIA_ROOT) in files[0].file.path
    assert str(settings.STATIC_ROOT) not in files[0].file.path


def test_oversized_attachment_is_refused_and_nothing_is_saved(agent, settings, tmp_path):
    settings.TICKET_ATTACHMENT_MAX_BYTES = 100
    big = text_file("big.log", b"x" * 101)
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, attachments=[big])
    assert _codes(exc.value) == {"attachment_too_large"}
    assert "big.log" in exc.value.messages[0]
    assert not Ticket.objects.exists() and not TicketAttachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("setup.exe", b"MZ\x90\x00", "attachment_type"),
        ("page.html", b"<script>alert(1)</script>", "attachment_type"),
        ("no-extension", b"hello", "attachment_type"),
        ("photo.png", b"MZ\x90\x00 an executable", "attachment_content"),
        ("notes.txt", b"\x00\x01\x02binary", "attachment_content"),
        ("empty.txt", b"", "attachment_empty"),
    ],
)
def test_disallowed_attachment_types_are_refused(agent, name, content, code):
    upload = SimpleUploadedFile(name, content)
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, attachments=[upload])
    assert _codes(exc.value) == {code}
    assert not Ticket.objects.exists()


def test_too_many_attachments_are_refused(agent, settings):
    settings.TICKET_ATTACHMENT_MAX_FILES = 2
    with pytest.raises(ValidationError) as exc:
        open_ticket(actor=agent, attachments=[png("a.png"), png("b.png"), png("c.png")])
    assert _codes(exc.value) == {"too_many_attachments"}


def test_a_failed_ticket_leaves_no_file_on_disk(agent, settings, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError("mail server refused", code="boom")

    monkeypatch.setattr(services, "_email_requester", refuse)
    with pytest.raises(ValidationError):
        open_ticket(actor=agent, attachments=[png()])
    root = settings.PRIVATE_MEDIA_ROOT
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


# Replies and statuses --------------------------------------------------------------------------


def test_staff_reply_is_emailed_after_commit_and_answers_the_ticket(
    agent, django_capture_on_commit_callbacks
):
    ticket = open_ticket(actor=agent, suppress_email=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply = services.add_reply(
            ticket=ticket,
            kind="staff",
            message="Fixed: PHP was restarted.",
            actor=agent,
            attachments=[png()],
        )
        assert mail.outbox == []
    for callback in callbacks:
        callback()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED and ticket.reply_count == 1
    assert ticket.last_replier == "sam-support"
    assert reply.emailed_to == ticket.email
    assert len(mail.outbox) == 1 and "Fixed: PHP" in mail.outbox[0].body
    assert mail.outbox[0].attachments[0][0] == "screenshot.png"


def test_reply_is_not_emailed_when_the_ticket_or_the_reply_says_so(
    agent, django_capture_on_commit_callbacks
):
    quiet = open_ticket(actor=agent, suppress_email=True)
    loud = open_ticket(actor=agent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.add_reply(ticket=quiet, kind="staff", message="Done.", actor=agent)
        second = services.add_reply(
            ticket=loud, kind="staff", message="Done.", actor=agent, send_email=False
        )
    assert mail.outbox == [] and first.emailed_to == second.emailed_to == ""


def test_internal_note_is_never_emailed_and_keeps_the_status(
    agent, django_capture_on_commit_callbacks
):
    ticket = open_ticket(actor=agent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        note = services.add_reply(ticket=ticket, kind="note", message="Check the logs", actor=agent)
    ticket.refresh_from_db()
    assert mail.outbox == [] and note.emailed_to == ""
    assert ticket.status == Ticket.Status.OPEN and ticket.reply_count == 0


def test_database_refuses_an_emailed_internal_note(agent):
    ticket = open_ticket(actor=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketReply.objects.create(
            ticket=ticket, kind="note", author=agent, message="x", emailed_to="a@example.com"
        )


def test_clients_reply_sets_customer_reply(agent):
    ticket = open_ticket(actor=agent)
    services.add_reply(ticket=ticket, kind="client", message="Still broken", actor=agent)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CUSTOMER_REPLY
    assert ticket.last_replier == ticket.name


def test_replying_to_a_closed_ticket_is_refused_but_a_note_is_allowed(agent):
    ticket = open_ticket(actor=agent)
    services.change_ticket_status(ticket=ticket, status="closed", actor=agent)
    with pytest.raises(ValidationError) as exc:
        services.add_reply(ticket=ticket, kind="staff", message="hello", actor=agent)
    assert _codes(exc.value) == {"ticket_closed"}
    services.add_reply(ticket=ticket, kind="note", message="closed by phone", actor=agent)


def test_an_internal_note_cannot_reopen_a_closed_ticket_without_a_reason(agent):
    ticket = open_ticket(actor=agent)
    services.change_ticket_status(ticket=ticket, status="closed", actor=agent)
    with pytest.raises(ValidationError) as exc:
        services.add_reply(
            ticket=ticket, kind="note", message="reopen", new_status="open", actor=agent
        )
    assert _codes(exc.value) == {"reason_required"}
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    services.add_reply(
        ticket=ticket,
        kind="note",
        message="reopen",
        new_status="open",
        actor=agent,
        reason="Client called back",
    )
    ticket.refresh_from_db()
    assert ticket.status == "open"
    event = TicketEvent.objects.filter(pgh_obj=ticket, status="open").last()
    assert event.pgh_context.metadata["reason"] == "Client called back"


def test_reopening_needs_a_reason_and_goes_to_open_only(agent):
    ticket = open_ticket(actor=agent)
    ticket = services.change_ticket_status(ticket=ticket, status="closed", actor=agent)
    assert ticket.closed_at is not None
    with pytest.raises(ValidationError) as exc:
        services.change_ticket_status(ticket=ticket, status="answered", actor=agent, reason="x")
    assert _codes(exc.value) == {"invalid_transition"}
    with pytest.raises(ValidationError) as exc:
        services.change_ticket_status(ticket=ticket, status="open", actor=agent)
    assert _codes(exc.value) == {"reason_required"}
    ticket = services.change_ticket_status(
        ticket=ticket, status="open", actor=agent, reason="Client says it broke again"
    )
    assert ticket.status == "open" and ticket.closed_at is None


@pytest.mark.parametrize(
    "status", ["answered", "customer_reply", "on_hold", "in_progress", "closed"]
)
def test_open_ticket_may_move_to_any_other_status(agent, status):
    ticket = services.change_ticket_status(
        ticket=open_ticket(actor=agent), status=status, actor=agent
    )
    assert ticket.status == status


def test_database_refuses_an_illegal_status_change(agent):
    ticket = open_ticket(actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed", closed_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(status="on_hold", closed_at=None)


def test_tickets_and_replies_cannot_be_deleted_or_replies_edited(agent):
    ticket = open_ticket(actor=agent)
    reply = services.add_reply(ticket=ticket, kind="staff", message="Hi", actor=agent)
    with pytest.raises(Exception, match=r"undeletable|protect"), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).delete()
    with pytest.raises(Exception, match=r"append_only|protect"), transaction.atomic():
        TicketReply.objects.filter(pk=reply.pk).update(message="rewritten")


def test_update_ticket_reassigns_with_reason_in_the_audit(agent):
    ticket = open_ticket(actor=agent)
    other = StaffFactory(role="Support", username="bob")
    ticket = services.update_ticket(
        ticket=ticket,
        data={"assignee": other, "priority": "high"},
        actor=agent,
        reason="Bob knows this server",
    )
    assert ticket.assignee == other and ticket.priority == "high"
    event = event_model_for(Ticket).objects.filter(pgh_obj_id=ticket.pk).latest("pgh_id")
    assert event.pgh_context.metadata["reason"] == "Bob knows this server"


def test_update_ticket_refuses_an_inactive_assignee(agent):
    gone = StaffFactory(username="gone", is_active=False)
    with pytest.raises(ValidationError) as exc:
        services.update_ticket(
            ticket=open_ticket(actor=agent), data={"assignee": gone}, actor=agent
        )
    assert _codes(exc.value) == {"bad_assignee"}


def test_department_visibility_by_role():
    from django.contrib.auth.models import Group

    billing_desk = DepartmentFactory(name="Billing desk")
    billing_desk.roles.add(Group.objects.get(name="Billing"))
    open_desk = DepartmentFactory(name="General")
    support, billing = StaffFactory(role="Support"), StaffFactory(role="Billing")
    admin = StaffFactory(role="Admin")
    assert set(Department.objects.visible_to(support)) == {open_desk}
    assert set(Department.objects.visible_to(billing)) == {open_desk, billing_desk}
    assert set(Department.objects.visible_to(admin)) == {open_desk, billing_desk}


# Communication log -----------------------------------------------------------------------------


def test_log_a_call_with_a_follow_up(agent):
    customer = ClientFactory()
    ticket = open_ticket(customer=customer, actor=agent)
    entry = services.log_communication(
        client=customer,
        data={
            "channel": "phone",
            "direction": "in",
            "summary": "Asked for a refund",
            "outcome": "follow_up",
            "duration_minutes": 12,
            "follow_up_on": timezone.localdate() + dt.timedelta(days=1),
            "follow_up_owner": agent,
            "ticket": ticket,
        },
        actor=agent,
    )
    assert entry.logged_by == agent and entry.follow_up_open
    assert list(Communication.objects.follow_ups_open().filter(follow_up_owner=agent)) == [entry]


def test_follow_up_needs_both_date_and_owner(agent):
    customer = ClientFactory()
    with pytest.raises(ValidationError) as exc:
        services.log_communication(
            client=customer,
            data={
                "channel": "phone",
                "direction": "out",
                "summary": "x",
                "outcome": "other",
                "follow_up_on": timezone.localdate(),
            },
            actor=agent,
        )
    assert exc.value.error_dict.keys() == {"follow_up_owner"}


def test_communication_links_only_the_clients_own_records(agent):
    customer = ClientFactory()
    others = open_ticket(actor=agent)
    with pytest.raises(ValidationError) as exc:
        services.log_communication(
            client=customer,
            data={
                "channel": "email",
                "direction": "in",
                "summary": "x",
                "outcome": "other",
                "ticket": others,
                "service": ServiceFactory(),
            },
            actor=agent,
        )
    assert _codes(exc.value) == {"wrong_client"}
    assert set(exc.value.error_dict) == {"ticket", "service"}
    entry = CommunicationFactory(client=customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Communication.objects.filter(pk=entry.pk).update(ticket=others)


def test_communication_in_the_future_is_refused(agent):
    with pytest.raises(ValidationError) as exc:
        services.log_communication(
            client=ClientFactory(),
            data={
                "channel": "phone",
                "direction": "in",
                "summary": "x",
                "outcome": "other",
                "occurred_at": timezone.now() + dt.timedelta(days=1),
            },
            actor=agent,
        )
    assert _codes(exc.value) == {"in_future"}


def test_correcting_a_communication_needs_a_reason(agent):
    entry = CommunicationFactory()
    with pytest.raises(ValidationError) as exc:
        services.update_communication(
            communication=entry, data={"summary": "Corrected"}, actor=agent, reason=""
        )
    assert _codes(exc.value) == {"reason_required"}
    entry = services.update_communication(
        communication=entry, data={"summary": "Corrected"}, actor=agent, reason="typo"
    )
    assert entry.summary == "Corrected"


def test_complete_follow_up_once(agent):
    entry = CommunicationFactory(follow_up_on=timezone.localdate(), follow_up_owner=agent)
    entry = services.complete_follow_up(communication=entry, actor=agent, result="Called back")
    assert entry.follow_up_done_by == agent and not entry.follow_up_open
    with pytest.raises(ValidationError) as exc:
        services.complete_follow_up(communication=entry, actor=agent)
    assert _codes(exc.value) == {"follow_up_done"}
    with pytest.raises(ValidationError) as exc:
        services.complete_follow_up(communication=CommunicationFactory(), actor=agent)
    assert _codes(exc.value) == {"no_follow_up"}


def test_opening_email_names_and_attaches_the_files(agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        open_ticket(actor=agent, attachments=[png()])
    assert "Attached: screenshot.png" in mail.outbox[0].body
    assert mail.outbox[0].attachments[0][0] == "screenshot.png"
