"""Every change to invoices and money goes through here.

Each function is atomic, re-reads what it changes with ``select_for_update()``, validates with
``full_clean()``, raises ``ValidationError`` with a stable ``code`` and sends emails only after
commit. Money is ``Decimal`` throughout; totals are computed here, never taken from a form.

Lock order — the one order of the whole project (billing, orders and hosting services follow it,
``tests/billing/test_lock_order.py`` runs the pairs that meet):

1. the client;
2. its invoices, in id order;
3. service changes (``orders.ServiceChange``), in id order;
4. hosting records — accounts, then domains, then add-ons, each in id order;
5. the rest: billable items, the invoice series counter.

A service may skip a level but never goes back up one: whoever holds an invoice and needs the
client has locked the client first. Two services meeting on the same rows then queue instead
of deadlocking (cancelling an invoice while it is paid; withdrawing an upgrade while its
invoice is paid; paying a renewal while the account changes product).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

import audit.context
from billing.models import (
    ZERO,
    Allocation,
    BillableItem,
    CreditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceItem,
    InvoiceSeries,
    TaxRule,
    Transaction,
)
from billing.totals import Line, TaxRates, compute_totals, money
from clients.models import Client, EmailLog
from core.emails import render_text
from core.extension_points import InvoiceStatusChange, invoice_entered
from core.rules import (
    Refusal,
    integrity_errors,
    require_reason,
    require_same_client,
    require_transition,
)

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


# Other apps act on an invoice entering Paid (by money, credit, a zero total or "mark paid"),
# Cancelled or Refunded inside the same transaction, all-or-nothing: orders applies the upgrade
# an invoice was for, or withdraws it; affiliates reverses the commissions of a refunded one. They
# register an ``InvoiceStatusHandler`` (core/extension_points.py); one that raises refuses the
# change.


def _entered(
    invoice: Invoice,
    old_status: str,
    actor: AbstractBaseUser | None,
    reason: str = "",
    transaction_row: Transaction | None = None,
) -> None:
    invoice_entered(
        InvoiceStatusChange(
            invoice=invoice,
            old_status=old_status,
            new_status=invoice.status,
            actor=actor,
            reason=reason,
            transaction=transaction_row,
        )
    )


def _became_paid(
    invoice: Invoice,
    old_status: str,
    actor: AbstractBaseUser | None,
    transaction_row: Transaction | None = None,
) -> None:
    # Handlers first: they lock service changes, which come before hosting records.
    _entered(invoice, old_status, actor, transaction_row=transaction_row)
    _renew_billed_records(invoice, actor)


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


TRANSACTION_CONSTRAINTS = {
    "billing_txn_unique_gateway_id": Refusal(
        "transaction_id",
        "This gateway already has a transaction with this ID.",
        code="duplicate_transaction_id",
    )
}


def _field_error(field_name: str, message: str, code: str) -> ValidationError:
    return ValidationError({field_name: ValidationError(message, code=code)})


def _actor(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.pk else None


def gateway_choices() -> list[tuple[str, str]]:
    return [tuple(g) for g in settings.BILLING_GATEWAYS]


def _check_gateway(gateway: str) -> None:
    if gateway not in dict(gateway_choices()):
        raise _field_error("gateway", "Choose a known gateway.", "unknown_gateway")


def _positive(value: Decimal | None, name: str, label: str) -> Decimal:
    if value is None or value <= 0:
        raise _field_error(name, f"{label} must be more than zero.", "not_positive")
    if value != money(value):
        raise _field_error(name, f"{label} has more than two decimals.", "too_precise")
    return value


def _lock_client(client: Client) -> Client:
    return Client.objects.select_for_update().get(pk=client.pk)


def _lock_client_of(invoice: Invoice) -> Client:
    # An invoice's client never changes (frozen once published), so it is known before the
    # invoice is locked: level 1 of the lock order comes first.
    client_id = Invoice.objects.values_list("client_id", flat=True).get(pk=invoice.pk)
    return Client.objects.select_for_update().get(pk=client_id)


def _lock_invoice(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


# Taxes and totals ----------------------------------------------------------------------------


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


def default_series() -> InvoiceSeries:
    series = InvoiceSeries.objects.filter(is_default=True).first()
    if series is None:
        series, _ = InvoiceSeries.objects.get_or_create(
            code="inv", defaults={"name": "Invoices", "is_default": True}
        )
    return series


# Drafts --------------------------------------------------------------------------------------


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


def _check_dates(issue_date: dt.date, due_date: dt.date) -> None:
    if due_date < issue_date:
        raise _field_error(
            "due_date", "The due date cannot be before the issue date.", "due_before_issue"
        )


@transaction.atomic
def create_invoice(
    *,
    client: Client,
    lines: Sequence[LineData],
    issue_date: dt.date,
    due_date: dt.date,
    public_notes: str = "",
    private_notes: str = "",
    series: InvoiceSeries | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Invoice:
    """A draft invoice in the client's currency, taxed by the client's rules."""
    client = _lock_client(client)
    if client.status == Client.Status.CLOSED:
        raise ValidationError("A closed client cannot be invoiced.", code="client_closed")
    _validate_lines(lines, client)
    _check_dates(issue_date, due_date)
    rates = tax_rates_for(client)
    with audit.context.context(action="billing.create_invoice", reason=reason, actor=actor):
        invoice = Invoice(
            client=client,
            series=series or default_series(),
            currency=client.currency,
            issue_date=issue_date,
            due_date=due_date,
            tax1_name=rates.tax1_name,
            tax1_rate=rates.tax1_rate,
            tax2_name=rates.tax2_name,
            tax2_rate=rates.tax2_rate,
            tax2_compound=rates.tax2_compound,
            tax_rounding=settings.INVOICE_TAX_ROUNDING,
            public_notes=public_notes.strip(),
            private_notes=private_notes.strip(),
        )
        items = _build_items(invoice, lines)
        invoice.full_clean()
        invoice.save()
        _store_items(invoice, items, lines)
    return invoice


@transaction.atomic
def update_draft(
    *,
    invoice: Invoice,
    lines: Sequence[LineData],
    issue_date: dt.date,
    due_date: dt.date,
    public_notes: str = "",
    private_notes: str = "",
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Invoice:
    invoice = _lock_invoice(invoice)
    if not invoice.is_draft:
        raise ValidationError(
            "A published invoice cannot be edited: cancel, credit or refund it.", code="not_draft"
        )
    client = invoice.client
    _validate_lines(lines, client)
    _check_dates(issue_date, due_date)
    rates = tax_rates_for(client)
    with audit.context.context(action="billing.update_draft", reason=reason, actor=actor):
        invoice.issue_date, invoice.due_date = issue_date, due_date
        invoice.public_notes, invoice.private_notes = public_notes.strip(), private_notes.strip()
        invoice.currency = client.currency
        invoice.tax1_name, invoice.tax1_rate = rates.tax1_name, rates.tax1_rate
        invoice.tax2_name, invoice.tax2_rate = rates.tax2_name, rates.tax2_rate
        invoice.tax2_compound = rates.tax2_compound
        invoice.tax_rounding = settings.INVOICE_TAX_ROUNDING
        items = _build_items(invoice, lines)
        invoice.full_clean()
        invoice.save()
        _store_items(invoice, items, lines)
    return invoice


@transaction.atomic
def save_draft(
    *,
    client: Client,
    invoice: Invoice | None = None,
    lines: Sequence[LineData],
    issue_date: dt.date,
    due_date: dt.date,
    public_notes: str = "",
    private_notes: str = "",
    publish: bool = False,
    send_email: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Invoice:
    """The invoice editor's save: a new draft for ``client`` or ``invoice`` updated, then, if
    asked, published (and emailed) in the same transaction, so a refused publish leaves no
    new draft behind."""
    common: dict[str, Any] = {
        "lines": lines,
        "issue_date": issue_date,
        "due_date": due_date,
        "public_notes": public_notes,
        "private_notes": private_notes,
        "actor": actor,
        "reason": reason,
    }
    if invoice is not None:
        invoice = update_draft(invoice=invoice, **common)
    else:
        invoice = create_invoice(client=client, **common)
    if publish:
        invoice = publish_invoice(
            invoice=invoice, actor=actor, send_email=send_email, reason=reason
        )
    return invoice


def preview_totals(*, client: Client, lines: Sequence[LineData]) -> Any:
    """The totals the editor shows before saving: the same computation saving stores."""
    return compute_totals(
        [Line(x.quantity, x.unit_price, x.taxed) for x in lines],
        tax_rates_for(client),
        rounding=settings.INVOICE_TAX_ROUNDING,
    )


@transaction.atomic
def delete_draft(*, invoice: Invoice, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Drafts have no number, so deleting one leaves no gap; its billable items go back."""
    invoice = _lock_invoice(invoice)
    if not invoice.is_draft:
        raise ValidationError(
            "A published invoice cannot be deleted: cancel it instead.", code="not_draft"
        )
    with audit.context.context(action="billing.delete_draft", reason=reason, actor=actor):
        invoice.delete()


