"""What support adds to other apps: the client's Tickets and Communications tabs and timeline
entries, the hosting account's Tickets tab, notes about tickets, the dashboard panels, the
navigation and ticket files attached to emails. Registered from ``SupportConfig.ready`` so that
clients and hosting never import us.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from clients.models import Client
from clients.outbox import register_attachment_source
from clients.profile import ProfileTab, register_note_subject, register_tab
from clients.timeline import TimelineSource, in_bulk, register_source
from core.dashboard import Panel, register_panel
from hosting.service_page import register_service_tab
from support import services
from support.models import Communication, Ticket, TicketReply

TAB_LIMIT = 50


def _tickets(request: Any, client: Client) -> dict[str, Any]:
    rows = (
        Ticket.objects.visible_to(request.user)
        .filter(client=client)
        .select_related("department", "assignee")
        .order_by("-last_activity_at", "-id")
    )
    return {"tickets": list(rows[:TAB_LIMIT])}


def _communications(request: Any, client: Client) -> dict[str, Any]:
    rows = Communication.objects.filter(client=client).select_related(
        "contact", "logged_by", "follow_up_owner"
    )
    return {"communications": list(rows.order_by("-occurred_at", "-id")[:TAB_LIMIT])}


register_tab(
    ProfileTab(
        "tickets",
        "Tickets",
        "support.view_ticket",
        "support/includes/_tab_tickets.html",
        _tickets,
        30,
    )
)
register_tab(
    ProfileTab(
        "communications",
        "Communications",
        "support.view_communication",
        "support/includes/_tab_communications.html",
        _communications,
        32,
    )
)
register_note_subject(
    "support.ticket",
    lambda client, user: (
        Ticket.objects.visible_to(user).filter(client=client).order_by("-last_activity_at", "-id")
    ),
    limit=TAB_LIMIT,
)


def _service_tickets(request: Any, service: Any) -> dict[str, Any]:
    rows = (
        Ticket.objects.visible_to(request.user)
        .filter(service=service)
        .select_related("department", "assignee")
        .order_by("-last_activity_at", "-id")
    )
    return {"tickets": list(rows[:TAB_LIMIT]), "service": service}


register_service_tab(
    ProfileTab(
        "tickets",
        "Tickets",
        "support.view_ticket",
        "support/includes/_service_tickets.html",
        _service_tickets,
        order=20,
    )
)

# The client timeline ---------------------------------------------------------------------------

register_source(
    TimelineSource(
        "communication",
        "Communications",
        "support.view_communication",
        lambda client, user: Communication.objects.filter(client=client),
        "occurred_at",
        in_bulk(Communication.objects.select_related("contact", "logged_by", "follow_up_owner")),
        "support/timeline/_communication.html",
        order=20,
    )
)
register_source(
    TimelineSource(
        "ticket",
        "Tickets",
        "support.view_ticket",
        lambda client, user: Ticket.objects.visible_to(user).filter(client=client),
        "opened_at",
        in_bulk(Ticket.objects.select_related("department", "opened_by")),
        "support/timeline/_ticket.html",
        order=30,
    )
)
register_source(
    TimelineSource(
        "reply",
        "Ticket replies",
        "support.view_ticketreply",
        lambda client, user: TicketReply.objects.visible_to(user).filter(ticket__client=client),
        "created_at",
        in_bulk(TicketReply.objects.select_related("ticket", "author")),
        "support/timeline/_reply.html",
        order=31,
    )
)

# Dashboard ---------------------------------------------------------------------------------------


def _dashboard(request: HttpRequest) -> dict[str, Any]:
    visible = Ticket.objects.visible_to(request.user).awaiting()
    return {
        "awaiting": visible.count(),
        "customer_reply": visible.filter(status=Ticket.Status.CUSTOMER_REPLY).count(),
        "mine": list(
            visible.filter(assignee=request.user)
            .select_related("client")
            .order_by("-last_activity_at")[:8]
        ),
    }


def _follow_ups(request: HttpRequest) -> dict[str, Any]:
    due = Communication.objects.follow_ups_open().filter(
        follow_up_owner=request.user, follow_up_on__lte=timezone.localdate()
    )
    return {
        "due_count": due.count(),
        "due": list(due.select_related("client").order_by("follow_up_on", "id")[:8]),
        "today": timezone.localdate(),
    }


register_panel(
    Panel("tickets", "support.view_ticket", "support/includes/_dashboard.html", _dashboard, 20)
)
register_panel(
    Panel(
        "follow_ups",
        "support.view_communication",
        "support/includes/_dashboard_follow_ups.html",
        _follow_ups,
        21,
    )
)

register_attachment_source(services.ATTACHMENT_SOURCE, services.attachment_content)
