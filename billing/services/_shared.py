"""The helpers every billing service shares: locks (in the order written in
``billing/services/__init__.py``), field errors, amounts, and telling other apps that an invoice
changed status.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from billing.models import Invoice, Transaction
from billing.services.renewals import _renew_billed_records
from billing.totals import money
from clients.models import Client
from core.extension_points import InvoiceStatusChange, invoice_entered

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


def _field_error(field_name: str, message: str, code: str) -> ValidationError:
    return ValidationError({field_name: ValidationError(message, code=code)})


def _actor(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.pk else None


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
