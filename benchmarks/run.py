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

The package: ``config`` (scale, database, Django set-up), ``seeds/`` (one module per app),
``scenarios/`` (one module per app, timed in a fixed order), ``measure`` and ``report``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.config import login, setup_django  # noqa: E402 - needs ROOT on the path
from benchmarks.measure import measure, set_capture_triggers, summarise  # noqa: E402
from benchmarks.report import report, write  # noqa: E402
from benchmarks.scenarios import run  # noqa: E402
from benchmarks.seeds import seed  # noqa: E402

# What benchmarks/feed_probe.py and benchmarks/seal.py use from here.
__all__ = [
    "login",
    "measure",
    "report",
    "run",
    "seed",
    "set_capture_triggers",
    "setup_django",
    "summarise",
]


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
    table = report(run(args.iterations))
    print()
    print(table)
    write(table)


if __name__ == "__main__":
    main()
