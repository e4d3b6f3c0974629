"""A starter catalog for demo data and tests: what a small hosting company sells."""

from __future__ import annotations

from decimal import Decimal

from hosting.models import (
    AddonDefinition,
    AddonPrice,
    BillingCycle,
    Product,
    ProductGroup,
    ProductPrice,
    Server,
    Tld,
    TldPrice,
)

PRODUCTS = [
    ("Shared hosting", "Starter", Product.Type.SHARED, Decimal("4.99")),
    ("Shared hosting", "Business", Product.Type.SHARED, Decimal("9.99")),
    ("Reseller hosting", "Reseller 50", Product.Type.RESELLER, Decimal("24.99")),
    ("Servers", "VPS 4 GB", Product.Type.SERVER, Decimal("19.00")),
]
CYCLE_FACTORS = {
    BillingCycle.MONTHLY: Decimal(1),
    BillingCycle.QUARTERLY: Decimal(3),
    BillingCycle.SEMIANNUALLY: Decimal(6),
    BillingCycle.ANNUALLY: Decimal(11),
    BillingCycle.BIENNIALLY: Decimal(21),
    BillingCycle.TRIENNIALLY: Decimal(30),
}
TLDS = {
    "com": Decimal("12.00"),
    "net": Decimal("14.00"),
    "org": Decimal("13.00"),
    "co.uk": Decimal("8.00"),
    "de": Decimal("9.00"),
    "xn--p1ai": Decimal("15.00"),
}
CURRENCIES = {"GBP": Decimal("1.00"), "EUR": Decimal("1.17"), "USD": Decimal("1.27")}


def load_starter_catalog() -> None:
    """Idempotent: only what is missing is added (catalog rows are audited like the rest)."""
    for group_name, name, kind, monthly in PRODUCTS:
        group, _ = ProductGroup.objects.get_or_create(name=group_name)
        product, _ = Product.objects.get_or_create(group=group, name=name, defaults={"type": kind})
        for currency, rate in CURRENCIES.items():
            for cycle, factor in CYCLE_FACTORS.items():
                ProductPrice.objects.get_or_create(
                    product=product,
                    currency=currency,
                    cycle=cycle,
                    defaults={
                        "price": (monthly * factor * rate).quantize(Decimal("0.01")),
                        "setup_fee": Decimal("0.00"),
                    },
                )
    Server.objects.get_or_create(
        name="web01", defaults={"hostname": "web01.example.net", "ip_addresses": ["192.0.2.10"]}
    )
    Server.objects.get_or_create(
        name="web02", defaults={"hostname": "web02.example.net", "ip_addresses": ["192.0.2.11"]}
    )
    for name, price in TLDS.items():
        tld, _ = Tld.objects.get_or_create(name=name)
        for currency, rate in CURRENCIES.items():
            for years in range(1, 11):
                total = (price * years * rate).quantize(Decimal("0.01"))
                TldPrice.objects.get_or_create(
                    tld=tld,
                    currency=currency,
                    years=years,
                    defaults={"register": total, "transfer": total, "renew": total},
                )
    backups, _ = AddonDefinition.objects.get_or_create(name="Daily backups")
    backups.products.add(*Product.objects.filter(type=Product.Type.SHARED))
    ip, _ = AddonDefinition.objects.get_or_create(name="Dedicated IP")
    ip.products.add(*Product.objects.all())
    for addon, monthly in ((backups, Decimal("2.00")), (ip, Decimal("3.00"))):
        for currency, rate in CURRENCIES.items():
            AddonPrice.objects.get_or_create(
                addon=addon,
                currency=currency,
                cycle=BillingCycle.MONTHLY,
                defaults={"price": (monthly * rate).quantize(Decimal("0.01"))},
            )