# Publishing ----------------------------------------------------------------------------------


def _next_number(series: InvoiceSeries, issued: dt.date) -> tuple[str, int]:
    """The next number of the series, taken under the counter row's lock.

    Not a sequence (sequences skip numbers on rollback) and not MAX()+1 (two publishers would
    read the same maximum): the UPDATE of the locked counter row queues concurrent publishers,
    and a rollback gives the number back.
    """
    year = issued.year if series.reset_yearly else 0
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(series=series, year=year)], ignore_conflicts=True
    )
    counter = InvoiceCounter.objects.select_for_update().get(series=series, year=year)
    counter.last_number += 1
    number = series.format_number(counter.last_number, issued)
    # Two series whose formats overlap can produce the same string; say so plainly (the
    # increment rolls back with the refusal) instead of failing on the unique index.
    holder = Invoice.objects.filter(number=number).values_list("pk", flat=True).first()
    if holder is not None:
        raise ValidationError(
            "Number %(number)s is already on invoice #%(holder)s: the series %(series)s repeats "
            "another series' numbers. Give it a format of its own (a distinct prefix).",
            code="number_taken",
            params={"number": number, "holder": holder, "series": series.name},
        )
    counter.save(update_fields=["last_number"])
    return number, counter.last_number


@transaction.atomic
def publish_invoice(
    *,
    invoice: Invoice,
    actor: AbstractBaseUser | None,
    send_email: bool = False,
    reason: str = "",
) -> Invoice:
    _lock_client_of(invoice)
    invoice = _lock_invoice(invoice)
    if not invoice.is_draft:
        raise ValidationError("This invoice is already published.", code="not_draft")
    if not invoice.items.exists():
        raise ValidationError("Add at least one line before publishing.", code="no_lines")
    _check_periods_free(invoice)
    with audit.context.context(action="billing.publish_invoice", reason=reason, actor=actor):
        series = InvoiceSeries.objects.get(pk=invoice.series_id)
        invoice.number, invoice.sequence = _next_number(series, invoice.issue_date)
        invoice.published_at = timezone.now()
        invoice.status = Invoice.Status.UNPAID
        fields = ["number", "sequence", "published_at", "status", "updated_at"]
        if invoice.total == 0:
            invoice.status, invoice.paid_at = Invoice.Status.PAID, invoice.published_at
            fields.append("paid_at")
        invoice.full_clean()
        invoice.save(update_fields=fields)
        if invoice.status == Invoice.Status.PAID:
            _became_paid(invoice, Invoice.Status.DRAFT, actor)
    if send_email:
        email_invoice(invoice=invoice, actor=actor)
    return invoice


