"""Affiliates: the list and the busiest affiliate's page (5,000 commissions)."""

from __future__ import annotations

from benchmarks.scenarios.bench import Bench, row


def run(b: Bench) -> list[dict]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM affiliates_affiliate")
        (busy_affiliate,) = cur.fetchone()
    aff_list = b.time("affiliate list", "/affiliates/")
    aff_detail = b.time("affiliate detail", f"/affiliates/{busy_affiliate}/")
    admin_aff = b.time("admin affiliates", "/admin/affiliates/affiliate/")
    admin_comm = b.time(
        "admin commissions of one",
        f"/admin/affiliates/commission/?affiliate__id__exact={busy_affiliate}",
    )
    return [
        row("Affiliates, page 1", aff_list, admin_aff),
        row("Affiliate (5,000 commissions)", aff_detail, admin_comm, "baseline: admin filtered"),
    ]
