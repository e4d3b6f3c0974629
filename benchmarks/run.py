#!/usr/bin/env python
"""Benchmark: seed a large dataset fast, then time the key pages against baselines.

    make bench            # or: .venv/bin/python benchmarks/run.py [--iterations 30]

Uses its own database (``<name>_bench``) on the embedded server, or on ``DATABASE_URL``'s
server, so demo data is never touched. Seeding runs once (100,000 clients and 1,000,000 audit
events); later runs reuse it. Requests go through Django's test client in-process, so the
numbers are the application's own time (middleware, queries, templates), not the network's.

Baselines, measured in the same run on the same data:
- lists: the default Django admin changelist of the same model;
- writes: the same form with the audit triggers switched off (here, and only here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local run; DEBUG's query log is disabled below
# The benchmark creates its own database and switches capture triggers off for its baselines:
# it connects as the schema owner, never as the app's role.
os.environ.setdefault("WHMCS_DB_AS_OWNER", "1")

N_CLIENTS = 100_000
N_EVENTS = 1_000_000
N_STAFF = 20
N_CONTEXTS = 50_000
N_SERVICES = 300_000
N_DOMAINS = 200_000
N_INVOICES = 1_000_000
N_TRANSACTIONS = 2_000_000
N_ORDERS = 500_000
N_TICKETS = 200_000
REPLIES_PER_TICKET = 10  # 2,000,000 replies
BUSY_TICKETS = 800  # the busy client's timeline: 800 tickets + 3,200 replies + 1,000 calls
BUSY_REPLIES = 4
BUSY_CALLS = 1_000
N_AFFILIATES = 2_000
BUSY_COMMISSIONS = 5_000  # the busy affiliate's ledger
N_ARTICLES = 100_000
BUSY_CLIENT_ID = 1
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Martin",
    "Garcia",
    "Muller",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Kowalski",
]
FIRST_NAMES = ["Ada", "Alan", "Grace", "Linus", "Tim", "Sophie", "Guido", "Anne", "Priya", "Carlos"]


def configure_database() -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    bench_name = f"{db['NAME']}_bench"
    import psycopg

    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [bench_name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{bench_name}"')
    db["NAME"] = bench_name


def setup_django() -> None:
    import django

    configure_database()
    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log growing across thousands of requests
    settings.ALLOWED_HOSTS = ["testserver"]

    # The baseline for the audit feed: a plain admin changelist of the client event table.
    from django.contrib import admin

    from clients.models import ClientEvent

    if not admin.site.is_registered(ClientEvent):
        admin.site.register(
            ClientEvent,
            list_display=("pgh_created_at", "pgh_label", "pgh_obj", "email", "status"),
            list_filter=("pgh_label",),
        )


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from clients.models import Client, ClientEvent

    call_command("migrate", verbosity=0)
    if Client.objects.count() >= N_CLIENTS and ClientEvent.objects.count() >= N_EVENTS:
        print("Seed: reusing the existing benchmark data.")
        seed_profiles(get_user_model().objects.get(username="bench-staff-0").pk)
        seeded = seed_hosting()
        seeded = seed_billing() or seeded
        seeded = seed_orders() or seeded
        seeded = seed_support() or seeded
        seeded = seed_affiliates() or seeded
        seeded = seed_kb() or seeded
        if seeded:
            connection.cursor().execute("VACUUM ANALYZE")
        return
    started = time.perf_counter()
    user_model = get_user_model()
    admin_group = Group.objects.get(name="Admin")
    staff = []
    for i in range(N_STAFF):
        user, _ = user_model.objects.get_or_create(
            username=f"bench-staff-{i}", defaults={"is_staff": True, "is_superuser": i == 0}
        )
        user.groups.add(admin_group)
        staff.append(user.pk)

    with transaction.atomic(), connection.cursor() as cur:
        # Attribute the seed to a context, as a management command would be.
        cur.execute(
            "SELECT set_config('pghistory.context_id', %s, true),"
            " set_config('pghistory.context_metadata', %s, true)",
            [str(uuid.uuid4()), json.dumps({"channel": "command", "command": "bench-seed"})],
        )
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
    seed_profiles(staff[0])
    seed_hosting()
    seed_billing()
    seed_orders()
    seed_support()
    seed_affiliates()
    seed_kb()
    connection.cursor().execute("VACUUM ANALYZE")


def seed_profiles(author_id: int) -> None:
    """A contact and two notes for every client; one busy client with 20 contacts, 60 notes."""
    from django.db import connection, transaction

    from clients.models import Contact

    if Contact.objects.exists():
        return
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        # With a context set, the capture triggers take their fast path (no exception block
        # per row), as they do inside any request or command.
        cur.execute(
            "SELECT set_config('pghistory.context_id', %s, true),"
            " set_config('pghistory.context_metadata', %s, true)",
            [str(uuid.uuid4()), json.dumps({"channel": "command", "command": "bench-seed"})],
        )
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


def _set_seed_context(cur) -> None:
    # With a context set, the capture triggers take their fast path (no exception block per
    # row), as they do inside any request or command.
    cur.execute(
        "SELECT set_config('pghistory.context_id', %s, true),"
        " set_config('pghistory.context_metadata', %s, true)",
        [str(uuid.uuid4()), json.dumps({"channel": "command", "command": "bench-seed"})],
    )


def seed_hosting() -> bool:
    """300,000 hosting accounts and 200,000 domains spread over the clients."""
    from django.db import connection, transaction

    from demo.hosting import load_starter_catalog
    from hosting.models import Domain, Product, Server, Service, Tld

    if Service.objects.count() >= N_SERVICES and Domain.objects.count() >= N_DOMAINS:
        return False
    started = time.perf_counter()
    load_starter_catalog()
    for i in range(3, 11):
        Server.objects.get_or_create(name=f"web{i:02d}", defaults={"hostname": f"web{i:02d}.x"})
    products = list(Product.objects.values_list("pk", flat=True))
    servers = list(Server.objects.values_list("pk", flat=True))
    tlds = list(Tld.objects.exclude(name="xn--p1ai").values_list("pk", "name"))
    with transaction.atomic(), connection.cursor() as cur:
        _set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO hosting_service (client_id, product_id, server_id, domain, username,
                password, dedicated_ip, assigned_ips, status, registration_date, billing_cycle,
                currency, first_payment_amount, recurring_amount, price_overridden,
                next_due_date, termination_date, payment_method, quantity, admin_notes,
                suspension_reason, override_autosuspend_until, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), (%(products)s::int[])[1 + g %% %(np)s],
                   (%(servers)s::int[])[1 + g %% %(ns)s], 'site' || g || '.example',
                   'u' || g, '', NULL, '{}',
                   (ARRAY['active','active','active','active','suspended','terminated',
                          'cancelled','pending'])[1 + g %% 8],
                   current_date - (g %% 1500), 'monthly', 'GBP', 9.99, 9.99, false,
                   current_date + (g %% 365) - 30, NULL, '', 1, '',
                   CASE WHEN g %% 8 = 4 THEN 'unpaid' ELSE '' END, NULL, now(), now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {
                "first": first_client,
                "n": n_clients,
                "products": products,
                "np": len(products),
                "servers": servers,
                "ns": len(servers),
                "count": N_SERVICES,
            },
        )
        cur.execute(
            """
            INSERT INTO hosting_domain (client_id, service_id, name, tld_id, order_type,
                registrar, period_years, registration_date, expiry_date, next_due_date,
                currency, first_payment_amount, recurring_amount, nameservers, dns_management,
                email_forwarding, id_protection, registrar_lock, do_not_renew, epp_code, status,
                admin_notes, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), NULL,
                   'bench' || g || '.' || (%(tld_names)s::text[])[1 + g %% %(nt)s],
                   (%(tld_ids)s::int[])[1 + g %% %(nt)s], 'register',
                   (ARRAY['', 'Enom', 'OpenSRS', 'Nominet'])[1 + g %% 4], 1,
                   current_date - (g %% 700), current_date - (g %% 700) + 365,
                   current_date - (g %% 700) + 365, 'GBP', 12, 12,
                   '{ns1.example.net,ns2.example.net}', false, false, false, true, false, '',
                   (ARRAY['active','active','active','expired','cancelled'])[1 + g %% 5],
                   '', now(), now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {
                "first": first_client,
                "n": n_clients,
                "tld_ids": [t[0] for t in tlds],
                "tld_names": [t[1] for t in tlds],
                "nt": len(tlds),
                "count": N_DOMAINS,
            },
        )
    print(
        f"Seed: {N_SERVICES:,} hosting accounts, {N_DOMAINS:,} domains in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return True


def seed_billing() -> bool:
    """1,000,000 invoices (every status) and 2,000,000 payment transactions."""
    from django.db import connection, transaction

    from billing.models import Invoice, InvoiceSeries, Transaction
    from demo.billing import load_billing_defaults

    if Invoice.objects.count() >= N_INVOICES and Transaction.objects.count() >= N_TRANSACTIONS:
        return False
    started = time.perf_counter()
    load_billing_defaults()
    series = InvoiceSeries.objects.get(is_default=True).pk
    with transaction.atomic(), connection.cursor() as cur:
        _set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO billing_invoice (client_id, series_id, number, sequence, status, currency,
                issue_date, due_date, published_at, paid_at, tax1_name, tax1_rate, tax2_name,
                tax2_rate, tax2_compound, tax_rounding, subtotal, tax1_amount, tax2_amount, total,
                amount_paid, paid_without_payment, status_reason, public_notes, private_notes,
                created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), %(series)s,
                   CASE WHEN s = 'draft' THEN NULL ELSE 'BENCH-' || lpad(g::text, 8, '0') END,
                   CASE WHEN s = 'draft' THEN NULL ELSE g END, s, 'GBP',
                   current_date - (g %% 1000), current_date - (g %% 1000) + 14,
                   now(), CASE WHEN s = 'paid' THEN now() END, 'VAT', 20, '', 0, false,
                   'invoice', 10 + g %% 500, (10 + g %% 500) * 0.2, 0, (10 + g %% 500) * 1.2,
                   CASE WHEN s = 'paid' THEN (10 + g %% 500) * 1.2 ELSE 0 END, false, '', '', '',
                   now(), now()
            FROM (SELECT g, (ARRAY['paid','paid','paid','paid','paid','unpaid','unpaid',
                                   'cancelled','collections','draft'])[1 + g %% 10] AS s
                  FROM generate_series(1, %(count)s) AS g) AS rows
            """,
            {"first": first_client, "n": n_clients, "series": series, "count": N_INVOICES},
        )
        cur.execute(
            """
            INSERT INTO billing_transaction (client_id, kind, gateway, transaction_id,
                allow_duplicate_id, date, backdated, currency, amount_in, amount_out, fees,
                description, refund_of_id, created_by_id, created_at)
            SELECT %(first)s + (g %% %(n)s), 'payment',
                   (ARRAY['bank_transfer','card','paypal','stripe','cash'])[1 + g %% 5],
                   'BTX' || g, false, now() - make_interval(mins => g), false, 'GBP',
                   10 + g %% 500, 0, 0, 'Payment', NULL, NULL, now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {"first": first_client, "n": n_clients, "count": N_TRANSACTIONS},
        )
        cur.execute(
            "INSERT INTO billing_invoicecounter (series_id, year, last_number) "
            "VALUES (%s, 0, %s) ON CONFLICT (series_id, year) DO UPDATE SET last_number = %s",
            [series, N_INVOICES, N_INVOICES],
        )
    print(
        f"Seed: {N_INVOICES:,} invoices, {N_TRANSACTIONS:,} transactions in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return True


def seed_orders() -> bool:
    """500,000 orders (every status) with one product line each."""
    from django.db import connection, transaction

    from hosting.models import Product
    from orders.models import Order

    if Order.objects.count() >= N_ORDERS:
        return False
    started = time.perf_counter()
    product = Product.objects.order_by("id").first().pk
    with transaction.atomic(), connection.cursor() as cur:
        _set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO orders_order (client_id, status, currency, payment_method,
                promotion_code, send_confirmation, generate_invoice, send_invoice_email,
                item_status, first_payment_total, price_override_reason, admin_notes,
                status_reason, accepted_at, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), s, 'GBP', 'bank_transfer', '', true, true, true,
                   'pending', 5 + g %% 200, '', '', '',
                   CASE WHEN s IN ('active', 'cancelled') THEN now() END,
                   now() - make_interval(mins => g), now()
            FROM (SELECT g, (ARRAY['active','active','active','active','active','active',
                                   'pending','pending','cancelled','fraud'])[1 + g %% 10] AS s
                  FROM generate_series(1, %(count)s) AS g) AS rows
            """,
            {"first": first_client, "n": n_clients, "count": N_ORDERS},
        )
        cur.execute(
            """
            INSERT INTO orders_orderline (order_id, position, kind, description, product_id,
                hostname, billing_cycle, quantity, domain_name, domain_order_type, epp_code,
                nameservers, id_protection, dns_management, addon_name, setup_fee,
                first_period_amount, discount, recurring_amount, price_overridden)
            SELECT id, 0, 'product', 'Bench plan', %(product)s, '', 'monthly', 1, '', '', '',
                   '{}', false, false, '', 0, first_payment_total, 0, first_payment_total, false
            FROM orders_order
            """,
            {"product": product},
        )
    print(f"Seed: {N_ORDERS:,} orders in {time.perf_counter() - started:.1f}s")
    return True


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
        _set_seed_context(cur)
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


def seed_affiliates() -> bool:
    """2,000 affiliates with a few commissions each; the first has 5,000 commissions, 1,000
    referrals and 100 payouts."""
    from django.db import connection, transaction

    from affiliates.models import Affiliate

    if Affiliate.objects.count() >= N_AFFILIATES:
        return False
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        _set_seed_context(cur)
        cur.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%'")
        (staff,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO affiliates_affiliate (client_id, code, commission_type, commission_value,
                payout_threshold, active, notes, enrolled_by_id, created_at, updated_at)
            SELECT c.id, 'BENCH-' || c.id, 'default', NULL, 25, true, '', %(staff)s, now(), now()
            FROM clients_client c WHERE c.id <> %(busy)s ORDER BY c.id LIMIT %(n)s
            """,
            {"staff": staff, "busy": BUSY_CLIENT_ID, "n": N_AFFILIATES},
        )
        cur.execute("SELECT min(id) FROM affiliates_affiliate")
        (busy,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO affiliates_referral (affiliate_id, client_id, active, created_by_id,
                created_at)
            SELECT %(busy)s, c.id, true, %(staff)s,
                   now() - make_interval(days => (c.id %% 900)::int)
            FROM clients_client c WHERE c.id > 10000 ORDER BY c.id LIMIT 1000
            """,
            {"busy": busy, "staff": staff},
        )
        cur.execute(
            """
            INSERT INTO affiliates_payout (affiliate_id, amount, method, reference, note,
                created_by_id, created_at)
            SELECT %(busy)s, 50, 'manual', 'BP-' || g, '', %(staff)s,
                   now() - make_interval(days => g)
            FROM generate_series(1, 100) AS g
            """,
            {"busy": busy, "staff": staff},
        )
        cur.execute(
            """
            INSERT INTO affiliates_commission (affiliate_id, kind, amount, note, status,
                clears_on, cleared_at, created_by_id, reversal_reason, created_at, updated_at)
            SELECT a.id, 'commission', 1 + (g %% 20), 'Bench commission', s,
                   current_date + (g %% 60 - 30),
                   CASE WHEN s = 'cleared' THEN now() END, %(staff)s,
                   CASE WHEN s = 'reversed' THEN 'bench' ELSE '' END,
                   now() - make_interval(hours => g), now()
            FROM affiliates_affiliate a
            CROSS JOIN LATERAL generate_series(1, CASE WHEN a.id = %(busy)s THEN %(busy_n)s
                                                       ELSE 5 END) AS g
            CROSS JOIN LATERAL (SELECT (ARRAY['pending','cleared','cleared','reversed'])
                                       [1 + g %% 4] AS s) AS st
            """,
            {"busy": busy, "staff": staff, "busy_n": BUSY_COMMISSIONS},
        )
    print(f"Seed: {N_AFFILIATES:,} affiliates in {time.perf_counter() - started:.1f}s")
    return True


def seed_kb() -> bool:
    """100,000 articles in 50 categories. "hosting" is in every article; "zeppelin" in ten."""
    from django.db import connection, transaction

    from kb.models import Article

    if Article.objects.count() >= N_ARTICLES:
        return False
    started = time.perf_counter()
    words = [
        *("domain", "email", "server", "backup", "restore", "password", "database"),
        *("website", "upload", "ftp", "dns", "record", "certificate", "ssl", "invoice"),
        *("payment", "account", "cpanel", "plesk", "php", "mysql", "cron", "redirect"),
        *("forward", "mailbox", "quota", "spam", "filter", "migrate", "transfer", "renew"),
    ]
    with transaction.atomic(), connection.cursor() as cur:
        _set_seed_context(cur)
        cur.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%'")
        (staff,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO kb_category (name, slug, description, position, public, created_at,
                updated_at)
            SELECT 'Bench category ' || g, 'bench-' || g, '', g, true, now(), now()
            FROM generate_series(1, 50) AS g
            """
        )
        cur.execute("SELECT array_agg(id ORDER BY id) FROM kb_category WHERE slug LIKE 'bench-%%'")
        (categories,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO kb_article (category_id, title, slug, body, body_html, tags, status,
                visibility, published_at, created_by_id, updated_by_id, created_at, updated_at)
            SELECT (%(categories)s::bigint[])[1 + g %% 50],
                   initcap(w[1 + g %% 30]) || ' and ' || w[1 + (g / 30) %% 30] || ' guide ' || g,
                   'bench-article-' || g, b, b, w[1 + g %% 30],
                   CASE WHEN g %% 10 = 0 THEN 'draft' ELSE 'published' END,
                   CASE WHEN g %% 20 = 0 THEN 'staff' ELSE 'public' END,
                   CASE WHEN g %% 10 = 0 THEN NULL ELSE now() - make_interval(mins => g) END,
                   %(staff)s, %(staff)s, now() - make_interval(mins => g),
                   now() - make_interval(mins => g)
            FROM (
                SELECT g, %(words)s::text[] AS w,
                       'How hosting handles ' || array_to_string(ARRAY(
                           SELECT (%(words)s::text[])[1 + ((g * 7 + i * 13) %% 30)]
                           FROM generate_series(1, 80) AS i), ' ')
                       || CASE WHEN g %% 10000 = 1 THEN ' zeppelin' ELSE '' END
                       || '. Contact support if the hosting panel shows an error.' AS b
                FROM generate_series(1, %(n)s) AS g
            ) AS rows
            """,
            {"categories": categories, "staff": staff, "words": words, "n": N_ARTICLES},
        )
        cur.execute(
            "INSERT INTO kb_articlestats (article_id, views, helpful_yes, helpful_no) "
            "SELECT id, 0, 0, 0 FROM kb_article"
        )
    print(f"Seed: {N_ARTICLES:,} articles in {time.perf_counter() - started:.1f}s")
    return True


def measure(label: str, call: Callable[[int], object], iterations: int) -> dict[str, float]:
    for i in range(3):  # warm-up: connections, template caches
        call(-1 - i)
    samples = []
    for i in range(iterations):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return summarise(label, samples)


def summarise(label: str, samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"label": label, "median": statistics.median(samples), "p95": p95}


def run(iterations: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as HttpClient

    user = get_user_model().objects.get(username="bench-staff-0")
    actor = get_user_model().objects.get(username="bench-staff-3")
    http = HttpClient()
    http.force_login(user)

    def get(url: str) -> Callable[[int], object]:
        def call(_: int) -> None:
            response = http.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        return call

    run_id = uuid.uuid4().hex[:8]

    def create(prefix: str) -> Callable[[int], object]:
        def call(i: int) -> None:
            response = http.post(
                "/clients/new/",
                {
                    "first_name": "Bench",
                    "last_name": "Writer",
                    "email": f"{prefix}-{run_id}-{i}@bench.example",
                    "phone": "+442079460000",
                    "country": "GB",
                    "source": "phone",
                    "language": "en",
                    "timezone": "UTC",
                    "currency": "GBP",
                },
            )
            if response.status_code != 302:
                raise RuntimeError(f"the client form answered {response.status_code}")

        return call

    def triggers(enabled: bool) -> None:
        set_capture_triggers(("clients_client",), enabled)

    rows = []

    def pair(name: str, ours: dict, base: dict | None, note: str = "") -> None:
        rows.append({**ours, "name": name, "baseline": base, "note": note})

    page1 = measure("client list, page 1", get("/clients/"), iterations)
    page1000 = measure("client list, page 1,000", get("/clients/?page=1000"), iterations)
    admin1 = measure("admin changelist, page 1", get("/admin/clients/client/"), iterations)
    admin1000 = measure(
        "admin changelist, page 1,000", get("/admin/clients/client/?p=1000"), iterations
    )
    search = measure("client search 'smi'", get("/clients/?q=smi"), iterations)
    admin_search = measure("admin search 'smi'", get("/admin/clients/client/?q=smi"), iterations)
    busy = f"/clients/{BUSY_CLIENT_ID}/"
    profile = measure("profile summary", get(busy), iterations)
    profile_notes = measure("profile notes tab", get(busy + "?tab=notes"), iterations)
    profile_contacts = measure("profile contacts tab", get(busy + "?tab=contacts"), iterations)
    admin_change = measure(
        "admin change form", get(f"/admin/clients/client/{BUSY_CLIENT_ID}/change/"), iterations
    )
    services_1 = measure("service list p1", get("/hosting/services/"), iterations)
    services_deep = measure("service list p1000", get("/hosting/services/?page=1000"), iterations)
    services_f = measure(
        "service list filtered",
        get("/hosting/services/?status=suspended&due_after=2026-01-01&due_before=2027-12-31"),
        iterations,
    )
    admin_services = measure("admin services", get("/admin/hosting/service/"), iterations)
    admin_services_f = measure(
        "admin services filtered",
        get("/admin/hosting/service/?status__exact=suspended"),
        iterations,
    )
    domains_1 = measure("domain list p1", get("/hosting/domains/"), iterations)
    domains_f = measure(
        "domain list filtered",
        get("/hosting/domains/?status=active&expires_after=2026-12-01&expires_before=2027-06-30"),
        iterations,
    )
    domain_search = measure("domain search", get("/hosting/domains/?q=bench12"), iterations)
    admin_domains = measure("admin domains", get("/admin/hosting/domain/"), iterations)
    admin_domains_f = measure(
        "admin domains filtered", get("/admin/hosting/domain/?status__exact=active"), iterations
    )
    feed = measure("audit feed, first page", get("/audit/"), iterations)
    feed_actor = measure("audit feed, by actor", get(f"/audit/?actor={actor.pk}"), iterations)
    admin_events = measure(
        "admin events changelist", get("/admin/clients/clientevent/"), iterations
    )
    admin_events_f = measure(
        "admin events, filtered",
        get("/admin/clients/clientevent/?pgh_label__exact=update"),
        iterations,
    )
    inv_1 = measure("invoice list p1", get("/billing/invoices/"), iterations)
    inv_deep = measure("invoice list p1000", get("/billing/invoices/?page=1000"), iterations)
    inv_f = measure(
        "invoice list filtered",
        get("/billing/invoices/?status=unpaid&due_from=2025-01-01&due_to=2025-12-31&total_min=100"),
        iterations,
    )
    inv_overdue = measure("invoices overdue", get("/billing/invoices/?overdue=on"), iterations)
    inv_number = measure("invoice number", get("/billing/invoices/?number=BENCH-0012"), iterations)
    admin_inv = measure("admin invoices", get("/admin/billing/invoice/"), iterations)
    admin_inv_f = measure(
        "admin invoices filtered", get("/admin/billing/invoice/?status__exact=unpaid"), iterations
    )
    txn_1 = measure("transaction list p1", get("/billing/transactions/"), iterations)
    txn_f = measure(
        "transactions filtered",
        get("/billing/transactions/?gateway=paypal&date_from=2025-06-01&date_to=2026-06-01"),
        iterations,
    )
    txn_id = measure(
        "transaction id", get("/billing/transactions/?transaction_id=BTX123456"), iterations
    )
    admin_txn = measure("admin transactions", get("/admin/billing/transaction/"), iterations)
    tab_inv = measure("billing tab invoices", get(busy + "?tab=invoices"), iterations)
    tab_txn = measure("billing tab transactions", get(busy + "?tab=transactions"), iterations)
    tab_credit = measure("billing tab credit", get(busy + "?tab=credit"), iterations)
    publish_on, publish_off = _publish_and_pay(http, iterations, triggers_for_billing)
    ord_1 = measure("order list p1", get("/orders/"), iterations)
    ord_deep = measure("order list p1000", get("/orders/?page=1000"), iterations)
    ord_f = measure(
        "orders filtered",
        get("/orders/?status=pending&placed_from=2026-01-01&placed_to=2026-12-31"),
        iterations,
    )
    ord_client = measure("orders of a client", get(f"/orders/?client={BUSY_CLIENT_ID}"), iterations)
    admin_ord = measure("admin orders", get("/admin/orders/order/"), iterations)
    admin_ord_f = measure(
        "admin orders filtered", get("/admin/orders/order/?status__exact=pending"), iterations
    )
    tab_orders = measure("client tab orders", get(busy + "?tab=orders"), iterations)
    order_on, order_off = _place_order(http, iterations, triggers_for_orders)
    queue_1 = measure("ticket queue p1", get("/support/tickets/"), iterations)
    queue_deep = measure(
        "ticket queue p1000 (all)", get("/support/tickets/?view=all&page=1000"), iterations
    )
    queue_f = measure(
        "ticket queue filtered",
        get(f"/support/tickets/?status=customer_reply&priority=high&assignee={actor.pk}"),
        iterations,
    )
    queue_mine = measure("ticket queue, mine", get("/support/tickets/?assignee=me"), iterations)
    queue_client = measure(
        "ticket queue, one client",
        get(f"/support/tickets/?view=all&client={BUSY_CLIENT_ID}"),
        iterations,
    )
    admin_tickets = measure("admin tickets", get("/admin/support/ticket/"), iterations)
    admin_tickets_f = measure(
        "admin tickets filtered",
        get("/admin/support/ticket/?status__exact=customer_reply&priority__exact=high"),
        iterations,
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT number FROM support_ticket WHERE client_id <> %s ORDER BY id LIMIT 1",
            [BUSY_CLIENT_ID],
        )
        (number,) = cur.fetchone()
    ticket_page = measure("ticket page", get(f"/support/tickets/{number}/"), iterations)
    admin_ticket = measure(
        "admin ticket change", get("/admin/support/ticket/?number=" + number), iterations
    )
    timeline_1 = measure("timeline p1", get(busy + "?tab=timeline"), iterations)
    cursor_url = _timeline_cursor(user, busy, pages=50)
    timeline_deep = measure("timeline p50", get(cursor_url), iterations)
    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM affiliates_affiliate")
        (busy_affiliate,) = cur.fetchone()
    aff_list = measure("affiliate list", get("/affiliates/"), iterations)
    aff_detail = measure("affiliate detail", get(f"/affiliates/{busy_affiliate}/"), iterations)
    admin_aff = measure("admin affiliates", get("/admin/affiliates/affiliate/"), iterations)
    admin_comm = measure(
        "admin commissions of one",
        get(f"/admin/affiliates/commission/?affiliate__id__exact={busy_affiliate}"),
        iterations,
    )
    kb_common = measure("kb search common", get("/kb/public/?q=hosting"), iterations)
    kb_rare = measure("kb search rare", get("/kb/public/?q=zeppelin"), iterations)
    kb_two = measure("kb search two words", get("/kb/public/?q=backup+restore"), iterations)
    kb_staff = measure("kb staff search", get("/kb/?q=hosting"), iterations)
    kb_list = measure("kb article list", get("/kb/"), iterations)
    admin_kb = measure("admin articles", get("/admin/kb/article/"), iterations)
    admin_kb_q = measure("admin article search", get("/admin/kb/article/?q=zeppelin"), iterations)
    timeline_f = measure(
        "timeline replies only",
        get(busy + "?tab=timeline&kind=reply&kind=communication"),
        iterations,
    )

    # Saves with and without the triggers alternate, so that drift (caches, table growth, the
    # other core's load) hits both sides alike.
    on, off = create("on"), create("off")
    save_samples: list[float] = []
    off_samples: list[float] = []
    for i in range(3):
        on(-1 - i)
    try:
        for i in range(iterations):
            for enabled, call, samples in ((True, on, save_samples), (False, off, off_samples)):
                triggers(enabled)
                started = time.perf_counter()
                call(i)
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        triggers(True)
    save = summarise("create client (form), audited", save_samples)
    save_off = summarise("create client (form), triggers off", off_samples)

    pair("Client list, page 1", page1, admin1)
    pair(
        "Client list, page 1,000",
        page1000,
        admin1000,
        f"{page1000['median'] / page1['median']:.2f}x page 1",
    )
    pair("Client search", search, admin_search)
    pair("Profile (60 notes, 20 contacts)", profile, admin_change, "baseline: admin change form")
    pair("Profile, notes tab", profile_notes, admin_change)
    pair("Profile, contacts tab", profile_contacts, admin_change)
    pair("Services, page 1", services_1, admin_services)
    pair(
        "Services, page 1,000",
        services_deep,
        admin_services,
        f"{services_deep['median'] / services_1['median']:.2f}x page 1",
    )
    pair("Services, status + due range", services_f, admin_services_f)
    pair("Domains, page 1", domains_1, admin_domains)
    pair("Domains, status + expiry range", domains_f, admin_domains_f)
    pair("Domain search", domain_search, admin_domains)
    pair("Audit feed, first page", feed, admin_events)
    pair("Audit feed, by actor", feed_actor, admin_events_f)
    pair("Create client via form", save, save_off, "baseline: audit triggers off")
    pair("Invoices, page 1", inv_1, admin_inv)
    pair(
        "Invoices, page 1,000",
        inv_deep,
        admin_inv,
        f"{inv_deep['median'] / inv_1['median']:.2f}x page 1",
    )
    pair("Invoices, status+due+amount", inv_f, admin_inv_f)
    pair("Invoices, overdue", inv_overdue, admin_inv_f)
    pair("Invoices, number prefix", inv_number, admin_inv)
    pair("Transactions, page 1", txn_1, admin_txn)
    pair("Transactions, gateway+dates", txn_f, admin_txn)
    pair("Transactions, by ID", txn_id, admin_txn)
    pair("Client tab: invoices", tab_inv, admin_change)
    pair("Client tab: transactions", tab_txn, admin_change)
    pair("Client tab: credit", tab_credit, admin_change)
    pair("Publish + pay via forms", publish_on, publish_off, "baseline: audit triggers off")
    pair("Orders, page 1", ord_1, admin_ord)
    pair(
        "Orders, page 1,000",
        ord_deep,
        admin_ord,
        f"{ord_deep['median'] / ord_1['median']:.2f}x page 1",
    )
    pair("Orders, status + date range", ord_f, admin_ord_f)
    pair("Orders, one client", ord_client, admin_ord_f)
    pair("Client tab: orders", tab_orders, admin_change)
    pair("Place + accept order via form", order_on, order_off, "baseline: audit triggers off")
    pair("Ticket queue, page 1", queue_1, admin_tickets)
    pair(
        "Ticket queue, page 1,000 (all)",
        queue_deep,
        admin_tickets,
        f"{queue_deep['median'] / queue_1['median']:.2f}x page 1",
    )
    pair("Tickets, status+priority+staff", queue_f, admin_tickets_f)
    pair("Tickets, my tickets", queue_mine, admin_tickets_f)
    pair("Tickets, one client", queue_client, admin_tickets_f)
    pair("Ticket page (10 replies)", ticket_page, admin_ticket, "baseline: admin search")
    pair("Timeline, 5,000+ entries, p1", timeline_1, admin_change)
    pair(
        "Timeline, page 50",
        timeline_deep,
        admin_change,
        f"{timeline_deep['median'] / timeline_1['median']:.2f}x page 1",
    )
    pair("Timeline, two kinds", timeline_f, admin_change)
    pair("Affiliates, page 1", aff_list, admin_aff)
    pair("Affiliate (5,000 commissions)", aff_detail, admin_comm, "baseline: admin filtered")
    pair("KB search, word in every article", kb_common, admin_kb_q, "public, ranked")
    pair("KB search, rare word", kb_rare, admin_kb_q, "public, ranked")
    pair("KB search, two words", kb_two, admin_kb_q, "public, ranked")
    pair("KB search, staff", kb_staff, admin_kb_q)
    pair("KB article list", kb_list, admin_kb)
    return rows


def _timeline_cursor(user, url: str, pages: int) -> str:
    """The URL of the busy client's timeline ``pages`` pages deep (following "Older")."""
    from clients.models import Client
    from clients.timeline import timeline_page

    customer = Client.objects.get(pk=BUSY_CLIENT_ID)
    cursor = None
    for _ in range(pages - 1):
        page = timeline_page(client=customer, user=user, cursor=cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return f"{url}?tab=timeline" + (f"&after={cursor}" if cursor else "")


BILLING_TABLES = (
    "billing_invoice",
    "billing_invoicecounter",
    "billing_transaction",
    "billing_allocation",
    "billing_creditentry",
)


def set_capture_triggers(tables: tuple[str, ...], enabled: bool) -> None:
    """Benchmark only: the capture-off baseline. The app never disables a trigger.

    Only the capture triggers (pghistory's insert/update/delete events) are switched off; the
    integrity and append-only triggers stay on, so the baseline does the same checks.
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname = ANY(%s) AND t.tgname ~ '^pgtrigger_(insert_insert|update_update|"
            "delete_delete)_'",
            [list(tables)],
        )
        for table, trigger in cur.fetchall():
            verb = "ENABLE" if enabled else "DISABLE"
            cur.execute(f'ALTER TABLE "{table}" {verb} TRIGGER "{trigger}"')


def triggers_for_billing(enabled: bool) -> None:
    set_capture_triggers(BILLING_TABLES, enabled)


def _publish_and_pay(http, iterations: int, triggers) -> tuple[dict, dict]:
    """Publish a draft and record its full payment through the web forms, audit on vs off."""
    from django.utils import timezone

    from billing import services
    from clients.models import Client

    customer = Client.objects.order_by("id")[5]
    today = timezone.localdate()

    def draft() -> int:
        invoice = services.create_invoice(
            client=customer,
            lines=[services.LineData("Bench line", Decimal(1), Decimal("10.00"))],
            issue_date=today,
            due_date=today,
            actor=None,
        )
        return invoice.pk

    def publish_and_pay(pk: int) -> None:
        r1 = http.post(f"/billing/invoices/{pk}/publish/", {})
        r2 = http.post(
            f"/billing/invoices/{pk}/payment/",
            {
                "gateway": "cash",
                "date": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                "fees": "0",
            },
        )
        if r1.status_code != 302 or r2.status_code != 302:
            raise RuntimeError(f"publish/pay answered {r1.status_code}/{r2.status_code}")

    on_samples: list[float] = []
    off_samples: list[float] = []
    try:
        for _ in range(iterations):
            for enabled, samples in ((True, on_samples), (False, off_samples)):
                triggers(True)
                pk = draft()
                triggers(enabled)
                started = time.perf_counter()
                publish_and_pay(pk)
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        triggers(True)
    return summarise("publish+pay audited", on_samples), summarise("publish+pay off", off_samples)


ORDER_TABLES = (
    *BILLING_TABLES,
    "orders_order",
    "orders_orderline",
    "hosting_service",
    "hosting_domain",
    "clients_client",
)


def triggers_for_orders(enabled: bool) -> None:
    set_capture_triggers(ORDER_TABLES, enabled)


def _place_order(http, iterations: int, triggers) -> tuple[dict, dict]:
    """Place and accept a two-line order (account + domain, one invoice) through the order
    form, audit on vs off, alternating."""
    from clients.models import Client
    from demo.hosting import load_starter_catalog
    from hosting.models import Product

    load_starter_catalog()
    customer = Client.objects.order_by("id")[7]
    product = Product.objects.get(name="Business").pk
    run_id = uuid.uuid4().hex[:8]

    def place(i: int, side: str) -> None:
        name = f"bench-{run_id}-{side}-{i}.com"
        data = {
            "client": customer.pk,
            "order_status": "active",
            "item_status": "active",
            "payment_method": "bank_transfer",
            "promotion_code": "",
            "generate_invoice": "on",
            "admin_notes": "",
            "audit_reason": "",
            "action": "place",
            "products-TOTAL_FORMS": 1,
            "products-INITIAL_FORMS": 0,
            "products-0-product": product,
            "products-0-billing_cycle": "monthly",
            "products-0-quantity": 1,
            "products-0-hostname": name,
            "domains-TOTAL_FORMS": 1,
            "domains-INITIAL_FORMS": 0,
            "domains-0-name": name,
            "domains-0-order_type": "register",
            "domains-0-period_years": 1,
            "addons-TOTAL_FORMS": 0,
            "addons-INITIAL_FORMS": 0,
        }
        response = http.post("/orders/new/", data)
        if response.status_code != 302:
            raise RuntimeError(f"the order form answered {response.status_code}")

    on_samples: list[float] = []
    off_samples: list[float] = []
    try:
        for i in range(iterations):
            for enabled, side, samples in ((True, "on", on_samples), (False, "off", off_samples)):
                triggers(enabled)
                started = time.perf_counter()
                place(i, side)
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        triggers(True)
    return summarise("order audited", on_samples), summarise("order off", off_samples)


def report(rows: list[dict]) -> str:
    lines = [
        f"{'page':<32} {'median ms':>10} {'p95 ms':>8} {'baseline median':>16} {'ratio':>6}  note",
        "-" * 94,
    ]
    for r in rows:
        base = r["baseline"]
        ratio = r["median"] / base["median"] if base else float("nan")
        lines.append(
            f"{r['name']:<32} {r['median']:>10.1f} {r['p95']:>8.1f} "
            f"{base['median'] if base else float('nan'):>16.1f} {ratio:>6.2f}  {r['note']}"
        )
    by_name = {r["name"]: r for r in rows}
    deep = by_name["Client list, page 1,000"]["median"] / by_name["Client list, page 1"]["median"]
    save = by_name["Create client via form"]
    overhead = save["median"] / save["baseline"]["median"] - 1
    feed = by_name["Audit feed, first page"]["median"]
    feed_actor = by_name["Audit feed, by actor"]["median"]
    pay = by_name["Publish + pay via forms"]
    pay_overhead = pay["median"] / pay["baseline"]["median"] - 1
    inv_deep = by_name["Invoices, page 1,000"]["median"] / by_name["Invoices, page 1"]["median"]
    order = by_name["Place + accept order via form"]
    order_overhead = order["median"] / order["baseline"]["median"] - 1
    ord_deep = by_name["Orders, page 1,000"]["median"] / by_name["Orders, page 1"]["median"]
    queue = by_name["Ticket queue, page 1"]["median"]
    queue_deep = by_name["Ticket queue, page 1,000 (all)"]["median"] / queue
    timeline = by_name["Timeline, 5,000+ entries, p1"]["median"]
    timeline_deep = by_name["Timeline, page 50"]["median"] / timeline
    kb_worst = max(
        by_name[n]["median"]
        for n in (
            "KB search, word in every article",
            "KB search, rare word",
            "KB search, two words",
        )
    )
    lines += [
        "",
        f"Targets: audit overhead on a form save {overhead:+.1%} (<= 15%): "
        f"{'OK' if overhead <= 0.15 else 'MISSED'}; deep page {deep:.2f}x page 1 (<= 1.3x): "
        f"{'OK' if deep <= 1.3 else 'MISSED'}; feed first page {feed:.1f} ms (< 50 ms): "
        f"{'OK' if feed < 50 else 'MISSED'}; feed by actor {feed_actor:.1f} ms (< 50 ms): "
        f"{'OK' if feed_actor < 50 else 'MISSED'}",
        f"Billing: audit overhead on publish + pay {pay_overhead:+.1%} (<= 15%): "
        f"{'OK' if pay_overhead <= 0.15 else 'MISSED'}; invoices deep page {inv_deep:.2f}x "
        f"page 1 (<= 1.3x): {'OK' if inv_deep <= 1.3 else 'MISSED'}",
        f"Orders: audit overhead on placing + accepting {order_overhead:+.1%} (<= 15%): "
        f"{'OK' if order_overhead <= 0.15 else 'MISSED'}; orders deep page {ord_deep:.2f}x "
        f"page 1 (<= 1.3x): {'OK' if ord_deep <= 1.3 else 'MISSED'}",
        f"Support: ticket queue {queue:.1f} ms (< 100 ms): {'OK' if queue < 100 else 'MISSED'}; "
        f"deep page {queue_deep:.2f}x page 1 (<= 1.3x): {'OK' if queue_deep <= 1.3 else 'MISSED'}"
        f"; timeline {timeline:.1f} ms (< 100 ms): {'OK' if timeline < 100 else 'MISSED'}, "
        f"page 50 {timeline_deep:.2f}x page 1 (<= 1.3x): "
        f"{'OK' if timeline_deep <= 1.3 else 'MISSED'}",
        f"Knowledgebase: slowest public search {kb_worst:.1f} ms (< 100 ms): "
        f"{'OK' if kb_worst < 100 else 'MISSED'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    setup_django()
    seed()
    from clients.models import Client, ClientEvent
    from hosting.models import Domain, Service

    print(
        f"Data: {Client.objects.count():,} clients, {ClientEvent.objects.count():,} client "
        f"events, {Service.objects.count():,} hosting accounts, {Domain.objects.count():,} domains"
    )
    rows = run(args.iterations)
    table = report(rows)
    print()
    print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.txt").write_text(table + "\n")


if __name__ == "__main__":
    main()
