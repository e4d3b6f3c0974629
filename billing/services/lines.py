"""Invoice lines: as entered (``LineData``), checked, taxed and totalled, stored on a draft;
the totals the editor previews are the ones saving stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q

from billing.models import ZERO, BillableItem, Invoice, InvoiceItem, TaxRule
from billing.totals import Line, TaxRates, compute_totals
from clients.models import Client
from core.rules import require_same_client

MAX_LINES = 200


@dataclass
class LineData:
    """One invoice line as entered (or pulled from a hosting record)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    taxed: bool = True
    kind: str = InvoiceItem.Kind.MANUAL
    service: Any = None
    domain: Any = None
    addon: Any = None
    billable_item: Any = None
    # The record's period this line bills (a renewal): paid, it moves the record on.
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def tax_rates_for(client: Client) -> TaxRates:
    """The client's tax 1 and tax 2: the most specific active rule per level; none if exempt."""
    if client.tax_exempt:
        return TaxRates()
    country, region = str(client.country or ""), (client.state or "").strip().lower()
    best: dict[int, TaxRule] = {}
    rules = TaxRule.objects.filter(active=True).filter(Q(country="") | Q(country=country))
    for rule in rules:
        if rule.region and rule.region.strip().lower() != region:
            continue
        score = (bool(rule.country), bool(rule.region))
        current = best.get(rule.level)
        if current is None or score > (bool(current.country), bool(current.region)):
            best[rule.level] = rule
    tax1, tax2 = best.get(1), best.get(2)
    return TaxRates(
        tax1_name=tax1.name if tax1 else "",
        tax1_rate=tax1.rate if tax1 else ZERO,
        tax2_name=tax2.name if tax2 else "",
        tax2_rate=tax2.rate if tax2 else ZERO,
        tax2_compound=bool(tax2 and tax2.compound),
    )


def _apply_totals(invoice: Invoice, items: Sequence[InvoiceItem]) -> None:
    rates = TaxRates(
        invoice.tax1_name,
        invoice.tax1_rate,
        invoice.tax2_name,
        invoice.tax2_rate,
        invoice.tax2_compound,
    )
    totals = compute_totals(
        [Line(i.quantity, i.unit_price, i.taxed) for i in items],
        rates,
        rounding=invoice.tax_rounding,
    )
    for item, amount in zip(items, totals.line_amounts, strict=True):
        item.amount = amount
    invoice.subtotal, invoice.tax1_amount = totals.subtotal, totals.tax1
    invoice.tax2_amount, invoice.total = totals.tax2, totals.total
    if invoice.total < 0:
        raise ValidationError("An invoice cannot total less than zero.", code="negative")


def _validate_lines(lines: Sequence[LineData], client: Client) -> None:
    if not lines:
        raise ValidationError("Add at least one line.", code="no_lines")
    if len(lines) > MAX_LINES:
        raise ValidationError(f"An invoice has at most {MAX_LINES} lines.", code="too_many_lines")
    for line in lines:
        addon_service = line.addon.service if line.addon is not None else None
        for record in (line.service, line.domain, line.billable_item, addon_service):
            require_same_client(client, record, message="A line refers to another client's record.")
        if line.quantity is None or line.quantity <= 0:
            raise ValidationError("Quantities must be more than zero.", code="not_positive")
        if line.period_start is not None or line.period_end is not None:
            records = [r for r in (line.service, line.domain, line.addon) if r is not None]
            if (
                len(records) != 1
                or line.period_start is None
                or line.period_end is None
                or line.period_end < line.period_start
            ):
                raise ValidationError(
                    "A billed period needs its start, its end and exactly one record.",
                    code="invalid_period",
                )


def _build_items(invoice: Invoice, lines: Sequence[LineData]) -> list[InvoiceItem]:
    """The lines as unsaved rows, with the invoice's totals computed from them."""
    items = [
        InvoiceItem(
            position=position,
            kind=line.kind,
            description=line.description.strip(),
            quantity=line.quantity,
            unit_price=line.unit_price,
            taxed=line.taxed,
            service=line.service,
            domain=line.domain,
            addon=line.addon,
            period_start=line.period_start,
            period_end=line.period_end,
            amount=ZERO,
        )
        for position, line in enumerate(lines)
    ]
    _apply_totals(invoice, items)
    for item in items:
        item.full_clean(exclude=["invoice"])
    return items


def _store_items(invoice: Invoice, items: list[InvoiceItem], lines: Sequence[LineData]) -> None:
    """Replace the draft's lines; billable items follow their line on or off the invoice."""
    invoice.items.all().delete()  # a draft's lines (the database refuses this once published)
    for item in items:
        item.invoice = invoice
    InvoiceItem.objects.bulk_create(items)
    for item, line in zip(items, lines, strict=True):
        if line.billable_item is not None:
            billable = BillableItem.objects.select_for_update().get(pk=line.billable_item.pk)
            if billable.invoice_item_id is not None:
                raise ValidationError(
                    "This billable item is already on an invoice.", code="already_invoiced"
                )
            billable.invoice_item = item
            billable.save(update_fields=["invoice_item", "updated_at"])


def preview_totals(*, client: Client, lines: Sequence[LineData]) -> Any:
    """The totals the editor shows before saving: the same computation saving stores."""
    return compute_totals(
        [Line(x.quantity, x.unit_price, x.taxed) for x in lines],
        tax_rates_for(client),
        rounding=settings.INVOICE_TAX_ROUNDING,
    )
