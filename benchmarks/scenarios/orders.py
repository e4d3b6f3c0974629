"""Orders: the order list, filtered, the client's tab, and placing and accepting an order
through the form (audited and with the capture triggers off)."""

from __future__ import annotations

import uuid

from benchmarks.config import BUSY_CLIENT_ID
from benchmarks.measure import alternate, set_capture_triggers, summarise
from benchmarks.scenarios.bench import Bench, deeper, row
from benchmarks.scenarios.billing import BILLING_TABLES


def run(b: Bench) -> list[dict]:
    ord_1 = b.time("order list p1", "/orders/")
    ord_deep = b.time("order list p1000", "/orders/?page=1000")
    ord_f = b.time(
        "orders filtered", "/orders/?status=pending&placed_from=2026-01-01&placed_to=2026-12-31"
    )
    ord_client = b.time("orders of a client", f"/orders/?client={BUSY_CLIENT_ID}")
    admin_ord = b.time("admin orders", "/admin/orders/order/")
    admin_ord_f = b.time("admin orders filtered", "/admin/orders/order/?status__exact=pending")
    tab_orders = b.time("client tab orders", b.busy + "?tab=orders")
    order_on, order_off = _place_order(b.http, b.iterations, triggers_for_orders)
    return [
        row("Orders, page 1", ord_1, admin_ord),
        row("Orders, page 1,000", ord_deep, admin_ord, deeper(ord_deep, ord_1)),
        row("Orders, status + date range", ord_f, admin_ord_f),
        row("Orders, one client", ord_client, admin_ord_f),
        row("Client tab: orders", tab_orders, b.shared["admin_change"]),
        row("Place + accept order via form", order_on, order_off, "baseline: audit triggers off"),
    ]


ORDER_TABLES = (
    *BILLING_TABLES,
    "orders_order",
    "orders_orderline",
    "hosting_service",
    "hosting_domain",
    "clients_client",
)


def triggers_for_orders(enabled: bool) -> None:
    set_capture_triggers(ORDER_TABLES, enabled)


def _place_order(http, iterations: int, triggers) -> tuple[dict, dict]:
    """Place and accept a two-line order (account + domain, one invoice) through the order
    form, audit on vs off, alternating."""
    from clients.models import Client
    from demo.hosting import load_starter_catalog
    from hosting.models import Product

    load_starter_catalog()
    customer = Client.objects.order_by("id")[7]
    product = Product.objects.get(name="Business").pk
    run_id = uuid.uuid4().hex[:8]

    def place(i: int, side: str) -> None:
        name = f"bench-{run_id}-{side}-{i}.com"
        data = {
            "client": customer.pk,
            "order_status": "active",
            "item_status": "active",
            "payment_method": "bank_transfer",
            "promotion_code": "",
            "generate_invoice": "on",
            "admin_notes": "",
            "audit_reason": "",
            "action": "place",
            "products-TOTAL_FORMS": 1,
            "products-INITIAL_FORMS": 0,
            "products-0-product": product,
            "products-0-billing_cycle": "monthly",
            "products-0-quantity": 1,
            "products-0-hostname": name,
            "domains-TOTAL_FORMS": 1,
            "domains-INITIAL_FORMS": 0,
            "domains-0-name": name,
            "domains-0-order_type": "register",
            "domains-0-period_years": 1,
            "addons-TOTAL_FORMS": 0,
            "addons-INITIAL_FORMS": 0,
        }
        response = http.post("/orders/new/", data)
        if response.status_code != 302:
            raise RuntimeError(f"the order form answered {response.status_code}")

    on_samples, off_samples = alternate(
        iterations, triggers, lambda i, audited: lambda: place(i, "on" if audited else "off")
    )
    return summarise("order audited", on_samples), summarise("order off", off_samples)
