"""Timing: warm-up, then the median and 95th percentile of in-process requests; the
capture-trigger switch the write baselines use."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


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
