"""Invoice arithmetic: one place, explicit rounding, never the browser's numbers.

Every line amount is ``quantity x unit price`` rounded half-up to the cent. Taxes are rounded
either once on the invoice's taxed total ("invoice") or on each taxed line ("line"), as the
invoice's ``tax_rounding`` says. A compound tax 2 is charged on the amount plus its tax 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    taxed: bool = True

    @property
    def amount(self) -> Decimal:
        return money(self.quantity * self.unit_price)


@dataclass(frozen=True)
class TaxRates:
    tax1_name: str = ""
    tax1_rate: Decimal = ZERO
    tax2_name: str = ""
    tax2_rate: Decimal = ZERO
    tax2_compound: bool = False


@dataclass(frozen=True)
class Totals:
    line_amounts: tuple[Decimal, ...]
    subtotal: Decimal
    tax1: Decimal
    tax2: Decimal
    total: Decimal


def _tax(base: Decimal, rate: Decimal) -> Decimal:
    return money(base * rate / HUNDRED)


def compute_totals(lines: Sequence[Line], rates: TaxRates, *, rounding: str) -> Totals:
    if rounding not in ("invoice", "line"):
        raise ValueError(f"Unknown tax rounding {rounding!r}")
    amounts = tuple(line.amount for line in lines)
    taxed = [a for a, line in zip(amounts, lines, strict=True) if line.taxed]
    if rounding == "line":
        tax1_lines = [_tax(a, rates.tax1_rate) for a in taxed]
        tax1 = sum(tax1_lines, ZERO)
        if rates.tax2_compound:
            tax2 = sum(
                (_tax(a + t, rates.tax2_rate) for a, t in zip(taxed, tax1_lines, strict=True)),
                ZERO,
            )
        else:
            tax2 = sum((_tax(a, rates.tax2_rate) for a in taxed), ZERO)
    else:
        base = sum(taxed, ZERO)
        tax1 = _tax(base, rates.tax1_rate)
        tax2 = _tax(base + tax1 if rates.tax2_compound else base, rates.tax2_rate)
    subtotal = sum(amounts, ZERO)
    return Totals(amounts, subtotal, tax1, tax2, subtotal + tax1 + tax2)