# Status changes ------------------------------------------------------------------------------


@transaction.atomic
def change_invoice_status(
    *,
    invoice: Invoice,
    status: str,
    actor: AbstractBaseUser | None,
    reason: str,
    paid_to_credit: bool = False,
) -> Invoice:
    """Cancel, send to collections or reopen, with a reason.

    Cancelling an invoice that has taken money asks where the money goes: ``paid_to_credit``
    returns it to the client's credit (refunding it to the payer is a refund of the payment),
    one credit line per payment it came from, so each payment can still be refunded from there.
    """
    client = _lock_client_of(invoice)
    invoice = _lock_invoice(invoice)
    require_transition(invoice, status, noun="invoice")
    require_reason(reason, "Say why the invoice status changes.")
    if status in Invoice.BILLED and invoice.status not in Invoice.BILLED:
        _check_periods_free(invoice)
    with audit.context.context(action=f"billing.invoice_{status}", reason=reason, actor=actor):
        if status == Invoice.Status.CANCELLED and invoice.amount_paid > 0:
            if not paid_to_credit:
                raise ValidationError(
                    "This invoice has taken %(paid)s. Return it to the client's credit, "
                    "or refund the payments first.",
                    code="has_payments",
                    params={"paid": invoice.amount_paid},
                )
            left = invoice.amount_paid
            for payment, share in _paid_by_source(invoice):
                share = min(share, left)
                if share <= 0:
                    continue
                entry = _credit_entry(
                    client=client,
                    kind=CreditEntry.Kind.RETURNED,
                    amount=share,
                    description=f"Paid on cancelled invoice {invoice.number}: {reason}",
                    invoice=invoice,
                    transaction_row=payment,
                    actor=actor,
                )
                _allocate(invoice, -share, credit_entry=entry)
                left -= share
            invoice.amount_paid = ZERO
        old_status, invoice.status = invoice.status, status
        invoice.status_reason = reason.strip()
        invoice.full_clean()
        invoice.save(update_fields=["status", "status_reason", "amount_paid", "updated_at"])
        if status == Invoice.Status.CANCELLED:
            _entered(invoice, old_status, actor, reason)
    return invoice


@transaction.atomic
def mark_invoice_paid(*, invoice: Invoice, actor: AbstractBaseUser | None, reason: str) -> Invoice:
    """Paid without money (a write-off, a settlement outside the system): needs a reason."""
    _lock_client_of(invoice)
    invoice = _lock_invoice(invoice)
    if invoice.status not in Invoice.PAYABLE:
        raise ValidationError("Only an unpaid invoice can be marked paid.", code="not_payable")
    require_reason(reason, "Say why this invoice is paid without a payment.")
    with audit.context.context(action="billing.mark_invoice_paid", reason=reason, actor=actor):
        old_status, invoice.status = invoice.status, Invoice.Status.PAID
        invoice.paid_at = timezone.now()
        invoice.paid_without_payment = True
        invoice.status_reason = reason.strip()
        invoice.save(
            update_fields=[
                "status",
                "paid_at",
                "paid_without_payment",
                "status_reason",
                "updated_at",
            ]
        )
        _became_paid(invoice, old_status, actor)
    return invoice


