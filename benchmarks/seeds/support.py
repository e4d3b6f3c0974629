"""Tickets, replies and the busy client's calls."""

from __future__ import annotations

import time

from benchmarks.config import (
    BUSY_CALLS,
    BUSY_CLIENT_ID,
    BUSY_REPLIES,
    BUSY_TICKETS,
    N_TICKETS,
    REPLIES_PER_TICKET,
)
from benchmarks.seeds.common import set_seed_context


def seed_support() -> bool:
    """200,000 tickets with 10 replies each (2,000,000), and a busy client whose timeline holds
    more than 5,000 entries (tickets, replies, calls, besides its notes, invoices, orders...)."""
    from django.db import connection, transaction

    from demo.support import load_departments
    from support.models import Ticket

    if Ticket.objects.count() >= N_TICKETS:
        return False
    started = time.perf_counter()
    load_departments()
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute("SELECT array_agg(id ORDER BY id) FROM support_department")
        (departments,) = cur.fetchone()
        cur.execute(
            "SELECT array_agg(id ORDER BY id) FROM auth_user WHERE username LIKE 'bench-%%'"
        )
        (staff,) = cur.fetchone()
        # Tickets: most closed, the rest spread over the open statuses; the busy client gets
        # its own run of tickets at the end.
        cur.execute(
            """
            INSERT INTO support_ticket (number, department_id, client_id, name, email, cc,
                subject, message, priority, status, assignee_id, suppress_email, opened_at,
                backdated, backdate_reason, opened_by_id, last_activity_at, last_reply_at,
                last_replier, reply_count, closed_at, created_at, updated_at)
            SELECT 'B' || chr(65 + (g / 1000000) %% 26) || chr(65 + (g / 26000000) %% 26)
                       || '-' || lpad((g %% 1000000)::text, 6, '0'),
                   (%(departments)s::bigint[])[1 + g %% 3],
                   CASE WHEN g > %(count)s THEN %(busy)s ELSE %(first)s + (g %% %(n)s) END,
                   'Bench Client', 'bench' || g || '@bench.example', '',
                   'Bench ticket ' || g, 'The site is slow again.',
                   (ARRAY['low','medium','medium','high'])[1 + g %% 4], s,
                   CASE WHEN g %% 5 = 0 THEN NULL
                        ELSE (%(staff)s::bigint[])[1 + g %% array_length(%(staff)s::bigint[], 1)]
                   END,
                   false, now() - make_interval(mins => g * 2), false, '',
                   (%(staff)s::bigint[])[1], now() - make_interval(mins => g), now()
                       - make_interval(mins => g), 'bench-staff-1', %(per)s,
                   CASE WHEN s = 'closed' THEN now() - make_interval(mins => g) END, now(), now()
            FROM (SELECT g, (ARRAY['closed','closed','closed','closed','closed','closed',
                                   'closed','closed','answered','customer_reply','open',
                                   'on_hold','in_progress','closed','closed','closed',
                                   'closed','closed','answered','open'])[1 + g %% 20] AS s
                  FROM generate_series(1, %(total)s) AS g) AS rows
            """,
            {
                "departments": departments,
                "staff": staff,
                "first": first_client,
                "n": n_clients,
                "count": N_TICKETS,
                "total": N_TICKETS + BUSY_TICKETS,
                "busy": BUSY_CLIENT_ID,
                "per": REPLIES_PER_TICKET,
            },
        )
        cur.execute(
            """
            INSERT INTO support_ticketreply (ticket_id, kind, author_id, message, emailed_to,
                created_at)
            SELECT t.id, (ARRAY['staff','client','note'])[1 + r %% 3], t.opened_by_id,
                   'Reply ' || r || ' on the bench ticket.', '',
                   t.opened_at + make_interval(mins => r)
            FROM support_ticket t
            CROSS JOIN generate_series(1, CASE WHEN t.client_id = %(busy)s THEN %(busy_r)s
                                               ELSE %(per)s END) AS r
            """,
            {"busy": BUSY_CLIENT_ID, "busy_r": BUSY_REPLIES, "per": REPLIES_PER_TICKET},
        )
        cur.execute(
            """
            INSERT INTO support_communication (client_id, channel, direction, occurred_at,
                duration_minutes, summary, outcome, follow_up_on, follow_up_owner_id,
                follow_up_result, logged_by_id, created_at, updated_at)
            SELECT %(busy)s, (ARRAY['phone','email','chat','meeting','letter'])[1 + g %% 5],
                   (ARRAY['in','out'])[1 + g %% 2], now() - make_interval(mins => g * 7),
                   g %% 30, 'Bench call ' || g, 'information',
                   CASE WHEN g %% 10 = 0 THEN current_date + (g %% 20 - 10) END,
                   CASE WHEN g %% 10 = 0 THEN (%(staff)s::bigint[])[1] END,
                   '', (%(staff)s::bigint[])[1], now(), now()
            FROM generate_series(1, %(calls)s) AS g
            """,
            {"busy": BUSY_CLIENT_ID, "staff": staff, "calls": BUSY_CALLS},
        )
    print(
        f"Seed: {N_TICKETS + BUSY_TICKETS:,} tickets, about "
        f"{N_TICKETS * REPLIES_PER_TICKET:,} replies and {BUSY_CALLS:,} calls in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return True
