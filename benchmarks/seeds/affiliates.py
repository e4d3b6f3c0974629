"""Affiliates and their ledgers."""

from __future__ import annotations

import time

from benchmarks.config import BUSY_CLIENT_ID, BUSY_COMMISSIONS, N_AFFILIATES
from benchmarks.seeds.common import set_seed_context


def seed_affiliates() -> bool:
    """2,000 affiliates with a few commissions each; the first has 5,000 commissions, 1,000
    referrals and 100 payouts."""
    from django.db import connection, transaction

    from affiliates.models import Affiliate

    if Affiliate.objects.count() >= N_AFFILIATES:
        return False
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%'")
        (staff,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO affiliates_affiliate (client_id, code, commission_type, commission_value,
                payout_threshold, active, notes, enrolled_by_id, created_at, updated_at)
            SELECT c.id, 'BENCH-' || c.id, 'default', NULL, 25, true, '', %(staff)s, now(), now()
            FROM clients_client c WHERE c.id <> %(busy)s ORDER BY c.id LIMIT %(n)s
            """,
            {"staff": staff, "busy": BUSY_CLIENT_ID, "n": N_AFFILIATES},
        )
        cur.execute("SELECT min(id) FROM affiliates_affiliate")
        (busy,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO affiliates_referral (affiliate_id, client_id, active, created_by_id,
                created_at)
            SELECT %(busy)s, c.id, true, %(staff)s,
                   now() - make_interval(days => (c.id %% 900)::int)
            FROM clients_client c WHERE c.id > 10000 ORDER BY c.id LIMIT 1000
            """,
            {"busy": busy, "staff": staff},
        )
        cur.execute(
            """
            INSERT INTO affiliates_payout (affiliate_id, amount, method, reference, note,
                created_by_id, created_at)
            SELECT %(busy)s, 50, 'manual', 'BP-' || g, '', %(staff)s,
                   now() - make_interval(days => g)
            FROM generate_series(1, 100) AS g
            """,
            {"busy": busy, "staff": staff},
        )
        cur.execute(
            """
            INSERT INTO affiliates_commission (affiliate_id, kind, amount, note, status,
                clears_on, cleared_at, created_by_id, reversal_reason, created_at, updated_at)
            SELECT a.id, 'commission', 1 + (g %% 20), 'Bench commission', s,
                   current_date + (g %% 60 - 30),
                   CASE WHEN s = 'cleared' THEN now() END, %(staff)s,
                   CASE WHEN s = 'reversed' THEN 'bench' ELSE '' END,
                   now() - make_interval(hours => g), now()
            FROM affiliates_affiliate a
            CROSS JOIN LATERAL generate_series(1, CASE WHEN a.id = %(busy)s THEN %(busy_n)s
                                                       ELSE 5 END) AS g
            CROSS JOIN LATERAL (SELECT (ARRAY['pending','cleared','cleared','reversed'])
                                       [1 + g %% 4] AS s) AS st
            """,
            {"busy": busy, "staff": staff, "busy_n": BUSY_COMMISSIONS},
        )
    print(f"Seed: {N_AFFILIATES:,} affiliates in {time.perf_counter() - started:.1f}s")
    return True
