"""Billing rows are built through the services, as staff would make them."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from billing import services
from billing.models import TaxRule
from tests.factories.clients import ClientFactory


class TaxRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxRule

    level = 1
    name = "VAT"
    rate = Decimal("20.000")
    country = "GB"


def line(description="Consulting", quantity="1", unit_price="10.00", taxed=True):
    return services.LineData(
        description=description,
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        taxed=taxed,
    )


def make_invoice(customer=None, *, lines=None, publish=True, actor=None, issue_date=None, **kwargs):
    """A draft or published invoice; lines are ``(quantity, unit_price)`` pairs or LineData."""
    customer = customer or ClientFactory()
    issue_date = issue_date or timezone.localdate()
    built = [
        item if isinstance(item, services.LineData) else line(quantity=item[0], unit_price=item[1])
        for item in (lines or [("1", "100.00")])
    ]
    invoice = services.create_invoice(
        client=customer,
        lines=built,
        issue_date=issue_date,
        due_date=issue_date + dt.timedelta(days=14),
        actor=actor,
        **kwargs,
    )
    if publish:
        invoice = services.publish_invoice(invoice=invoice, actor=actor)
    return invoice


def pay(invoice, amount=None, *, actor=None, gateway="bank_transfer", transaction_id="", **kw):
    return services.record_payment(
        client=invoice.client,
        allocations=[(invoice, None)],
        amount=None if amount is None else Decimal(amount),
        gateway=gateway,
        transaction_id=transaction_id,
        date=timezone.now(),
        actor=actor,
        **kw,
    )
