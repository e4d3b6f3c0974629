"""Demo data for orders: a welcome promotion and one pending order to accept."""

from __future__ import annotations

from decimal import Decimal

from clients.models import Client
from hosting.models import Product
from orders import services
from orders.models import Promotion


def load_demo_orders() -> int:
    """Idempotent: adds the WELCOME10 promotion and a pending order for a demo client that has
    none. Returns the number of orders added."""
    Promotion.objects.get_or_create(
        code="WELCOME10",
        defaults={
            "description": "10% off the first payment of any hosting plan",
            "kind": Promotion.Kind.PERCENT,
            "value": Decimal("10.00"),
        },
    )
    client = Client.objects.filter(email__iexact="tim@w3.example").first()
    product = Product.objects.filter(name="Business").first()
    if client is None or product is None or client.orders.exists():
        return 0
    services.place_order(
        client=client,
        products=[
            services.ProductLineData(
                product=product, billing_cycle="annually", hostname="w3-demo.com"
            )
        ],
        domains=[services.DomainLineData(name="w3-demo.com")],
        promotion_code="WELCOME10",
        payment_method="bank_transfer",
        send_confirmation=False,
        actor=None,
        reason="demo data",
    )
    return 1
