"""Proration against worked examples (DOMAIN.md section 11): credit = old daily x days left,
charge = new daily x days left, each rounded half-up to the cent; periods are real days."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders.proration import prorate

D = dt.date

# old amount, old cycle, new amount, new cycle, next due, today,
#   days in period, days left, credit, charge, difference
# fmt: off
EXAMPLES = {
    # 1 Nov to 1 Dec is 30 days; 15 left.
    "mid-cycle monthly upgrade": (
        "10.00", "monthly", "20.00", "monthly", D(2026, 12, 1), D(2026, 11, 16),
        30, 15, "5.00", "10.00", "5.00",
    ),
    "mid-cycle downgrade (negative)": (
        "20.00", "monthly", "10.00", "monthly", D(2026, 12, 1), D(2026, 11, 16),
        30, 15, "10.00", "5.00", "-5.00",
    ),
    # One day left: 10/30 = 0.333 -> 0.33, 20/30 = 0.667 -> 0.67 (each rounded on its own).
    "last day of the period": (
        "10.00", "monthly", "20.00", "monthly", D(2026, 12, 1), D(2026, 11, 30),
        30, 1, "0.33", "0.67", "0.34",
    ),
    "on the due date nothing is left": (
        "10.00", "monthly", "20.00", "monthly", D(2026, 12, 1), D(2026, 12, 1),
        30, 0, "0.00", "0.00", "0.00",
    ),
    "free to paid": (
        "0.00", "monthly", "15.00", "monthly", D(2026, 12, 1), D(2026, 11, 11),
        30, 20, "0.00", "10.00", "10.00",
    ),
    # Year 1 Jun 2026 - 1 Jun 2027 = 365 days, 182 left; the monthly period ending 1 Jun 2027
    # is May = 31 days: 120 x 182/365 = 59.8356 -> 59.84, 12 x 182/31 = 70.4516 -> 70.45.
    "annual to monthly": (
        "120.00", "annually", "12.00", "monthly", D(2027, 6, 1), D(2026, 12, 1),
        365, 182, "59.84", "70.45", "10.61",
    ),
    # The year ending 1 Dec 2026 has 365 days: 120 x 15/365 = 4.93.
    "monthly to annual": (
        "10.00", "monthly", "120.00", "annually", D(2026, 12, 1), D(2026, 11, 16),
        30, 15, "5.00", "4.93", "-0.07",
    ),
    # 15 Jan 2024 - 15 Jan 2025 holds 29 Feb 2024: 366 days; 184 left from 15 Jul.
    "leap year, annual": (
        "366.00", "annually", "732.00", "annually", D(2025, 1, 15), D(2024, 7, 15),
        366, 184, "184.00", "368.00", "184.00",
    ),
    "non-leap year, annual": (
        "365.00", "annually", "730.00", "annually", D(2026, 1, 15), D(2025, 7, 15),
        365, 184, "184.00", "368.00", "184.00",
    ),
    # February 2024 has 29 days: 29.00 a month is 1.00 a day.
    "leap February, monthly": (
        "29.00", "monthly", "58.00", "monthly", D(2024, 3, 1), D(2024, 2, 15),
        29, 15, "15.00", "30.00", "15.00",
    ),
    # 31 Mar minus a month is 29 Feb (clamped): 31 days in that period.
    "period starting on a clamped month end": (
        "31.00", "monthly", "62.00", "monthly", D(2024, 3, 31), D(2024, 3, 21),
        31, 10, "10.00", "20.00", "10.00",
    ),
    # Jul-Sep is 92 days (30 x 61/92 = 19.89); Apr-Sep is 183 days (50 x 61/183 = 16.67).
    "quarterly to semi-annual": (
        "30.00", "quarterly", "50.00", "semiannually", D(2026, 10, 1), D(2026, 8, 1),
        92, 61, "19.89", "16.67", "-3.22",
    ),
}
# fmt: on


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_worked_examples(example):
    (old, old_cycle, new, new_cycle, due, today, days, left, credit, charge, diff) = example
    result = prorate(
        old_amount=Decimal(old),
        old_cycle=old_cycle,
        new_amount=Decimal(new),
        new_cycle=new_cycle,
        next_due_date=due,
        today=today,
    )
    assert (result.days_in_period, result.days_left) == (days, left)
    assert (result.credit, result.charge, result.difference) == (
        Decimal(credit),
        Decimal(charge),
        Decimal(diff),
    )
    assert result.next_due_date == due


def test_days_left_never_exceed_the_period():
    # Due two months out on a monthly plan (paid ahead, or a typo): one period at most is
    # prorated; the change plan asks for a reason when the due date is that far.
    result = prorate(
        old_amount=Decimal("30.00"),
        old_cycle="monthly",
        new_amount=Decimal("60.00"),
        new_cycle="monthly",
        next_due_date=D(2026, 12, 1),
        today=D(2026, 10, 1),
    )
    assert (result.days_in_period, result.days_left) == (30, 30)
    assert result.beyond_period
    assert result.credit == Decimal("30.00")
    # 2207 instead of 2027: still one period, never 9,961.00.
    typo = prorate(
        old_amount=Decimal("60.00"),
        old_cycle="monthly",
        new_amount=Decimal("5.00"),
        new_cycle="monthly",
        next_due_date=D(2207, 12, 1),
        today=D(2026, 12, 1),
    )
    assert typo.days_left == typo.days_in_period and -typo.difference == Decimal("55.00")


@pytest.mark.parametrize(
    ("due", "old_cycle", "code"),
    [(None, "monthly", "no_due_date"), (D(2026, 12, 1), "one_time", "no_period")],
)
def test_no_period_is_refused(due, old_cycle, code):
    with pytest.raises(ValidationError) as exc:
        prorate(
            old_amount=Decimal("10.00"),
            old_cycle=old_cycle,
            new_amount=Decimal("20.00"),
            new_cycle="monthly",
            next_due_date=due,
            today=D(2026, 11, 1),
        )
    assert exc.value.code == code
