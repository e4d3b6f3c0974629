"""The client's credit: the ledger (``CreditEntry``, whose sum is the balance), adding and
removing credit with a reason, and paying an invoice from it.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

import audit.context
from billing.models import ZERO, CreditEntry, Invoice, Transaction
from billing.services._shared import _actor, _field_error, _lock_client, _lock_invoice, _positive
from billing.services.allocations import _allocate, _settle
from clients.models import Client
from core.rules import require_reason


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
