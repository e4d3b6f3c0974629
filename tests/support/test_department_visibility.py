"""A department restricted to some roles hides its tickets everywhere they show: the client's
timeline, the notes' "About" list and the notes about them, the communication forms and pages,
and the Django admin (issue 15 item 12). One rule decides: ``Ticket.objects.visible_to``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from clients import services as client_services
from core.roles import BILLING, READ_ONLY, SUPPORT
from support import services
from support.models import Communication
from tests.factories.clients import ClientFactory
from tests.factories.support import CommunicationFactory, DepartmentFactory, open_ticket, png

pytestmark = pytest.mark.django_db

SUBJECT = "Chargeback dispute 7731"
NOTE = "Card holder called the bank"
OPEN_SUBJECT = "Mailbox full"


@pytest.fixture
def hidden(staff_admin):
    """A client with a ticket in a department restricted to Billing (an internal note and an
    attachment on it) and one ticket in a department everyone sees."""
    customer = ClientFactory()
    billing_only = DepartmentFactory(name="Billing disputes")
    billing_only.roles.add(Group.objects.get(name=BILLING))
    ticket = open_ticket(
        customer=customer,
        actor=staff_admin,
        department=billing_only,
        subject=SUBJECT,
        suppress_email=True,
        attachments=[png("chargeback-letter.png")],
    )
    services.add_reply(ticket=ticket, kind="note", message=NOTE, actor=staff_admin)
    visible = open_ticket(
        customer=customer,
        actor=staff_admin,
        department=DepartmentFactory(name="Technical support"),
        subject=OPEN_SUBJECT,
        suppress_email=True,
    )
    return customer, ticket, visible


@pytest.mark.parametrize("role", [SUPPORT, READ_ONLY])
def test_timeline_hides_tickets_and_notes_of_a_restricted_department(role, hidden, client_as):
    customer, ticket, _ = hidden
    page = client_as(role).get(
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=timeline"
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert OPEN_SUBJECT in body  # the rule hides the department, not the kind
    assert SUBJECT not in body and ticket.number not in body
    assert NOTE not in body


def test_timeline_shows_the_restricted_department_to_its_role(hidden, client_as):
    customer, _, _ = hidden
    body = (
        client_as(BILLING)
        .get(reverse("clients:client-detail", args=[customer.pk]) + "?tab=timeline")
        .content.decode()
    )
    assert SUBJECT in body and NOTE in body


def test_note_about_list_offers_only_visible_tickets(hidden, client_as):
    customer, ticket, visible = hidden
    body = (
        client_as(SUPPORT)
        .get(reverse("clients:client-detail", args=[customer.pk]) + "?tab=notes")
        .content.decode()
    )
    assert visible.number in body
    assert ticket.number not in body and SUBJECT not in body
    assert ticket.number in (
        client_as(BILLING)
        .get(reverse("clients:client-detail", args=[customer.pk]) + "?tab=notes")
        .content.decode()
    )


def test_a_note_about_a_hidden_ticket_cannot_be_posted(hidden, client_as):
    customer, ticket, _ = hidden
    response = client_as(SUPPORT).post(
        reverse("clients:note-create", args=[customer.pk]),
        {"body": "guess", "about_record": f"support.ticket:{ticket.pk}"},
    )
    assert response.status_code == 400
    assert not customer.notes.exists()


def test_a_note_about_a_hidden_ticket_does_not_show_the_ticket(hidden, client_as, staff_admin):
    customer, ticket, _ = hidden
    client_services.add_note(
        client=customer, body="See the dispute", actor=staff_admin, about=ticket
    )
    url = reverse("clients:client-detail", args=[customer.pk]) + "?tab=notes"
    body = client_as(SUPPORT).get(url).content.decode()
    assert "See the dispute" in body  # the note is the client's; only the ticket is hidden
    assert ticket.number not in body and SUBJECT not in body
    assert SUBJECT in client_as(BILLING).get(url).content.decode()


def test_communication_form_offers_only_visible_tickets(hidden, client_as):
    customer, ticket, visible = hidden
    http = client_as(SUPPORT)
    url = reverse("support:communication-create") + f"?client={customer.pk}"
    body = http.get(url).content.decode()
    assert visible.number in body
    assert ticket.number not in body and SUBJECT not in body
    response = http.post(
        url,
        {
            "channel": "phone",
            "direction": "in",
            "occurred_at": "2026-11-30 10:00",
            "summary": "Asked about it",
            "outcome": "information",
            "ticket": ticket.pk,
        },
    )
    assert response.status_code == 400
    assert not Communication.objects.exists()


def test_communication_linked_to_a_hidden_ticket_keeps_the_link_but_hides_it(
    hidden, client_as, staff_admin
):
    customer, ticket, _ = hidden
    entry = CommunicationFactory(client=customer, logged_by=staff_admin, ticket=ticket)
    http = client_as(SUPPORT)
    for url in (
        entry.get_absolute_url(),
        reverse("support:communication-update", args=[entry.pk]),
        reverse("admin:support_communication_change", args=[entry.pk]),
    ):
        response = http.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert ticket.number not in body and SUBJECT not in body, url
    # Correcting the entry leaves the link it cannot see alone.
    response = http.post(
        reverse("support:communication-update", args=[entry.pk]),
        {
            "channel": "phone",
            "direction": "in",
            "occurred_at": "2026-11-30 10:00",
            "summary": "Corrected summary",
            "outcome": "information",
            "audit_reason": "typo",
        },
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.summary == "Corrected summary" and entry.ticket_id == ticket.pk


@pytest.mark.parametrize("role", [SUPPORT, READ_ONLY])
def test_django_admin_lists_hide_restricted_tickets_replies_and_attachments(
    role, hidden, client_as
):
    _, ticket, visible = hidden
    http = client_as(role)
    tickets = http.get(reverse("admin:support_ticket_changelist")).content.decode()
    assert visible.number in tickets
    assert ticket.number not in tickets and SUBJECT not in tickets
    replies = http.get(reverse("admin:support_ticketreply_changelist"))
    assert replies.status_code == 200
    assert SUBJECT not in replies.content.decode()
    assert f"on ticket #{ticket.pk}<" not in replies.content.decode()
    files = http.get(reverse("admin:support_ticketattachment_changelist"))
    assert files.status_code == 200
    assert "chargeback-letter.png" not in files.content.decode()


@pytest.mark.parametrize("role", [SUPPORT, READ_ONLY])
def test_django_admin_pages_of_a_restricted_ticket_are_not_found(role, hidden, client_as):
    _, ticket, _ = hidden
    http = client_as(role)
    reply = ticket.replies.get()
    attachment = ticket.attachments.get()
    for url in (
        reverse("admin:support_ticket_change", args=[ticket.pk]),
        reverse("admin:support_ticketreply_change", args=[reply.pk]),
        reverse("admin:support_ticketattachment_change", args=[attachment.pk]),
    ):
        response = http.get(url, follow=True)
        body = response.content.decode()
        assert SUBJECT not in body and NOTE not in body, url
        assert "chargeback-letter.png" not in body, url


def test_django_admin_shows_the_restricted_department_to_its_role_and_superusers(hidden, client_as):
    _, ticket, _ = hidden
    for http in (client_as(BILLING), client_as(None, is_superuser=True)):
        body = http.get(reverse("admin:support_ticket_changelist")).content.decode()
        assert ticket.number in body
        reply = ticket.replies.get()
        assert (
            http.get(reverse("admin:support_ticketreply_change", args=[reply.pk])).status_code
            == 200
        )


def test_admin_bulk_action_cannot_reach_a_hidden_ticket(hidden, client_as):
    _, ticket, _ = hidden
    client_as(SUPPORT).post(
        reverse("admin:support_ticket_changelist"),
        {"action": "close_selected", "_selected_action": [ticket.pk], "audit_reason": "spam"},
    )
    ticket.refresh_from_db()
    assert ticket.status == "open"
