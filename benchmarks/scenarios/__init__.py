"""The timed scenarios, one module per app; ``run()`` measures them in a fixed order (the
order of the original single run, so figures stay comparable) and returns the table's rows
grouped by app."""

from __future__ import annotations

from benchmarks.scenarios import (
    accounts,
    affiliates,
    audit,
    billing,
    clients,
    floor,
    hosting,
    kb,
    orders,
    support,
)
from benchmarks.scenarios.bench import Bench


def run(iterations: int) -> list[dict]:
    b = Bench(iterations)
    client_rows = clients.reads(b)
    hosting_rows = hosting.run(b)
    audit_rows = audit.run(b)
    billing_rows = billing.run(b)
    order_rows = orders.run(b)
    support_rows = support.run(b)
    timeline_rows = clients.timeline(b)
    affiliate_rows = affiliates.run(b)
    kb_rows = kb.run(b)
    timeline_rows += clients.timeline_kinds(b)
    save_rows = clients.writes(b)
    floor_rows = floor.run(b)
    sign_in_rows = accounts.run(b)
    return [
        *client_rows,
        *hosting_rows,
        *audit_rows,
        *save_rows,
        *billing_rows,
        *order_rows,
        *support_rows,
        *timeline_rows,
        *affiliate_rows,
        *kb_rows,
        *floor_rows,
        *sign_in_rows,
    ]
