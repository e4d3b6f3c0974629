#!/usr/bin/env python
"""Benchmark of the audit archive: the feed and verification at 1x and 10x the events.

    createdb scratch && DATABASE_URL=postgres://.../scratch .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://.../scratch .venv/bin/python benchmarks/archive.py --events 1000000

Only for a scratch database (``benchmarks/seal.py`` seeds it: client and note events, one
context per ten). Events come at a fixed rate (``--per-day``), so 10x the events is 10x the
history: the trail growing for years, the case the archive is for. The run seals everything,
moves the months older than ``--after-days`` into the archive, checks once every archived month
(the first ``audit_verify``, recorded) and then times, with the median of ``--iterations``:
the feed's first page and the first page reaching into the archive (in process, hydration
included), and the routine ``audit_verify`` (the retention window plus one archived month).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local run; DEBUG's query log is disabled below
os.environ.setdefault("AUDIT_SEAL_EXPORT", "")


def timed(func, iterations: int) -> float:
    """Median milliseconds of ``func()`` after one warm-up call."""
    func()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=2_500)
    parser.add_argument("--after-days", type=int, default=90)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument(
        "--max-rows", type=int, default=20_000, help="rows per seal (as audit_seal)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    import seal as seal_bench  # benchmarks/seal.py, on sys.path as this script's folder
    from django.db import connection

    from audit import archive, seal
    from audit.feed import Feed, FeedFilters, encode_cursor
    from audit.models import AuditSeal

    connection.force_debug_cursor = False
    if not AuditSeal.objects.exists():  # a second run only times (the archive holds the rest)
        seal_bench.seed(args.events, days=args.events / args.per_day)
    started = time.perf_counter()
    run = seal.seal_pending(max_rows=args.max_rows)
    if run.seals:
        seconds = time.perf_counter() - started
        print(f"Seal: {run.rows:,} rows in {len(run.seals)} seals, {seconds:.1f}s")
    started = time.perf_counter()
    moved = archive.archive_sealed(after_days=args.after_days, max_months=10_000)
    if moved.months:
        print(
            f"Archive: {moved.rows:,} events in {len(moved.months)} months,"
            f" {time.perf_counter() - started:.1f}s"
        )
        connection.cursor().execute("VACUUM ANALYZE")
    started = time.perf_counter()
    first = seal.verify()
    first_seconds = time.perf_counter() - started
    print(
        f"Verify (first, checks every archived month once): {first_seconds:.1f}s,"
        f" {first.record.rows_checked:,} rows, ok={first.ok}"
    )

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM clients_clientevent")
        live = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM clients_noteevent")
        live += cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM audit_archived_event")
        archived = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_archived_event'::regclass"
        )
        partitions = cur.fetchone()[0]
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cur.fetchone()[0]
    through = archive.archived_through()
    into_archive = encode_cursor(through, "~", 0) if through else None

    def feed_first_page() -> None:
        if len(Feed(FeedFilters()).page(per_page=50).rows) != 50:
            raise RuntimeError("the feed's first page is short")

    def feed_archive_page() -> None:
        if len(Feed(FeedFilters()).page(cursor=into_archive, per_page=50).rows) != 50:
            raise RuntimeError("the feed's page into the archive is short")

    feed_ms = timed(feed_first_page, args.iterations)
    archive_ms = timed(feed_archive_page, args.iterations) if into_archive else float("nan")
    verify_ms = timed(lambda: seal.verify(), max(3, args.iterations // 5))
    record = seal.AuditVerification.objects.first()
    print()
    print(
        "| events | live | archived (months) | seals | feed first page | feed into the archive"
        " | routine verify (rows) | first verify | database |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {live + archived:,} | {live:,} | {archived:,} ({partitions}) |"
        f" {AuditSeal.objects.count():,} | {feed_ms:.1f} ms | {archive_ms:.1f} ms |"
        f" {verify_ms / 1000:.2f} s ({record.rows_checked:,}) | {first_seconds:.1f} s | {size} |"
    )


if __name__ == "__main__":
    main()