# Money ---------------------------------------------------------------------------------------


def _allocate(
    invoice: Invoice,
    amount: Decimal,
    *,
    transaction_row: Transaction | None = None,
    credit_entry: CreditEntry | None = None,
) -> Allocation:
    allocation = Allocation(
        invoice=invoice, transaction=transaction_row, credit_entry=credit_entry, amount=amount
    )
    allocation.full_clean()
    allocation.save()
    return allocation


def _settle(
    invoice: Invoice,
    amount: Decimal,
    when: dt.datetime,
    actor: AbstractBaseUser | None,
    payment: Transaction | None = None,
) -> None:
    """Count ``amount`` (of ``payment``, or of credit) against the locked ``invoice``; it
    becomes Paid when nothing is due."""
    invoice.amount_paid += amount
    fields = ["amount_paid", "updated_at"]
    old_status = invoice.status
    paid = invoice.total - invoice.amount_paid <= 0 and invoice.status in Invoice.PAYABLE
    if paid:
        invoice.status, invoice.paid_at = Invoice.Status.PAID, when
        fields += ["status", "paid_at"]
    invoice.save(update_fields=fields)
    if paid:
        _became_paid(invoice, old_status, actor, payment)


def _credit_entry(
    *,
    client: Client,
    kind: str,
    amount: Decimal,
    description: str,
    actor: AbstractBaseUser | None,
    invoice: Invoice | None = None,
    transaction_row: Transaction | None = None,
) -> CreditEntry:
    entry = CreditEntry(
        client=client,
        kind=kind,
        currency=client.currency,
        amount=amount,
        description=description[:500],
        invoice=invoice,
        transaction=transaction_row,
        created_by=_actor(actor),
    )
    entry.full_clean()
    entry.save()
    return entry


def credit_balance(client: Client) -> Decimal:
    total = CreditEntry.objects.filter(client=client).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def _check_date(when: dt.datetime, reason: str, *, name: str = "date") -> bool:
    """True when ``when`` is back-dated (before today); back-dating needs a reason."""
    if timezone.is_naive(when):
        raise _field_error(name, "A date and time with its time zone.", "naive_datetime")
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise _field_error(name, "Money cannot move in the future.", "future_date")
    backdated = timezone.localdate(when) < timezone.localdate()
    if backdated:
        require_reason(reason, "Say why the date is in the past.")
    return backdated


