"""Proration of a product or billing-cycle change (DOMAIN.md section 11).

credit = old daily price x days left, charge = new daily price x days left, difference =
charge - credit. The period is the one that ends at the next due date (which does not move),
and the days left never exceed it;
a daily price is the recurring amount over the days of its cycle ending on that date, so leap
years and short months count their real days. Each figure is rounded half-up to the cent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from billing.totals import money
from hosting.models import CYCLE_MONTHS, BillingCycle, add_months


@dataclass(frozen=True)
class Proration:
    period_start: dt.date
    next_due_date: dt.date
    days_in_period: int
    days_left: int
    old_daily: Decimal
    new_daily: Decimal
    credit: Decimal
    charge: Decimal
    # The next due date lies past the period after the current one (a typo such as 2207 for
    # 2027, or years paid ahead; a renewal paid early stays within): only one period is
    # prorated, and the change asks for a reason.
    beyond_period: bool = False

    @property
    def difference(self) -> Decimal:
        return self.charge - self.credit


def period_ending(next_due_date: dt.date, cycle: str) -> tuple[dt.date, int]:
    """The start and length in days of the ``cycle`` period that ends at ``next_due_date``."""
    months = CYCLE_MONTHS[BillingCycle(cycle)]
    if not months:
        raise ValidationError("A one-time price has no period to prorate.", code="no_period")
    start = add_months(next_due_date, -months)
    return start, (next_due_date - start).days


def prorate(
    *,
    old_amount: Decimal,
    old_cycle: str,
    new_amount: Decimal,
    new_cycle: str,
    next_due_date: dt.date | None,
    today: dt.date,
) -> Proration:
    if next_due_date is None:
        raise ValidationError(
            "The account has no next due date, so there is no period to prorate.",
            code="no_due_date",
        )
    start, days = period_ending(next_due_date, old_cycle)
    _new_start, new_days = period_ending(next_due_date, new_cycle)
    # Never more than the period: a due date years out (2207 for 2027) must not multiply it.
    remaining = max(0, (next_due_date - today).days)
    days_left = min(remaining, days)
    old_daily = Decimal(old_amount) / days
    new_daily = Decimal(new_amount) / new_days
    return Proration(
        period_start=start,
        next_due_date=next_due_date,
        days_in_period=days,
        days_left=days_left,
        old_daily=old_daily,
        new_daily=new_daily,
        credit=money(Decimal(old_amount) * days_left / days),
        charge=money(Decimal(new_amount) * days_left / new_days),
        beyond_period=remaining > 2 * days,
    )
