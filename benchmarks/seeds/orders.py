"""Orders."""

from __future__ import annotations

import time

from benchmarks.config import N_ORDERS
from benchmarks.seeds.common import set_seed_context


def seed_orders() -> bool:
    """500,000 orders (every status) with one product line each."""
    from django.db import connection, transaction

    from hosting.models import Product
    from orders.models import Order

    if Order.objects.count() >= N_ORDERS:
        return False
    started = time.perf_counter()
    product = Product.objects.order_by("id").first().pk
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO orders_order (client_id, status, currency, payment_method,
                promotion_code, send_confirmation, generate_invoice, send_invoice_email,
                item_status, first_payment_total, price_override_reason, admin_notes,
                status_reason, accepted_at, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), s, 'GBP', 'bank_transfer', '', true, true, true,
                   'pending', 5 + g %% 200, '', '', '',
                   CASE WHEN s IN ('active', 'cancelled') THEN now() END,
                   now() - make_interval(mins => g), now()
            FROM (SELECT g, (ARRAY['active','active','active','active','active','active',
                                   'pending','pending','cancelled','fraud'])[1 + g %% 10] AS s
                  FROM generate_series(1, %(count)s) AS g) AS rows
            """,
            {"first": first_client, "n": n_clients, "count": N_ORDERS},
        )
        cur.execute(
            """
            INSERT INTO orders_orderline (order_id, position, kind, description, product_id,
                hostname, billing_cycle, quantity, domain_name, domain_order_type, epp_code,
                nameservers, id_protection, dns_management, addon_name, setup_fee,
                first_period_amount, discount, recurring_amount, price_overridden)
            SELECT id, 0, 'product', 'Bench plan', %(product)s, '', 'monthly', 1, '', '', '',
                   '{}', false, false, '', 0, first_payment_total, 0, first_payment_total, false
            FROM orders_order
            """,
            {"product": product},
        )
    print(f"Seed: {N_ORDERS:,} orders in {time.perf_counter() - started:.1f}s")
    return True
