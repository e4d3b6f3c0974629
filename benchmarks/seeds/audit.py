"""The audit trail's past: contexts of 20 staff over a year, and a million client events."""

from __future__ import annotations

import time

from benchmarks.config import N_CLIENTS, N_CONTEXTS, N_EVENTS, N_STAFF


def seed_events(staff: list[int]) -> None:
    from django.db import connection, transaction

    from clients.models import ClientEvent

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        # Contexts: as if 20 staff made 50,000 entries over the last year.
        cur.execute(
            """
            INSERT INTO pghistory_context (id, created_at, updated_at, metadata)
            SELECT gen_random_uuid(), ts, ts, jsonb_build_object(
                'user', (%(staff)s::int[])[1 + g %% %(n_staff)s],
                'username', 'bench-staff-' || (g %% %(n_staff)s),
                'ip', '198.51.100.' || (g %% 250),
                'channel', (ARRAY['web','web','web','admin','command'])[1 + g %% 5],
                'request_id', md5(g::text),
                'reason', CASE WHEN g %% 4 = 0 THEN 'phone request #' || g ELSE '' END,
                'action', 'clients.update_client')
            FROM (SELECT g, now() - (g * interval '10 minutes') AS ts
                  FROM generate_series(1, %(n)s) AS g) s
            """,
            {"staff": staff, "n_staff": N_STAFF, "n": N_CONTEXTS},
        )
        # Events: past updates of random clients, each inside one of those contexts.
        existing = ClientEvent.objects.count()
        cur.execute(
            """
            WITH ctx AS (
                SELECT id, created_at, row_number() OVER (ORDER BY created_at) AS n
                FROM pghistory_context WHERE metadata->>'action' = 'clients.update_client'
            ), picks AS (
                SELECT g, 1 + (g::bigint * 7919) %% %(n_ctx)s AS ctx_n,
                       1 + (g::bigint * 104729) %% %(n_clients)s AS client_n
                FROM generate_series(1, %(n)s) AS g
            ), clients AS (
                SELECT c.*, row_number() OVER (ORDER BY id) AS n FROM clients_client c
            )
            INSERT INTO clients_clientevent (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id,
                id, created_at, updated_at, first_name, last_name, company_name, email, phone,
                address1, address2, city, state, postcode, country, status, source,
                billing_email, language, timezone, currency, tax_id, tax_exempt,
                late_fee_exempt, overdue_notice_exempt, default_payment_method, password,
                legacy_id, backdated)
            SELECT ctx.created_at + (p.g %% 600) * interval '1 second', 'update', c.id, ctx.id,
                   c.id, c.created_at, ctx.created_at, c.first_name, c.last_name, c.company_name,
                   c.email, c.phone, c.address1, c.address2, 'Town ' || (p.g %% 997), c.state,
                   c.postcode, c.country, c.status, c.source, c.billing_email, c.language,
                   c.timezone, c.currency, c.tax_id, c.tax_exempt, c.late_fee_exempt,
                   c.overdue_notice_exempt, c.default_payment_method, c.password, c.legacy_id,
                   c.backdated
            FROM picks p JOIN ctx ON ctx.n = p.ctx_n JOIN clients c ON c.n = p.client_n
            """,
            {"n_ctx": N_CONTEXTS, "n_clients": N_CLIENTS, "n": N_EVENTS - existing},
        )
    print(f"Seed: {N_EVENTS:,} audit events in {time.perf_counter() - started:.1f}s")
