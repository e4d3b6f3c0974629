#!/usr/bin/env python
"""Time the audit feed's two benchmark pages on the benchmark's data, without the full run.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/feed_probe.py [--iterations 15]
        [--profile] [--explain]

Same set-up as ``benchmarks/run.py`` (its ``_bench`` database, already seeded), same measure
(warm-up, then the median of in-process test-client requests), plus the query count per page and,
on demand, a cProfile of one request and ``EXPLAIN ANALYZE`` of its queries.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # the benchmark's own set-up, importable once on sys.path
from config import BUSY_CLIENT_ID  # on sys.path above, as run is


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    bench.setup_django()

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    user = get_user_model().objects.get(username="bench-staff-0")
    actor = get_user_model().objects.get(username="bench-staff-3")
    http = HttpClient()
    bench.login(http, user)
    pages = {
        "feed, first page": "/audit/",
        "feed, by actor": f"/audit/?actor={actor.pk}",
        "feed, by action": "/audit/?action=clients.update_client",
        "feed, by client": f"/audit/?client={BUSY_CLIENT_ID}",
        # Few entries carry these (none in the seed): the partial index on reason codes, and
        # the review queue's newest flagged entries, keep them from reading every context.
        "feed, by reason code": "/audit/?reason_code=goodwill",
        "feed, by review state": "/audit/?review_state=open",
        "client history": f"/clients/{BUSY_CLIENT_ID}/?tab=history",
        "admin events changelist": "/admin/clients/clientevent/",
    }
    for name, url in pages.items():

        def call(_: int, url: str = url) -> None:
            response = http.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        samples = []
        for i in range(3):  # warm-up, as measure() does
            call(-1 - i)
        for i in range(args.iterations):
            started = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - started) * 1000)
        result = {**bench.summarise(name, samples), "samples": samples}
        # CPU time of this process: less noisy than the wall clock on a shared machine.
        cpu = []
        for i in range(args.iterations):
            started = time.process_time()
            call(i)
            cpu.append((time.process_time() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            call(0)
        sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
        print(
            f"{name:24} median {result['median']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
            f"min {min(result['samples']):6.1f} ms  cpu {statistics.median(cpu):6.1f} ms  "
            f"{len(queries)} queries ({sql_ms:.1f} ms of SQL)"
        )
        if args.profile and url.startswith("/audit"):
            profiler = cProfile.Profile()
            profiler.enable()
            call(0)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(35)
        if args.explain and (url.startswith("/audit") or "tab=history" in url):
            for q in queries.captured_queries:
                if "$1" in q["sql"]:  # sent with bound parameters: the log holds no values
                    print(f"  (bound)  {len(q['sql']):7} chars  {q['sql'][:110]}")
                    continue
                started = time.perf_counter()
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, SUMMARY) " + q["sql"])
                    plan = [r[0] for r in cur.fetchall()]
                took = (time.perf_counter() - started) * 1000
                print(f"  {took:6.1f} ms  {len(q['sql']):7} chars  {q['sql'][:110]}")
                print("           " + " | ".join(p.strip() for p in plan if "Time" in p))


if __name__ == "__main__":
    main()
