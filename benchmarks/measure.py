"""Timing: warm-up, then the median and 95th percentile of in-process requests; the
capture-trigger switch the write baselines use."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


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


def alternate(
    iterations: int,
    triggers: Callable[[bool], None],
    step: Callable[[int, bool], Callable[[], Any]],
) -> tuple[list[float], list[float]]:
    """A write timed audited and with the capture triggers off, alternating, so that drift
    (caches, table growth, the other core's load) hits both sides alike.

    ``step(i, audited)`` prepares one sample (triggers on) and returns the call to time.
    """
    on_samples: list[float] = []
    off_samples: list[float] = []
    try:
        for i in range(iterations):
            for enabled, samples in ((True, on_samples), (False, off_samples)):
                triggers(True)
                call = step(i, enabled)
                triggers(enabled)
                started = time.perf_counter()
                call()
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        triggers(True)
    return on_samples, off_samples
