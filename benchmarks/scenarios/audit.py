"""The audit feed, first page and by actor."""

from __future__ import annotations

from benchmarks.scenarios.bench import Bench, row


def run(b: Bench) -> list[dict]:
    feed = b.time("audit feed, first page", "/audit/")
    feed_actor = b.time("audit feed, by actor", f"/audit/?actor={b.actor.pk}")
    admin_events = b.time("admin events changelist", "/admin/clients/clientevent/")
    admin_events_f = b.time(
        "admin events, filtered", "/admin/clients/clientevent/?pgh_label__exact=update"
    )
    return [
        row("Audit feed, first page", feed, admin_events),
        row("Audit feed, by actor", feed_actor, admin_events_f),
    ]
