"""Invoices and transactions."""

from __future__ import annotations

import time

from benchmarks.config import N_INVOICES, N_TRANSACTIONS
from benchmarks.seeds.common import set_seed_context


def seed_billing() -> bool:
    """1,000,000 invoices (every status) and 2,000,000 payment transactions."""
    from django.db import connection, transaction

    from billing.models import Invoice, InvoiceSeries, Transaction
    from demo.billing import load_billing_defaults

    if Invoice.objects.count() >= N_INVOICES and Transaction.objects.count() >= N_TRANSACTIONS:
        return False
    started = time.perf_counter()
    load_billing_defaults()
    series = InvoiceSeries.objects.get(is_default=True).pk
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO billing_invoice (client_id, series_id, number, sequence, status, currency,
                issue_date, due_date, published_at, paid_at, tax1_name, tax1_rate, tax2_name,
                tax2_rate, tax2_compound, tax_rounding, subtotal, tax1_amount, tax2_amount, total,
                amount_paid, paid_without_payment, status_reason, public_notes, private_notes,
                created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), %(series)s,
                   CASE WHEN s = 'draft' THEN NULL ELSE 'BENCH-' || lpad(g::text, 8, '0') END,
                   CASE WHEN s = 'draft' THEN NULL ELSE g END, s, 'GBP',
                   current_date - (g %% 1000), current_date - (g %% 1000) + 14,
                   now(), CASE WHEN s = 'paid' THEN now() END, 'VAT', 20, '', 0, false,
                   'invoice', 10 + g %% 500, (10 + g %% 500) * 0.2, 0, (10 + g %% 500) * 1.2,
                   CASE WHEN s = 'paid' THEN (10 + g %% 500) * 1.2 ELSE 0 END, false, '', '', '',
                   now(), now()
            FROM (SELECT g, (ARRAY['paid','paid','paid','paid','paid','unpaid','unpaid',
                                   'cancelled','collections','draft'])[1 + g %% 10] AS s
                  FROM generate_series(1, %(count)s) AS g) AS rows
            """,
            {"first": first_client, "n": n_clients, "series": series, "count": N_INVOICES},
        )
        cur.execute(
            """
            INSERT INTO billing_transaction (client_id, kind, gateway, transaction_id,
                allow_duplicate_id, date, backdated, currency, amount_in, amount_out, fees,
                description, refund_of_id, created_by_id, created_at)
            SELECT %(first)s + (g %% %(n)s), 'payment',
                   (ARRAY['bank_transfer','card','paypal','stripe','cash'])[1 + g %% 5],
                   'BTX' || g, false, now() - make_interval(mins => g), false, 'GBP',
                   10 + g %% 500, 0, 0, 'Payment', NULL, NULL, now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {"first": first_client, "n": n_clients, "count": N_TRANSACTIONS},
        )
        cur.execute(
            "INSERT INTO billing_invoicecounter (series_id, year, last_number) "
            "VALUES (%s, 0, %s) ON CONFLICT (series_id, year) DO UPDATE SET last_number = %s",
            [series, N_INVOICES, N_INVOICES],
        )
    print(
        f"Seed: {N_INVOICES:,} invoices, {N_TRANSACTIONS:,} transactions in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return True
