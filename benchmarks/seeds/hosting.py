"""Hosting accounts and domains."""

from __future__ import annotations

import time

from benchmarks.config import N_DOMAINS, N_SERVICES
from benchmarks.seeds.common import set_seed_context


def seed_hosting() -> bool:
    """300,000 hosting accounts and 200,000 domains spread over the clients."""
    from django.db import connection, transaction

    from demo.hosting import load_starter_catalog
    from hosting.models import Domain, Product, Server, Service, Tld

    if Service.objects.count() >= N_SERVICES and Domain.objects.count() >= N_DOMAINS:
        return False
    started = time.perf_counter()
    load_starter_catalog()
    for i in range(3, 11):
        Server.objects.get_or_create(name=f"web{i:02d}", defaults={"hostname": f"web{i:02d}.x"})
    products = list(Product.objects.values_list("pk", flat=True))
    servers = list(Server.objects.values_list("pk", flat=True))
    tlds = list(Tld.objects.exclude(name="xn--p1ai").values_list("pk", "name"))
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id), count(*) FROM clients_client")
        first_client, n_clients = cur.fetchone()
        cur.execute(
            """
            INSERT INTO hosting_service (client_id, product_id, server_id, domain, username,
                password, dedicated_ip, assigned_ips, status, registration_date, billing_cycle,
                currency, first_payment_amount, recurring_amount, price_overridden,
                next_due_date, termination_date, payment_method, quantity, admin_notes,
                suspension_reason, override_autosuspend_until, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), (%(products)s::int[])[1 + g %% %(np)s],
                   (%(servers)s::int[])[1 + g %% %(ns)s], 'site' || g || '.example',
                   'u' || g, '', NULL, '{}',
                   (ARRAY['active','active','active','active','suspended','terminated',
                          'cancelled','pending'])[1 + g %% 8],
                   current_date - (g %% 1500), 'monthly', 'GBP', 9.99, 9.99, false,
                   current_date + (g %% 365) - 30, NULL, '', 1, '',
                   CASE WHEN g %% 8 = 4 THEN 'unpaid' ELSE '' END, NULL, now(), now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {
                "first": first_client,
                "n": n_clients,
                "products": products,
                "np": len(products),
                "servers": servers,
                "ns": len(servers),
                "count": N_SERVICES,
            },
        )
        cur.execute(
            """
            INSERT INTO hosting_domain (client_id, service_id, name, tld_id, order_type,
                registrar, period_years, registration_date, expiry_date, next_due_date,
                currency, first_payment_amount, recurring_amount, nameservers, dns_management,
                email_forwarding, id_protection, registrar_lock, do_not_renew, epp_code, status,
                admin_notes, created_at, updated_at)
            SELECT %(first)s + (g %% %(n)s), NULL,
                   'bench' || g || '.' || (%(tld_names)s::text[])[1 + g %% %(nt)s],
                   (%(tld_ids)s::int[])[1 + g %% %(nt)s], 'register',
                   (ARRAY['', 'Enom', 'OpenSRS', 'Nominet'])[1 + g %% 4], 1,
                   current_date - (g %% 700), current_date - (g %% 700) + 365,
                   current_date - (g %% 700) + 365, 'GBP', 12, 12,
                   '{ns1.example.net,ns2.example.net}', false, false, false, true, false, '',
                   (ARRAY['active','active','active','expired','cancelled'])[1 + g %% 5],
                   '', now(), now()
            FROM generate_series(1, %(count)s) AS g
            """,
            {
                "first": first_client,
                "n": n_clients,
                "tld_ids": [t[0] for t in tlds],
                "tld_names": [t[1] for t in tlds],
                "nt": len(tlds),
                "count": N_DOMAINS,
            },
        )
    print(
        f"Seed: {N_SERVICES:,} hosting accounts, {N_DOMAINS:,} domains in "
        f"{time.perf_counter() - started:.1f}s"
    )
    return True
