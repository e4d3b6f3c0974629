"""Payments, other money in and out, and refunds: each a ``Transaction`` with its allocations;
what of a payment can still be refunded, and from where.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

import audit.context
from billing.models import ZERO, Allocation, CreditEntry, Invoice, Transaction
from billing.services._shared import _actor, _entered, _field_error, _lock_client, _positive
from billing.services.allocations import _allocate, _settle
from billing.services.credit import _credit_entry, credit_balance
from billing.services.emails import _send_receipt
from clients.models import Client
from core.rules import Refusal, integrity_errors, require_reason, require_same_client

TRANSACTION_CONSTRAINTS = {
    "billing_txn_unique_gateway_id": Refusal(
        "transaction_id",
        "This gateway already has a transaction with this ID.",
        code="duplicate_transaction_id",
    )
}


def gateway_choices() -> list[tuple[str, str]]:
    return [tuple(g) for g in settings.BILLING_GATEWAYS]


def _check_gateway(gateway: str) -> None:
    if gateway not in dict(gateway_choices()):
        raise _field_error("gateway", "Choose a known gateway.", "unknown_gateway")


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
