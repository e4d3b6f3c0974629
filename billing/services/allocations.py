"""Money counted against an invoice: an allocation row, and the invoice becoming Paid when
nothing is left to pay.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from billing.models import Allocation, CreditEntry, Invoice, Transaction
from billing.services._shared import _became_paid


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
