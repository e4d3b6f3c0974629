"""Renewals: the period a line pulled from an account, domain or add-on bills, the records not
billed yet for their current period, the refusal of a period billed twice, and the records moved
on when their invoice is paid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from billing.models import Invoice, InvoiceItem
from billing.services.lines import LineData


def _renew_billed_records(invoice: Invoice, actor: AbstractBaseUser | None) -> None:
    """Each record whose period the invoice bills moves on past it (hosting decides, under
    the record's lock, whether it still stands at the period's start: so paying twice for one
    period moves it once)."""
    from hosting import services as hosting

    items = invoice.items.filter(period_start__isnull=False).select_related(
        "service", "domain", "addon"
    )
    by_lock_order = sorted(
        items,
        key=lambda i: (
            (0, i.service_id)
            if i.service_id
            else ((1, i.domain_id) if i.domain_id else (2, i.addon_id))
        ),
    )
    for item in by_lock_order:
        hosting.renew_after_payment(
            record=item.service or item.domain or item.addon,
            period_start=item.period_start,
            period_end=item.period_end,
            actor=actor,
            reason=f"Invoice {invoice.number} paid",
        )


def _billed_elsewhere(invoice: Invoice) -> InvoiceItem | None:
    """A line of ``invoice`` whose record's period another billed invoice already bills."""
    for item in invoice.items.filter(period_start__isnull=False):
        other = (
            InvoiceItem.objects.filter(
                period_start=item.period_start,
                invoice__status__in=Invoice.BILLED,
                service_id=item.service_id,
                domain_id=item.domain_id,
                addon_id=item.addon_id,
            )
            .exclude(invoice=invoice)
            .select_related("invoice")
            .first()
        )
        if other is not None:
            return other
    return None


def _check_periods_free(invoice: Invoice) -> None:
    """Refuse an invoice that would bill a period already billed. Called with the client
    locked: every invoice of the client becomes billed under that lock, so two of them for
    one period queue there and the second sees the first (the trigger backs this up)."""
    other = _billed_elsewhere(invoice)
    if other is not None:
        raise ValidationError(
            "“%(line)s” bills a period that invoice %(number)s already bills.",
            code="period_already_billed",
            params={"line": other.description, "number": other.invoice},
        )


def _period(start: dt.date | None, months: int) -> tuple[dt.date, dt.date] | None:
    """The period from ``start`` (a record's next due date) lasting ``months``."""
    from hosting.models import add_months

    if start is None or not months:
        return None
    return start, add_months(start, months) - dt.timedelta(days=1)


def _period_text(period: tuple[dt.date, dt.date] | None) -> str:
    return f" ({period[0]:%d/%m/%Y} - {period[1]:%d/%m/%Y})" if period else ""


def _cycle_months(cycle: str) -> int:
    from hosting.models import CYCLE_MONTHS, BillingCycle

    return CYCLE_MONTHS.get(BillingCycle(cycle), 0)


def line_for_service(service: Any) -> LineData:
    """The account's next period, from its next due date: paid, the account moves on."""
    name = f"{service.product.name}{' - ' + str(service) if service.domain else ''}"
    period = _period(service.next_due_date, _cycle_months(service.billing_cycle))
    return LineData(
        description=name + _period_text(period),
        quantity=Decimal(1),
        unit_price=service.recurring_amount,
        kind=InvoiceItem.Kind.SERVICE,
        service=service,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
    )


def line_for_domain(domain: Any) -> LineData:
    years = domain.period_years
    period = _period(domain.next_due_date, 12 * years)
    return LineData(
        description=f"Domain renewal - {domain.unicode_name} - {years} year{'s' * (years > 1)}"
        + _period_text(period),
        quantity=Decimal(1),
        unit_price=domain.recurring_amount,
        kind=InvoiceItem.Kind.DOMAIN,
        domain=domain,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
    )


def line_for_addon(addon: Any) -> LineData:
    period = _period(addon.next_due_date, _cycle_months(addon.billing_cycle))
    return LineData(
        description=f"Add-on: {addon.display_name}" + _period_text(period),
        quantity=Decimal(1),
        unit_price=addon.recurring_price,
        kind=InvoiceItem.Kind.ADDON,
        addon=addon,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
    )


def unbilled(records: Any, link: str) -> Any:
    """``records`` (accounts, domains or add-ons) whose current period — from their next due
    date — is on no billed invoice yet: what the invoice editor may offer. ``link`` is the
    invoice line's field naming the record (``service``, ``domain``, ``addon``)."""
    from django.db.models import Exists, OuterRef

    billed = InvoiceItem.objects.filter(
        invoice__status__in=Invoice.BILLED,
        period_start=OuterRef("next_due_date"),
        **{link: OuterRef("pk")},
    )
    return records.exclude(Exists(billed))
