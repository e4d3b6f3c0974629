"""Affiliates are enrolled and fed through the services (the ledger is theirs to keep)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from affiliates import services
from tests.factories.clients import ClientFactory
from tests.factories.users import StaffFactory


def enrol(customer=None, *, actor=None, **kwargs):
    return services.enrol_affiliate(
        client=customer or ClientFactory(currency="GBP"),
        actor=actor or StaffFactory(role="Billing"),
        **kwargs,
    )


def cleared_commission(affiliate, amount="10.00", *, actor=None, note="Manual commission"):
    """A commission already past its clearing date and cleared."""
    commission = services.add_commission(
        affiliate=affiliate,
        amount=Decimal(amount),
        actor=actor or StaffFactory(role="Billing"),
        reason=note,
        clears_on=dt.date.today() - dt.timedelta(days=1),
    )
    services.clear_due_commissions()
    commission.refresh_from_db()
    return commission
