"""The audit feed (first page, by actor, by business action, by client with its records) and
the busiest client's record-wide history."""

from __future__ import annotations

import re

from benchmarks.config import BUSY_CLIENT_ID
from benchmarks.scenarios.bench import Bench, deeper, row

# The seeded contexts' business action (benchmarks/seeds/audit.py).
SEEDED_ACTION = "clients.update_client"


def _next_page(b: Bench, url: str) -> str:
    """The page after ``url``'s first, from its "Older" link (a keyset cursor)."""
    html = b.http.get(url).content.decode()
    found = re.search(r'href="\?([^"]*after=[^"]+)"', html)
    return f"{url.split('?')[0]}?{found.group(1).replace('&amp;', '&')}" if found else url


def run(b: Bench) -> list[dict]:
    feed = b.time("audit feed, first page", "/audit/")
    feed_actor = b.time("audit feed, by actor", f"/audit/?actor={b.actor.pk}")
    feed_action = b.time("audit feed, by business action", f"/audit/?action={SEEDED_ACTION}")
    feed_app = b.time("audit feed, by app's actions", "/audit/?action=clients.")
    feed_client = b.time("audit feed, by client", f"/audit/?client={BUSY_CLIENT_ID}")
    feed_client_actor = b.time(
        "audit feed, by client and actor", f"/audit/?client={BUSY_CLIENT_ID}&actor={b.actor.pk}"
    )
    history_url = f"{b.busy}?tab=history"
    history = b.time("busiest client's history, first page", history_url)
    history_2 = b.time("busiest client's history, page 2", _next_page(b, history_url))
    admin_events = b.time("admin events changelist", "/admin/clients/clientevent/")
    admin_events_f = b.time(
        "admin events, filtered", "/admin/clients/clientevent/?pgh_label__exact=update"
    )
    return [
        row("Audit feed, first page", feed, admin_events),
        row("Audit feed, by actor", feed_actor, admin_events_f),
        row("Audit feed, by business action", feed_action, admin_events_f),
        row("Audit feed, by an app's actions", feed_app, admin_events_f),
        row("Audit feed, by client (with its records)", feed_client, admin_events_f),
        row("Audit feed, by client and actor", feed_client_actor, admin_events_f),
        row("Busiest client's history (record-wide), page 1", history, admin_events_f),
        row(
            "Busiest client's history (record-wide), page 2",
            history_2,
            admin_events_f,
            deeper(history_2, history),
        ),
    ]
