"""The benchmark table, its targets, and where the latest one is written."""

from __future__ import annotations

from benchmarks.config import ROOT


def report(rows: list[dict]) -> str:
    lines = [
        f"{'page':<32} {'median ms':>10} {'p95 ms':>8} {'baseline median':>16} {'ratio':>6}  note",
        "-" * 94,
    ]
    for r in rows:
        base = r["baseline"]
        ratio = r["median"] / base["median"] if base else float("nan")
        lines.append(
            f"{r['name']:<32} {r['median']:>10.1f} {r['p95']:>8.1f} "
            f"{base['median'] if base else float('nan'):>16.1f} {ratio:>6.2f}  {r['note']}"
        )
    by_name = {r["name"]: r for r in rows}
    deep = by_name["Client list, page 1,000"]["median"] / by_name["Client list, page 1"]["median"]
    save = by_name["Create client via form"]
    overhead = save["median"] / save["baseline"]["median"] - 1
    feed = by_name["Audit feed, first page"]["median"]
    feed_actor = by_name["Audit feed, by actor"]["median"]
    pay = by_name["Publish + pay via forms"]
    pay_overhead = pay["median"] / pay["baseline"]["median"] - 1
    inv_deep = by_name["Invoices, page 1,000"]["median"] / by_name["Invoices, page 1"]["median"]
    order = by_name["Place + accept order via form"]
    order_overhead = order["median"] / order["baseline"]["median"] - 1
    ord_deep = by_name["Orders, page 1,000"]["median"] / by_name["Orders, page 1"]["median"]
    queue = by_name["Ticket queue, page 1"]["median"]
    queue_deep = by_name["Ticket queue, page 1,000 (all)"]["median"] / queue
    timeline = by_name["Timeline, 5,000+ entries, p1"]["median"]
    timeline_deep = by_name["Timeline, page 50"]["median"] / timeline
    kb_worst = max(
        by_name[n]["median"]
        for n in (
            "KB search, word in every article",
            "KB search, rare word",
            "KB search, two words",
        )
    )
    lines += [
        "",
        f"Targets: audit overhead on a form save {overhead:+.1%} (<= 10%): "
        f"{'OK' if overhead <= 0.10 else 'MISSED'}; deep page {deep:.2f}x page 1 (<= 1.2x): "
        f"{'OK' if deep <= 1.2 else 'MISSED'}; feed first page {feed:.1f} ms (< 50 ms): "
        f"{'OK' if feed < 50 else 'MISSED'}; feed by actor {feed_actor:.1f} ms (< 50 ms): "
        f"{'OK' if feed_actor < 50 else 'MISSED'}",
        f"Billing: audit overhead on publish + pay {pay_overhead:+.1%} (<= 10%): "
        f"{'OK' if pay_overhead <= 0.10 else 'MISSED'}; invoices deep page {inv_deep:.2f}x "
        f"page 1 (<= 1.2x): {'OK' if inv_deep <= 1.2 else 'MISSED'}",
        f"Orders: audit overhead on placing + accepting {order_overhead:+.1%} (<= 10%): "
        f"{'OK' if order_overhead <= 0.10 else 'MISSED'}; orders deep page {ord_deep:.2f}x "
        f"page 1 (<= 1.2x): {'OK' if ord_deep <= 1.2 else 'MISSED'}",
        f"Support: ticket queue {queue:.1f} ms (< 100 ms): {'OK' if queue < 100 else 'MISSED'}; "
        f"deep page {queue_deep:.2f}x page 1 (<= 1.2x): {'OK' if queue_deep <= 1.2 else 'MISSED'}"
        f"; timeline {timeline:.1f} ms (< 100 ms): {'OK' if timeline < 100 else 'MISSED'}, "
        f"page 50 {timeline_deep:.2f}x page 1 (<= 1.2x): "
        f"{'OK' if timeline_deep <= 1.2 else 'MISSED'}",
        f"Knowledgebase: slowest public search {kb_worst:.1f} ms (< 100 ms): "
        f"{'OK' if kb_worst < 100 else 'MISSED'}",
    ]
    lines += scale_targets(by_name)
    return "\n".join(lines)


# Issue 17's targets for list pages: at most 2x a plain Django view of the same rows (the
# floor), at least 20x faster than the admin's changelist, deep pages at most 1.2x page 1.
LISTS = {
    "Client list, page 1": ("clients", "Client list, page 1,000"),
    "Invoices, page 1": ("invoices", "Invoices, page 1,000"),
    "Transactions, page 1": ("transactions", None),
    "Orders, page 1": ("orders", "Orders, page 1,000"),
    "Ticket queue, page 1": ("tickets", "Ticket queue, page 1,000 (all)"),
    "Services, page 1": ("services", None),
}


def scale_targets(by_name: dict[str, dict]) -> list[str]:
    lines = ["", "At scale (issue 17): page / floor <= 2x; admin / page >= 20x; deep <= 1.2x"]
    for name, (floor, deep_name) in LISTS.items():
        page = by_name[name]
        floor_ms = by_name[f"Floor: plain view, {floor}"]["median"]
        vs_floor = page["median"] / floor_ms
        vs_admin = page["baseline"]["median"] / page["median"] if page["baseline"] else 0.0
        parts = [
            f"{name:<22} {page['median']:6.1f} ms: {vs_floor:4.2f}x floor "
            f"({'OK' if vs_floor <= 2 else 'MISSED'}), admin {vs_admin:5.1f}x slower "
            f"({'OK' if vs_admin >= 20 else 'MISSED'})"
        ]
        if deep_name:
            deep = by_name[deep_name]["median"] / page["median"]
            parts.append(f"deep {deep:4.2f}x ({'OK' if deep <= 1.2 else 'MISSED'})")
        lines.append("; ".join(parts))
    dashboard = by_name["Dashboard"]["median"]
    verdict = "OK" if dashboard <= 50 else "MISSED"
    lines.append(f"Dashboard {dashboard:.1f} ms (<= 50 ms): {verdict}")
    return lines


def write(table: str) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.txt").write_text(table + "\n")