def _new_transaction(
    *,
    client: Client | None,
    kind: str,
    gateway: str,
    transaction_id: str,
    date: dt.datetime,
    amount_in: Decimal = ZERO,
    amount_out: Decimal = ZERO,
    fees: Decimal = ZERO,
    description: str = "",
    currency: str,
    refund_of: Transaction | None = None,
    allow_duplicate_id: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Transaction:
    _check_gateway(gateway)
    transaction_id = (transaction_id or "").strip()
    if fees < 0:
        raise _field_error("fees", "Fees cannot be negative.", "negative")
    if fees > amount_in + amount_out:
        raise _field_error("fees", "Fees cannot be more than the amount.", "fees_exceed_amount")
    backdated = _check_date(date, reason)
    if transaction_id:
        taken = Transaction.objects.filter(
            gateway=gateway, transaction_id=transaction_id, allow_duplicate_id=False
        ).exists()
        if taken and not allow_duplicate_id:
            raise _field_error(
                "transaction_id",
                "This gateway already has a transaction with this ID.",
                "duplicate_transaction_id",
            )
        if allow_duplicate_id:
            require_reason(reason, "Say why the same transaction ID is recorded again.")
    row = Transaction(
        client=client,
        kind=kind,
        gateway=gateway,
        transaction_id=transaction_id,
        allow_duplicate_id=allow_duplicate_id and bool(transaction_id),
        date=date,
        backdated=backdated,
        currency=currency,
        amount_in=amount_in,
        amount_out=amount_out,
        fees=fees,
        description=description.strip(),
        refund_of=refund_of,
        created_by=_actor(actor),
    )
    row.full_clean(validate_constraints=False)
    with integrity_errors(TRANSACTION_CONSTRAINTS):  # lost a race with the same ID
        row.save()
    return row


@transaction.atomic
def record_payment(
    *,
    client: Client,
    allocations: Sequence[tuple[Invoice, Decimal | None]],
    gateway: str,
    date: dt.datetime,
    amount: Decimal | None = None,
    transaction_id: str = "",
    fees: Decimal = ZERO,
    send_receipt: bool = False,
    allow_duplicate_id: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Transaction:
    """Money received for one or more of the client's invoices.

    ``allocations`` lists invoices with the amount for each (``None``: up to its balance).
    ``amount`` blank means the sum of the balances; more than the invoices need becomes the
    client's credit. Invoices are locked and re-read, so two payments racing on one invoice
    never take it past its total: the second one sees what the first one left.
    """
    client = _lock_client(client)
    if not allocations and amount is None:
        raise ValidationError("Choose an invoice or give an amount.", code="nothing_to_pay")
    ids = [inv.pk for inv, _ in allocations]
    if len(set(ids)) != len(ids):
        raise ValidationError("An invoice is listed twice.", code="duplicate_invoice")
    locked = {
        inv.pk: inv for inv in Invoice.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    plan: list[tuple[Invoice, Decimal]] = []
    for given, wanted in allocations:
        invoice = locked[given.pk]
        require_same_client(
            client,
            invoice,
            message="Invoice %(number)s belongs to another client.",
            params={"number": invoice},
        )
        if invoice.status not in Invoice.PAYABLE or invoice.balance <= 0:
            raise ValidationError(
                "Invoice %(number)s is %(status)s: it cannot take a payment.",
                code="not_payable",
                params={"number": invoice, "status": invoice.get_status_display().lower()},
            )
        share = invoice.balance if wanted is None else _positive(wanted, "amount", "Each amount")
        if share > invoice.balance:
            raise ValidationError(
                "%(amount)s is more than the %(balance)s due on invoice %(number)s.",
                code="over_allocation",
                params={"amount": share, "balance": invoice.balance, "number": invoice},
            )
        plan.append((invoice, share))
    allocated = sum((share for _inv, share in plan), ZERO)
    amount = allocated if amount is None else _positive(amount, "amount", "The amount")
    if amount < allocated:
        # A single invoice with a smaller amount is a part payment.
        if len(plan) == 1 and allocations[0][1] is None:
            plan, allocated = [(plan[0][0], amount)], amount
        else:
            raise ValidationError(
                "The amounts for the invoices add up to more than the payment.",
                code="over_allocation",
            )
    with audit.context.context(action="billing.record_payment", reason=reason, actor=actor):
        payment = _new_transaction(
            client=client,
            kind=Transaction.Kind.PAYMENT,
            gateway=gateway,
            transaction_id=transaction_id,
            date=date,
            amount_in=amount,
            fees=fees,
            description="Payment for " + ", ".join(str(inv) for inv, _ in plan)
            if plan
            else "Payment to credit",
            currency=client.currency,
            allow_duplicate_id=allow_duplicate_id,
            actor=actor,
            reason=reason,
        )
        for invoice, share in plan:
            if invoice.currency != client.currency:
                raise ValidationError(
                    "Invoice %(number)s is in another currency.",
                    code="currency_mismatch",
                    params={"number": invoice},
                )
            _allocate(invoice, share, transaction_row=payment)
            _settle(invoice, share, date, actor, payment)
        if amount > allocated:
            _credit_entry(
                client=client,
                kind=CreditEntry.Kind.OVERPAYMENT,
                amount=amount - allocated,
                description=f"Overpayment of {payment}",
                transaction_row=payment,
                actor=actor,
            )
    if send_receipt:
        _send_receipt(payment=payment, invoices=[inv for inv, _ in plan], actor=actor)
    return payment


@transaction.atomic
def record_transaction(
    *,
    direction: str,
    amount: Decimal,
    gateway: str,
    date: dt.datetime,
    description: str,
    currency: str,
    client: Client | None = None,
    fees: Decimal = ZERO,
    transaction_id: str = "",
    allow_duplicate_id: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Transaction:
    """Money in or out that is not an invoice payment (a bank fee, a chargeback fee...)."""
    if direction not in ("in", "out"):
        raise ValidationError("Money goes in or out.", code="invalid_direction")
    amount = _positive(amount, "amount", "The amount")
    if not description.strip():
        raise _field_error("description", "Describe the transaction.", "description_required")
    if client is not None:
        client = _lock_client(client)
        currency = client.currency
    if currency not in dict(settings.CURRENCIES):
        raise _field_error("currency", "Unknown currency.", "unknown_currency")
    with audit.context.context(action="billing.record_transaction", reason=reason, actor=actor):
        return _new_transaction(
            client=client,
            kind=Transaction.Kind.INCOME if direction == "in" else Transaction.Kind.EXPENSE,
            gateway=gateway,
            transaction_id=transaction_id,
            date=date,
            amount_in=amount if direction == "in" else ZERO,
            amount_out=amount if direction == "out" else ZERO,
            fees=fees,
            description=description,
            currency=currency,
            allow_duplicate_id=allow_duplicate_id,
            actor=actor,
            reason=reason,
        )


def _paid_by_source(invoice: Invoice) -> list[tuple[Transaction | None, Decimal]]:
    """What is paid on ``invoice``, by where it came from: each payment (less its refunds and
    what was returned to credit from it), then credit (``None``), in that order."""
    nets: dict[int | None, Decimal] = {}
    payments: dict[int, Transaction] = {}
    allocations = invoice.allocations.select_related(
        "transaction", "transaction__refund_of", "credit_entry", "credit_entry__transaction"
    )
    for allocation in allocations:
        row, entry = allocation.transaction, allocation.credit_entry
        if row is not None:
            payment = row.refund_of if row.kind == Transaction.Kind.REFUND else row
        elif entry.kind == CreditEntry.Kind.RETURNED and entry.transaction_id:
            payment = entry.transaction
        else:
            payment = None  # applied credit, or credit returned from it
        key = payment.pk if payment is not None else None
        if payment is not None:
            payments[payment.pk] = payment
        nets[key] = nets.get(key, ZERO) + allocation.amount
    sources = [(payments[pk], nets[pk]) for pk in sorted(payments)]
    return [*sources, (None, nets.get(None, ZERO))]


@dataclass(frozen=True)
class Refundable:
    """Where a payment's money still is: on its invoices (id → amount) and in credit."""

    on_invoices: dict[int, Decimal]
    in_credit: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.on_invoices.values(), ZERO) + self.in_credit


def _refundable(payment: Transaction, invoices: Mapping[int, Invoice]) -> Refundable:
    """Never more than is there: an invoice gives at most what is paid on it, credit at most
    the client's credit balance (credit spent on other invoices is not the payment's any more)."""
    from_payment = (
        Q(transaction=payment)
        | Q(transaction__refund_of=payment)
        | Q(credit_entry__kind=CreditEntry.Kind.RETURNED, credit_entry__transaction=payment)
    )
    per_invoice = (
        Allocation.objects.filter(from_payment)
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .order_by("invoice_id")
    )
    on_invoices = {}
    for row in per_invoice:
        invoice = invoices.get(row["invoice_id"]) or Invoice.objects.get(pk=row["invoice_id"])
        share = min(row["total"], invoice.amount_paid)
        if share > 0:
            on_invoices[row["invoice_id"]] = share
    credit = (
        CreditEntry.objects.filter(
            Q(transaction=payment) | Q(transaction__refund_of=payment)
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    in_credit = max(min(credit, credit_balance(payment.client)), ZERO)
    return Refundable(on_invoices=on_invoices, in_credit=in_credit)


def refundable_amount(payment: Transaction) -> Decimal:
    """What of a payment can still be refunded: what of it is still on its invoices or in the
    client's credit (its overpaid part, or what a cancelled invoice returned), never more."""
    return _refundable(payment, {}).total


@transaction.atomic
def refund_payment(
    *,
    payment: Transaction,
    amount: Decimal | None = None,
    transaction_id: str = "",
    date: dt.datetime | None = None,
    actor: AbstractBaseUser | None,
    reason: str,
) -> Transaction:
    """Give back all or part of a payment, as its own transaction out; needs a reason.

    The refund takes the payment's money back from where it is: first from the client's
    credit (a ledger line), then off its invoices, newest allocation first; an invoice that
    has nothing paid on it any more becomes Refunded.
    """
    payment = Transaction.objects.select_related("client").get(pk=payment.pk)
    if payment.kind != Transaction.Kind.PAYMENT:
        raise ValidationError("Only a payment can be refunded.", code="not_a_payment")
    require_reason(reason, "Say why the payment is refunded.")
    client = _lock_client(payment.client)
    payment.client = client
    touched = Allocation.objects.filter(
        Q(transaction=payment)
        | Q(transaction__refund_of=payment)
        | Q(credit_entry__kind=CreditEntry.Kind.RETURNED, credit_entry__transaction=payment)
    ).values_list("invoice_id", flat=True)
    locked = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update().filter(pk__in=touched).order_by("pk")
    }
    where = _refundable(payment, locked)
    refundable = where.total
    amount = refundable if amount is None else _positive(amount, "amount", "The refund")
    if refundable <= 0:
        raise ValidationError("Nothing of this payment is left to refund.", code="fully_refunded")
    if amount > refundable:
        raise _field_error(
            "amount", f"At most {refundable} of this payment can be refunded.", "over_refund"
        )
    date = date or timezone.now()
    with audit.context.context(action="billing.refund_payment", reason=reason, actor=actor):
        refund = _new_transaction(
            client=client,
            kind=Transaction.Kind.REFUND,
            gateway=payment.gateway,
            transaction_id=transaction_id,
            date=date,
            amount_out=amount,
            description=f"Refund of {payment}: {reason.strip()}",
            currency=payment.currency,
            refund_of=payment,
            actor=actor,
            reason=reason,
        )
        left = amount
        from_credit = min(left, where.in_credit)
        if from_credit > 0:
            _credit_entry(
                client=client,
                kind=CreditEntry.Kind.REFUNDED,
                amount=-from_credit,
                description=f"Refunded to the payer ({refund}): {reason.strip()}",
                transaction_row=refund,
                actor=actor,
            )
            left -= from_credit
        latest = dict(
            payment.allocations.values("invoice_id")
            .annotate(last=Max("id"))
            .values_list("invoice_id", "last")
        )
        newest_first = sorted(where.on_invoices, key=lambda pk: -latest.get(pk, 0))
        for invoice_id in newest_first:
            if left <= 0:
                break
            invoice = locked[invoice_id]
            share = min(where.on_invoices[invoice_id], left)
            _allocate(invoice, -share, transaction_row=refund)
            invoice.amount_paid -= share
            fields = ["amount_paid", "updated_at"]
            refunded = invoice.amount_paid == 0 and invoice.status == Invoice.Status.PAID
            if refunded:
                invoice.status = Invoice.Status.REFUNDED
                invoice.status_reason = reason.strip()
                fields += ["status", "status_reason"]
            invoice.save(update_fields=fields)
            if refunded:
                _entered(invoice, Invoice.Status.PAID, actor, reason, transaction_row=refund)
            left -= share
        if left != 0:  # the money must come off somewhere, or the payer is paid twice
            raise _field_error(
                "amount", f"At most {amount - left} of this payment can be refunded.", "over_refund"
            )
    return refund


# Credit --------------------------------------------------------------------------------------


@transaction.atomic
def add_credit(
    *, client: Client, amount: Decimal, reason: str, actor: AbstractBaseUser | None
) -> CreditEntry:
    require_reason(reason, "Say why the client gets this credit.")
    amount = _positive(amount, "amount", "The credit")
    client = _lock_client(client)
    with audit.context.context(action="billing.add_credit", reason=reason, actor=actor):
        return _credit_entry(
            client=client,
            kind=CreditEntry.Kind.ADDED,
            amount=amount,
            description=reason.strip(),
            actor=actor,
        )


@transaction.atomic
def remove_credit(
    *, client: Client, amount: Decimal, reason: str, actor: AbstractBaseUser | None
) -> CreditEntry:
    require_reason(reason, "Say why the credit is removed.")
    amount = _positive(amount, "amount", "The amount")
    client = _lock_client(client)
    balance = credit_balance(client)
    if amount > balance:
        raise _field_error(
            "amount",
            f"The client has only {balance} {client.currency} of credit.",
            "insufficient_credit",
        )
    with audit.context.context(action="billing.remove_credit", reason=reason, actor=actor):
        return _credit_entry(
            client=client,
            kind=CreditEntry.Kind.REMOVED,
            amount=-amount,
            description=reason.strip(),
            actor=actor,
        )


@transaction.atomic
def apply_credit(
    *,
    invoice: Invoice,
    amount: Decimal | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> CreditEntry:
    """Pay (part of) an invoice from the client's credit; blank takes as much as fits."""
    client = _lock_client(invoice.client)
    invoice = _lock_invoice(invoice)
    if invoice.status not in Invoice.PAYABLE or invoice.balance <= 0:
        raise ValidationError("Only an unpaid invoice can take credit.", code="not_payable")
    balance = credit_balance(client)
    if balance <= 0:
        raise ValidationError("The client has no credit.", code="insufficient_credit")
    amount = (
        min(balance, invoice.balance)
        if amount is None
        else _positive(amount, "amount", "The amount")
    )
    if amount > balance:
        raise _field_error(
            "amount",
            f"The client has only {balance} {client.currency} of credit.",
            "insufficient_credit",
        )
    if amount > invoice.balance:
        raise _field_error(
            "amount", f"Only {invoice.balance} is due on this invoice.", "over_allocation"
        )
    with audit.context.context(action="billing.apply_credit", reason=reason, actor=actor):
        entry = _credit_entry(
            client=client,
            kind=CreditEntry.Kind.APPLIED,
            amount=-amount,
            description=f"Applied to invoice {invoice}",
            invoice=invoice,
            actor=actor,
        )
        _allocate(invoice, amount, credit_entry=entry)
        _settle(invoice, amount, timezone.now(), actor)
    return entry


# Billable items ------------------------------------------------------------------------------


@transaction.atomic
def add_billable_item(
    *,
    client: Client,
    description: str,
    unit_price: Decimal,
    quantity: Decimal = Decimal(1),
    taxed: bool = True,
    service: Any = None,
    invoice_now: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> BillableItem:
    """Queue a one-off charge for the client's next invoice, or invoice it at once."""
    client = _lock_client(client)
    require_same_client(
        client,
        service,
        field="service",
        message="That hosting account belongs to another client.",
    )
    with audit.context.context(action="billing.add_billable_item", reason=reason, actor=actor):
        item = BillableItem(
            client=client,
            description=description.strip(),
            quantity=quantity,
            unit_price=unit_price,
            taxed=taxed,
            service=service,
        )
        item.full_clean()
        item.save()
    if invoice_now:
        today = timezone.localdate()
        invoice = create_invoice(
            client=client,
            lines=[line_for_billable(item)],
            issue_date=today,
            due_date=today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            actor=actor,
            reason=reason,
        )
        publish_invoice(invoice=invoice, actor=actor, reason=reason)
        item.refresh_from_db()
    return item


@transaction.atomic
def remove_billable_item(
    *, item: BillableItem, actor: AbstractBaseUser | None, reason: str = ""
) -> None:
    item = BillableItem.objects.select_for_update().get(pk=item.pk)
    if item.invoice_item_id is not None:
        raise ValidationError(
            "This charge is on an invoice; remove it from the draft instead.",
            code="already_invoiced",
        )
    with audit.context.context(action="billing.remove_billable_item", reason=reason, actor=actor):
        item.delete()


# Lines from the client's records -------------------------------------------------------------


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


def line_for_billable(item: BillableItem) -> LineData:
    return LineData(
        description=item.description,
        quantity=item.quantity,
        unit_price=item.unit_price,
        taxed=item.taxed,
        kind=InvoiceItem.Kind.BILLABLE,
        billable_item=item,
    )


# Emails --------------------------------------------------------------------------------------


def _invoice_recipients(client: Client) -> list[str]:
    to = [client.billing_email or client.email]
    to += [c.email for c in client.contacts.filter(receives_invoices=True) if c.email not in to]
    return to


# The outbox renders the PDF when the email goes out (registered in ``integration``), never
# inside the transaction that publishes: WeasyPrint takes a while and the series is locked.
INVOICE_PDF = "billing.invoice_pdf"


def invoice_pdf_attachment(invoice_id: int) -> tuple[bytes, str]:
    from billing.pdf import invoice_pdf

    return invoice_pdf(Invoice.objects.select_related("client").get(pk=invoice_id)), (
        "application/pdf"
    )


@transaction.atomic
def email_invoice(*, invoice: Invoice, actor: AbstractBaseUser | None) -> EmailLog:
    """Email the invoice with its PDF: logged in the client's email log now; the PDF is
    rendered and the email sent after the commit."""
    from clients.outbox import Attachment, queue_email

    invoice = Invoice.objects.select_related("client").get(pk=invoice.pk)
    if invoice.is_draft:
        raise ValidationError("Publish the invoice before emailing it.", code="not_published")
    client = invoice.client
    body = render_text(
        "billing/emails/invoice.txt",
        {"invoice": invoice, "client": client, "company": settings.COMPANY_NAME},
    )
    with audit.context.context(action="billing.email_invoice", actor=actor):
        return queue_email(
            client=client,
            kind=EmailLog.Kind.INVOICE,
            to=_invoice_recipients(client),
            subject=f"Invoice {invoice.number}",
            body=body,
            actor=actor,
            attachments=[Attachment(INVOICE_PDF, invoice.pk, f"{invoice.number}.pdf")],
        )


def _send_receipt(
    *, payment: Transaction, invoices: Sequence[Invoice], actor: AbstractBaseUser | None
) -> EmailLog:
    from clients.outbox import queue_email

    client = payment.client
    body = render_text(
        "billing/emails/receipt.txt",
        {
            "payment": payment,
            "invoices": invoices,
            "client": client,
            "company": settings.COMPANY_NAME,
        },
    )
    return queue_email(
        client=client,
        kind=EmailLog.Kind.RECEIPT,
        to=_invoice_recipients(client),
        subject=f"Payment received - {payment.amount_in} {payment.currency}",
        body=body,
        actor=actor,
    )


def summary_for(client: Client) -> Mapping[str, Any]:
    """The client's billing figures in two queries (invoices, credit)."""
    from django.db.models import Count

    today = timezone.localdate()
    payable = Q(status__in=Invoice.PAYABLE)
    published = ~Q(status=Invoice.Status.DRAFT)
    figures = (
        Invoice.objects.filter(client=client)
        .with_balance_due()
        .aggregate(
            invoiced=Sum("total", filter=~Q(status__in=["draft", "cancelled"])),
            paid=Sum("amount_paid"),
            due=Sum("owed", filter=published),
            overdue=Sum("owed", filter=published & Q(due_date__lt=today)),
            unpaid_count=Count("id", filter=payable),
            draft_count=Count("id", filter=Q(status="draft")),
        )
    )
    return {
        **{k: v or (ZERO if not k.endswith("count") else 0) for k, v in figures.items()},
        "credit": credit_balance(client),
        "currency": client.currency,
    }
