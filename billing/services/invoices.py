"""Invoices: drafts (create, update, the editor's save, delete), publishing, cancelling,
collections and reopening, and "mark paid" without money.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit.context
from billing.models import ZERO, CreditEntry, Invoice, InvoiceSeries
from billing.services._shared import (
    _became_paid,
    _entered,
    _field_error,
    _lock_client,
    _lock_client_of,
    _lock_invoice,
)
from billing.services.allocations import _allocate
from billing.services.credit import _credit_entry
from billing.services.emails import email_invoice
from billing.services.lines import (
    LineData,
    _build_items,
    _store_items,
    _validate_lines,
    tax_rates_for,
)
from billing.services.numbering import _next_number, default_series
from billing.services.payments import _paid_by_source
from billing.services.renewals import _check_periods_free
from clients.models import Client
from core.rules import require_reason, require_transition

# Drafts --------------------------------------------------------------------------------------


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
