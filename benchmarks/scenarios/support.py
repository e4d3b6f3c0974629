"""Support: the ticket queue (paged, filtered, mine, one client) and a ticket's page."""

from __future__ import annotations

from benchmarks.config import BUSY_CLIENT_ID
from benchmarks.scenarios.bench import Bench, deeper, row


def run(b: Bench) -> list[dict]:
    from django.db import connection

    queue_1 = b.time("ticket queue p1", "/support/tickets/")
    queue_deep = b.time("ticket queue p1000 (all)", "/support/tickets/?view=all&page=1000")
    queue_f = b.time(
        "ticket queue filtered",
        f"/support/tickets/?status=customer_reply&priority=high&assignee={b.actor.pk}",
    )
    queue_mine = b.time("ticket queue, mine", "/support/tickets/?assignee=me")
    queue_client = b.time(
        "ticket queue, one client", f"/support/tickets/?view=all&client={BUSY_CLIENT_ID}"
    )
    admin_tickets = b.time("admin tickets", "/admin/support/ticket/")
    admin_tickets_f = b.time(
        "admin tickets filtered",
        "/admin/support/ticket/?status__exact=customer_reply&priority__exact=high",
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT number FROM support_ticket WHERE client_id <> %s ORDER BY id LIMIT 1",
            [BUSY_CLIENT_ID],
        )
        (number,) = cur.fetchone()
    ticket_page = b.time("ticket page", f"/support/tickets/{number}/")
    admin_ticket = b.time("admin ticket change", "/admin/support/ticket/?number=" + number)
    return [
        row("Ticket queue, page 1", queue_1, admin_tickets),
        row(
            "Ticket queue, page 1,000 (all)",
            queue_deep,
            admin_tickets,
            deeper(queue_deep, queue_1),
        ),
        row("Tickets, status+priority+staff", queue_f, admin_tickets_f),
        row("Tickets, my tickets", queue_mine, admin_tickets_f),
        row("Tickets, one client", queue_client, admin_tickets_f),
        row("Ticket page (10 replies)", ticket_page, admin_ticket, "baseline: admin search"),
    ]
