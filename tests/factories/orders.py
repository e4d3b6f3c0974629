import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import factory

from hosting.models import AddonDefinition, AddonPrice, Product, ProductPrice, Tld, TldPrice
from orders.models import Promotion
from tests.factories.hosting import ProductFactory, TldFactory


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Promotion.Kind.PERCENT
    value = Decimal("10.00")

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        if create and extracted:
            self.products.set(extracted)


@dataclass
class Catalog:
    basic: Product  # 5.00/month + 1.00 setup, 50.00/year
    pro: Product  # 15.00/month, 150.00/year
    tld: Tld  # .com 10.00 register, 8.00 transfer, 12.00 renew (1 year)
    backup: AddonDefinition  # 2.00/month, for both products


def make_catalog(currency: str = "GBP") -> Catalog:
    basic = ProductFactory(name="Basic", monthly=Decimal("5.00"))
    ProductPrice.objects.create(
        product=basic, currency=currency, cycle="annually", price=Decimal("50.00")
    )
    pro = ProductFactory(name="Pro", monthly=Decimal("15.00"))
    ProductPrice.objects.filter(product=pro).update(setup_fee=Decimal("0.00"))
    ProductPrice.objects.create(
        product=pro, currency=currency, cycle="annually", price=Decimal("150.00")
    )
    tld = TldFactory(name="com")
    TldPrice.objects.get_or_create(
        tld=tld,
        currency=currency,
        years=1,
        defaults={
            "register": Decimal("10.00"),
            "transfer": Decimal("8.00"),
            "renew": Decimal("12.00"),
        },
    )
    backup = AddonDefinition.objects.create(name="Daily backups")
    backup.products.set([basic, pro])
    AddonPrice.objects.create(
        addon=backup, currency=currency, cycle="monthly", price=Decimal("2.00")
    )
    return Catalog(basic=basic, pro=pro, tld=tld, backup=backup)


def days_ago(n: int) -> dt.date:
    return dt.date.today() - dt.timedelta(days=n)
