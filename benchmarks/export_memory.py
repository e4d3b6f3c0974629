#!/usr/bin/env python
"""The audit feed's CSV export of the whole seeded trail (1,000,000 events), in constant memory.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/export_memory.py \\
        [--limit N] [--filter client=1]

Same set-up as ``benchmarks/run.py`` (its ``_bench`` database, already seeded: this script never
seeds). It streams ``/audit/export.csv`` through Django's test client as a logged-in admin and
prints, every 100,000 rows, the rows so far, the seconds and the process's resident memory
(RSS, from /proc), then the peak RSS (``getrusage``) before and after the export. A streaming
export keeps RSS flat after the first page; a list in memory would grow with the rows.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # the benchmark's own set-up, importable once on sys.path


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024 / 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="stop after this many rows")
    parser.add_argument("--filter", action="append", default=[], help="a feed filter, k=v")
    args = parser.parse_args()
    bench.setup_django()

    from django.contrib.auth import get_user_model
    from django.test import Client as HttpClient

    http = bench.login(HttpClient(), get_user_model().objects.get(username="bench-staff-0"))
    query = dict(f.split("=", 1) for f in args.filter)
    before = _peak_mb()
    started = time.perf_counter()
    response = http.get("/audit/export.csv", query)
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"the export answered {response.status_code}")
    rows = 0
    header: list[str] = []
    for chunk in response.streaming_content:
        if len(header) < 4:
            header.append(chunk.decode().strip())
        rows += 1
        if rows % 100_000 == 0:
            print(
                f"{rows:>9} rows  {time.perf_counter() - started:7.1f} s  RSS {_rss_mb():7.1f} MB"
            )
        if args.limit and rows >= args.limit:
            break
    print("\n".join(header))
    print(
        f"{rows} rows in {time.perf_counter() - started:.1f} s; peak RSS {before:.1f} MB before, "
        f"{_peak_mb():.1f} MB after"
    )


if __name__ == "__main__":
    main()
