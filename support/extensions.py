"""What support registers (``core/extension_points.py``): the client's Tickets and
Communications tabs and timeline entries, the hosting account's Tickets tab, notes about tickets,
the dashboard panels, the sidebar's Tickets and Communications sections and ticket files attached
to emails. Tickets of a restricted department reach none of them for a user who may not see it
(``Ticket.objects.visible_to(user)``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from clients.models import Client
from clients.timeline import in_bulk
from core.extension_points import (
    DashboardPanel,
    EmailAttachmentSource,
    HistoryFilter,
    NavSection,
    NoteSubject,
    ProfileTab,
    Reverter,
    ServiceTab,
    TimelineSource,
    cached_figures,
    register,
)
from support import services
from support.models import Communication, Department, Ticket, TicketReply

TAB_LIMIT = 50


def _tickets(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    rows = (
        Ticket.objects.visible_to(user)
        .filter(client=client)
        .select_related("department", "assignee")
        .order_by("-last_activity_at", "-id")
    )
    return {"tickets": list(rows[:TAB_LIMIT])}


def _communications(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    rows = Communication.objects.filter(client=client).select_related(
        "contact", "logged_by", "follow_up_owner"
    )
    return {"communications": list(rows.order_by("-occurred_at", "-id")[:TAB_LIMIT])}


register(
    ProfileTab(
        "tickets",
        "Tickets",
        "support.view_ticket",
        "support/includes/_tab_tickets.html",
        _tickets,
    ),
    ProfileTab(
        "communications",
        "Communications",
        "support.view_communication",
        "support/includes/_tab_communications.html",
        _communications,
    ),
    NoteSubject(
        "support.ticket",
        lambda *, client, user: (
            Ticket.objects.visible_to(user)
            .filter(client=client)
            .order_by("-last_activity_at", "-id")
        ),
        limit=TAB_LIMIT,
    ),
)


def _service_tickets(*, request: HttpRequest, user: Any, service: Any) -> dict[str, Any]:
    rows = (
        Ticket.objects.visible_to(user)
        .filter(service=service)
        .select_related("department", "assignee")
        .order_by("-last_activity_at", "-id")
    )
    return {"tickets": list(rows[:TAB_LIMIT]), "service": service}


register(
    ServiceTab(
        "tickets",
        "Tickets",
        "support.view_ticket",
        "support/includes/_service_tickets.html",
        _service_tickets,
    )
)

# The client timeline ---------------------------------------------------------------------------

register(
    TimelineSource(
        "communication",
        "Communications",
        "support.view_communication",
        lambda *, client, user: Communication.objects.filter(client=client),
        "occurred_at",
        in_bulk(Communication.objects.select_related("contact", "logged_by", "follow_up_owner")),
        "support/timeline/_communication.html",
    ),
    TimelineSource(
        "ticket",
        "Tickets",
        "support.view_ticket",
        lambda *, client, user: Ticket.objects.visible_to(user).filter(client=client),
        "opened_at",
        in_bulk(Ticket.objects.select_related("department", "opened_by")),
        "support/timeline/_ticket.html",
    ),
    TimelineSource(
        "reply",
        "Ticket replies",
        "support.view_ticketreply",
        lambda *, client, user: TicketReply.objects.visible_to(user).filter(ticket__client=client),
        "created_at",
        in_bulk(TicketReply.objects.select_related("ticket", "author")),
        "support/timeline/_reply.html",
    ),
)

# Dashboard ---------------------------------------------------------------------------------------


def _dashboard(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    visible = Ticket.objects.visible_to(user).awaiting()
    # The counts per person (what they see depends on their departments), a few seconds old at
    # most; the list of their own tickets stays live.
    figures = cached_figures(
        f"tickets:{user.pk}",
        lambda: {
            "awaiting": visible.count(),
            "customer_reply": visible.filter(status=Ticket.Status.CUSTOMER_REPLY).count(),
        },
    )
    return {
        **figures,
        "mine": list(
            visible.filter(assignee=user).select_related("client").order_by("-last_activity_at")[:8]
        ),
    }


def _follow_ups(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    due = Communication.objects.follow_ups_open().filter(
        follow_up_owner=user, follow_up_on__lte=timezone.localdate()
    )
    return {
        "due_count": due.count(),
        "due": list(due.select_related("client").order_by("follow_up_on", "id")[:8]),
        "today": timezone.localdate(),
    }


def _history_of_tickets(user: Any, column: str) -> tuple[str, list[Any]] | None:
    """A record-wide history shows the events of tickets (and their replies and files) only
    when the ticket's department is one the user sees, as ``Ticket.objects.visible_to``: by the
    ticket's department now, not the one an old snapshot names."""
    if user.is_superuser or user.has_perm("support.see_all_departments"):
        return None
    departments = list(Department.objects.visible_to(user).values_list("pk", flat=True))
    return (
        f"e.{column} IN (SELECT t.id FROM support_ticket t WHERE t.department_id = ANY(%s))",  # noqa: S608 - a column name of ours; the ids are a parameter
        [departments],
    )


register(
    DashboardPanel(
        "tickets", "support.view_ticket", "support/includes/_dashboard.html", _dashboard
    ),
    DashboardPanel(
        "follow_ups",
        "support.view_communication",
        "support/includes/_dashboard_follow_ups.html",
        _follow_ups,
    ),
    NavSection("tickets", "Tickets", "support:ticket-list", "support.view_ticket"),
    NavSection(
        "communications",
        "Communications",
        "support:communication-list",
        "support.view_communication",
    ),
    EmailAttachmentSource(services.ATTACHMENT_SOURCE, services.attachment_content),
    HistoryFilter("support.ticket", lambda *, user: _history_of_tickets(user, "pgh_obj_id")),
    HistoryFilter("support.ticketreply", lambda *, user: _history_of_tickets(user, "ticket_id")),
    HistoryFilter(
        "support.ticketattachment", lambda *, user: _history_of_tickets(user, "ticket_id")
    ),
)


# Undo of a plain edit from the audit trail (``audit/revert.py``): a ticket's editable fields,
# through ``update_ticket`` (the department rule and the client's own records still hold).
# Status changes have their own service and stay out.


def _revert_ticket(
    *, record: Ticket, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Ticket:
    return services.update_ticket(
        ticket=record, data=values, actor=actor, reason=reason, version=version
    )


def _edit_ticket(*, record: Ticket) -> tuple[str, str]:
    return "Change the ticket on its page (status changes have their own buttons).", (
        record.get_absolute_url()
    )


register(
    Reverter(
        "support.ticket",
        fields=services.EDITABLE_FIELDS,
        revert=_revert_ticket,
        instead=_edit_ticket,
    )
)
