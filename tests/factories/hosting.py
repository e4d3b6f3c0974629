import datetime as dt
from decimal import Decimal

import factory

from hosting.models import Domain, Product, ProductGroup, ProductPrice, Server, Service, Tld
from tests.factories.clients import ClientFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    group = factory.LazyFunction(lambda: ProductGroup.objects.get_or_create(name="Shared")[0])
    name = factory.Sequence(lambda n: f"Plan {n}")

    @factory.post_generation
    def monthly(self, create, extracted, **kwargs):
        if create:
            ProductPrice.objects.create(
                product=self,
                currency="GBP",
                cycle="monthly",
                price=extracted if extracted is not None else Decimal("5.00"),
                setup_fee=Decimal("1.00"),
            )


class ServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Server

    name = factory.Sequence(lambda n: f"web{n:02d}")
    hostname = factory.LazyAttribute(lambda s: f"{s.name}.example.net")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    client = factory.SubFactory(ClientFactory)
    product = factory.SubFactory(ProductFactory)
    domain = factory.Sequence(lambda n: f"site{n}.example")
    registration_date = factory.LazyFunction(dt.date.today)
    billing_cycle = "monthly"
    currency = "GBP"
    first_payment_amount = Decimal("6.00")
    recurring_amount = Decimal("5.00")
    status = Service.Status.ACTIVE


class TldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tld
        django_get_or_create = ("name",)

    name = "com"


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"domain{n}.com")
    tld = factory.SubFactory(TldFactory)
    order_type = "register"
    registration_date = factory.LazyFunction(dt.date.today)
    expiry_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=365))
    currency = "GBP"
    first_payment_amount = Decimal("10.00")
    recurring_amount = Decimal("10.00")
    nameservers = factory.LazyFunction(lambda: ["ns1.example.net", "ns2.example.net"])
    status = Domain.Status.ACTIVE
