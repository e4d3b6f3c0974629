#!/usr/bin/env python
"""Benchmark of the audit seals: sealing throughput and the time of a full verification.

    createdb scratch && DATABASE_URL=postgres://.../scratch .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://.../scratch .venv/bin/python benchmarks/seal.py --events 200000

Only for a scratch database: it inserts synthetic client and note events with SQL (one context
per ten events, dated over the past 30 days), seals them as ``manage.py audit_seal`` would and
times ``audit_verify``, clean and then with one event edited behind the triggers' back (which
is why it needs a scratch database: that edit cannot be undone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local run; DEBUG's query log is disabled below
os.environ.setdefault("AUDIT_SEAL_EXPORT", "")

EVENTS_PER_CONTEXT = 10


def seed(total: int, *, days: float = 30) -> None:
    """``total`` client and note events (seven and three a context), dated over the past
    ``days`` (the newest an hour old)."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM clients_clientevent")
        (existing,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM clients_noteevent")
        existing += cur.fetchone()[0]
    missing = total - existing
    if missing <= 0:
        return
    started = time.perf_counter()
    contexts = -(-missing // EVENTS_PER_CONTEXT)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            CREATE TEMPORARY TABLE bench_ctx ON COMMIT DROP AS
            SELECT g, gen_random_uuid() AS id,
                   now() - interval '1 hour' - (g * (%(days)s * interval '1 day' / %(n)s)) AS ts
            FROM generate_series(1, %(n)s) AS g;
            INSERT INTO pghistory_context (id, created_at, updated_at, metadata)
            SELECT id, ts, ts, jsonb_build_object(
                'user', 1 + g %% 20, 'username', 'bench-staff-' || (g %% 20),
                'ip', '198.51.100.' || (g %% 250), 'channel', 'web',
                'request_id', md5(g::text), 'action', 'clients.update_client',
                'reason', CASE WHEN g %% 4 = 0 THEN 'phone request #' || g ELSE '' END)
            FROM bench_ctx;
            """,
            {"n": contexts, "days": days},
        )
        # Events: each context's ten rows, seven client updates and three notes.
        cur.execute(
            """
            INSERT INTO clients_clientevent (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id,
                id, created_at, updated_at, first_name, last_name, company_name, email,
                billing_email, phone, language, timezone, address1, address2, city, state,
                postcode, country, currency, tax_id, tax_exempt, late_fee_exempt,
                overdue_notice_exempt, default_payment_method, password, status, source,
                legacy_id, backdated)
            SELECT c.ts, 'update', 1 + (c.g * 7 + k) %% 100000, c.id, 1 + (c.g * 7 + k) %% 100000,
                   c.ts - interval '400 days', c.ts, 'Ada', 'Client ' || c.g, 'Analytical Ltd',
                   'client' || c.g || '@example.com', '', '+442079460001', 'en', 'UTC',
                   c.g || ' High Street', '', 'Town ' || (c.g %% 997), '', 'EC1A 1AA', 'GB',
                   'GBP', '', false, false, false, 'bank_transfer', '', 'active', 'phone', '',
                   false
            FROM bench_ctx c CROSS JOIN generate_series(1, 7) AS k;
            INSERT INTO clients_noteevent (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id,
                id, created_at, updated_at, body, pinned, author_id, client_id)
            SELECT c.ts, 'insert', c.g * 3 + k, c.id, c.g * 3 + k, c.ts, c.ts,
                   'Called about invoice #' || c.g || '; promised payment by Friday.', false,
                   1 + c.g %% 20, 1 + c.g %% 100000
            FROM bench_ctx c CROSS JOIN generate_series(1, 3) AS k;
            """,
            {},
        )
    connection.cursor().execute("VACUUM ANALYZE")
    print(f"Seed: {contexts * EVENTS_PER_CONTEXT:,} events in {time.perf_counter() - started:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection

    from audit import seal
    from audit.models import AuditSeal, AuditVerification

    connection.force_debug_cursor = False
    seed(args.events)
    if AuditSeal.objects.exists():
        print("Seal: skipped (this database is sealed already; use a fresh one to time it)")
    else:
        run = seal.seal_pending()
        print(
            f"Seal: {run.rows:,} rows in {len(run.seals)} seals, {run.seconds:.2f}s "
            f"= {run.rows_per_second:,.0f} rows/s"
        )
    for label in ("as it is", "after editing one event"):
        if label != "as it is":
            with connection.cursor() as cur:
                cur.execute("BEGIN; SET LOCAL session_replication_role = replica")
                cur.execute(
                    "UPDATE clients_clientevent SET city = 'Forged'"
                    " WHERE pgh_id = (SELECT max(pgh_id) / 2 FROM clients_clientevent)"
                )
                cur.execute("COMMIT")
        out = StringIO()
        started = time.perf_counter()
        with contextlib.suppress(CommandError):  # raised when it finds problems
            call_command("audit_verify", stdout=out)
        seconds = time.perf_counter() - started
        record = AuditVerification.objects.first()
        print(
            f"Verify ({label}): {seconds:.2f}s for {record.rows_checked:,} sealed rows in "
            f"{record.seals_checked} seals, {record.problems} problem(s)"
        )


if __name__ == "__main__":
    main()
