"""The staff, the clients, and their contacts and notes."""

from __future__ import annotations

import time

from benchmarks.config import BUSY_CLIENT_ID, FIRST_NAMES, LAST_NAMES, N_CLIENTS, N_STAFF
from benchmarks.seeds.common import set_seed_context


def seed_staff() -> list[int]:
    """The benchmark's staff admins (``bench-staff-0`` … ``-19``); their ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    admin_group = Group.objects.get(name="Admin")
    staff = []
    for i in range(N_STAFF):
        user, _ = user_model.objects.get_or_create(
            username=f"bench-staff-{i}", defaults={"is_staff": True, "is_superuser": i == 0}
        )
        user.groups.add(admin_group)
        staff.append(user.pk)

    return staff


def seed_clients() -> None:
    """100,000 clients, in one INSERT … SELECT attributed to a seed context."""
    from django.db import connection, transaction

    from clients.models import Client

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)  # attributed to a context, as a management command would be
        missing = N_CLIENTS - Client.objects.count()
        cur.execute(
            """
            INSERT INTO clients_client (first_name, last_name, company_name, email, phone,
                address1, address2, city, state, postcode, country, status, source,
                created_at, updated_at, billing_email, language, timezone, currency, tax_id,
                tax_exempt, late_fee_exempt, overdue_notice_exempt, default_payment_method,
                password, legacy_id, backdated)
            SELECT (%(first)s::text[])[1 + g %% array_length(%(first)s::text[], 1)],
                   (%(last)s::text[])[1 + (g / 7) %% array_length(%(last)s::text[], 1)],
                   CASE WHEN g %% 3 = 0 THEN 'Company ' || g ELSE '' END,
                   'bench' || g || '-' || md5(random()::text) || '@example.com',
                   '+4420' || lpad((g %% 100000000)::text, 8, '0'),
                   g || ' High Street', '', 'City ' || (g %% 500), '', 'PC' || (g %% 9999),
                   (ARRAY['GB','US','DE','FR','NL','ES','JP','IN'])[1 + g %% 8],
                   (ARRAY['active','active','active','inactive','closed'])[1 + g %% 5],
                   'migration',
                   now() - (g || ' minutes')::interval, now(), '', 'en', 'UTC', 'GBP',
                   CASE WHEN g %% 5 = 0 THEN 'GB' || (100000000 + g) ELSE '' END,
                   false, false, false, '', '', 'OLD-' || g, false
            FROM generate_series(1, %(n)s) AS g
            """,
            {"first": FIRST_NAMES, "last": LAST_NAMES, "n": missing},
        )
    print(f"Seed: {N_CLIENTS:,} clients in {time.perf_counter() - started:.1f}s")


def seed_profiles(author_id: int) -> None:
    """A contact and two notes for every client; one busy client with 20 contacts, 60 notes."""
    from django.db import connection, transaction

    from clients.models import Contact

    if Contact.objects.exists():
        return
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute(
            """
            INSERT INTO clients_contact (client_id, first_name, last_name, email, phone, role,
                receives_general, receives_invoices, receives_support, receives_products,
                receives_domains, created_at, updated_at)
            SELECT c.id, 'Contact', c.last_name, 'contact' || c.id || '@example.com', '',
                   'technical', false, true, true, false, false, now(), now()
            FROM clients_client c
            """
        )
        cur.execute(
            """
            INSERT INTO clients_note (client_id, author_id, body, pinned, created_at, updated_at)
            SELECT c.id, %s, 'Called about renewal #' || n, n = 1, now(), now()
            FROM clients_client c CROSS JOIN generate_series(1, 2) AS n
            """,
            [author_id],
        )
        busy = BUSY_CLIENT_ID
        cur.execute(
            """
            INSERT INTO clients_contact (client_id, first_name, last_name, email, phone, role,
                receives_general, receives_invoices, receives_support, receives_products,
                receives_domains, created_at, updated_at)
            SELECT %s, 'Extra', 'Contact ' || n, 'extra' || n || '@example.com', '', 'other',
                   true, false, false, false, false, now(), now()
            FROM generate_series(1, 19) AS n
            """,
            [busy],
        )
        cur.execute(
            """
            INSERT INTO clients_note (client_id, author_id, body, pinned, created_at, updated_at)
            SELECT %s, %s, 'Busy client note ' || n, n <= 3, now(), now()
            FROM generate_series(1, 58) AS n
            """,
            [busy, author_id],
        )
    print(f"Seed: contacts and notes in {time.perf_counter() - started:.1f}s")
