"""Enrolling affiliates, manual referrals, the commission ledger, clearing and payouts.

Money moves through ``billing.services`` (a payout by transaction is money out on the
affiliate's client account; a payout as credit is credit on it). A refunded invoice reverses
its commissions through billing's "refunded" invoice handler.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit.context
from affiliates.models import Affiliate, Commission, Payout, Referral
from audit.edits import refuse_if_changed
from billing import services as billing
from billing.models import Invoice, Transaction
from clients.models import Client
from core.rules import require_known_fields, require_reason

CENT = Decimal("0.01")


def _field(name: str, message: str, code: str) -> ValidationError:
    return ValidationError({name: ValidationError(message, code=code)})


def _suggest_code(client: Client) -> str:
    base = re.sub(r"[^A-Z0-9]", "", (client.company_name or client.last_name).upper())[:12]
    base = base if len(base) >= 3 else f"AFF{base}"
    code, n = base, 1
    while Affiliate.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def _terms(commission_type: str, commission_value: Decimal | None) -> Decimal | None:
    if commission_type == Affiliate.CommissionType.DEFAULT:
        return None
    if commission_value is None or commission_value <= 0:
        raise _field("commission_value", "Give the commission for these terms.", "required")
    if commission_type == Affiliate.CommissionType.PERCENTAGE and commission_value > 100:
        raise _field("commission_value", "A percentage is at most 100.", "over_100")
    return commission_value


@transaction.atomic
def enrol_affiliate(
    *,
    client: Client,
    actor: User,
    code: str = "",
    commission_type: str = Affiliate.CommissionType.DEFAULT,
    commission_value: Decimal | None = None,
    payout_threshold: Decimal | None = None,
    notes: str = "",
) -> Affiliate:
    """Make a client an affiliate with a unique referral code (suggested when left blank)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if Affiliate.objects.filter(client=client).exists():
        raise ValidationError("This client is already an affiliate.", code="already_affiliate")
    code = code.strip().upper() or _suggest_code(client)
    if Affiliate.objects.filter(code=code).exists():
        raise _field("code", "Another affiliate uses this code.", "duplicate_code")
    with audit.context.context(action="affiliates.enrol_affiliate", actor=actor):
        affiliate = Affiliate(
            client=client,
            code=code,
            commission_type=commission_type,
            commission_value=_terms(commission_type, commission_value),
            payout_threshold=(
                settings.AFFILIATE_DEFAULT_PAYOUT_THRESHOLD
                if payout_threshold is None
                else payout_threshold
            ),
            notes=notes.strip(),
            enrolled_by=actor,
        )
        affiliate.full_clean()
        affiliate.save()
    return affiliate


AFFILIATE_FIELDS = (
    "code",
    "commission_type",
    "commission_value",
    "payout_threshold",
    "active",
    "notes",
)


@transaction.atomic
def update_affiliate(
    *,
    affiliate: Affiliate,
    data: dict[str, Any],
    actor: User,
    reason: str = "",
    version: int | None = None,
) -> Affiliate:
    """Change an affiliate's code, terms, threshold or status; terms and status need a reason."""
    affiliate = Affiliate.objects.select_for_update().get(pk=affiliate.pk)
    refuse_if_changed(affiliate, version)
    require_known_fields(data, AFFILIATE_FIELDS)
    data = dict(data)
    if "code" in data:
        data["code"] = data["code"].strip().upper()
        if Affiliate.objects.filter(code=data["code"]).exclude(pk=affiliate.pk).exists():
            raise _field("code", "Another affiliate uses this code.", "duplicate_code")
    if "commission_type" in data:
        data["commission_value"] = _terms(data["commission_type"], data.get("commission_value"))
    changed = [n for n, v in data.items() if getattr(affiliate, n) != v]
    if not changed:
        return affiliate
    sensitive = {"commission_type", "commission_value", "active", "code"} & set(changed)
    if sensitive:
        require_reason(reason, "Say why the terms, code or status change.", field="audit_reason")
    with audit.context.context(action="affiliates.update_affiliate", reason=reason, actor=actor):
        for name in changed:
            setattr(affiliate, name, data[name])
        affiliate.full_clean()
        affiliate.save(update_fields=[*changed, "updated_at"])
    return affiliate


@transaction.atomic
def add_referral(
    *,
    affiliate: Affiliate,
    actor: User,
    client: Client | None = None,
    service: Any = None,
    reason: str = "",
) -> Referral:
    """Link a client or a hosting account to an affiliate; replacing another affiliate's
    referral needs a reason (the old one is kept, marked replaced)."""
    affiliate = Affiliate.objects.select_for_update().get(pk=affiliate.pk)
    if (client is None) == (service is None):
        raise ValidationError("Choose a client or a hosting account.", code="one_target")
    if not affiliate.active:
        raise ValidationError("This affiliate is not active.", code="affiliate_inactive")
    owner = client.pk if client is not None else service.client_id
    if owner == affiliate.client_id:
        raise ValidationError("An affiliate cannot refer itself.", code="self_referral")
    target = {"client": client} if client is not None else {"service": service}
    current = Referral.objects.select_for_update().filter(active=True, **target).first()
    if current is not None and current.affiliate_id == affiliate.pk:
        raise ValidationError("This affiliate already has this referral.", code="already_referred")
    if current is not None:
        require_reason(
            reason,
            f"Already referred by affiliate {current.affiliate}: say why it changes.",
            field="reason",
        )
    with audit.context.context(action="affiliates.add_referral", reason=reason, actor=actor):
        if current is not None:
            current.active = False
            current.replaced_at = timezone.now()
            current.save(update_fields=["active", "replaced_at"])
        referral = Referral(affiliate=affiliate, created_by=actor, **target)
        referral.full_clean()
        referral.save()
    return referral


def suggested_commission(affiliate: Affiliate, invoice: Invoice | None) -> Decimal | None:
    """What the affiliate's terms give for an invoice (half-up to the cent)."""
    if affiliate.commission_type == Affiliate.CommissionType.FIXED:
        return affiliate.commission_value
    if invoice is None:
        return None
    percent = (
        affiliate.commission_value
        if affiliate.commission_type == Affiliate.CommissionType.PERCENTAGE
        else Decimal(str(settings.AFFILIATE_DEFAULT_COMMISSION_PERCENT))
    )
    amount = invoice.subtotal * percent / 100  # type: ignore[operator]  # Affiliate.clean: set
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def add_commission(
    *,
    affiliate: Affiliate,
    amount: Decimal | None,
    actor: User,
    invoice: Invoice | None = None,
    referral: Referral | None = None,
    reason: str = "",
    clears_on: dt.date | None = None,
) -> Commission:
    """A manual commission; pending until the clearing period has passed. Without an amount,
    the affiliate's terms are applied to the invoice."""
    affiliate = Affiliate.objects.select_for_update().select_related("client").get(pk=affiliate.pk)
    if invoice is not None:
        invoice = Invoice.objects.get(pk=invoice.pk)  # its status now, not the caller's copy
    if amount is None:
        amount = suggested_commission(affiliate, invoice)
        if amount is None:
            raise _field("amount", "Give the amount (or the invoice).", "required")
    if amount <= 0:
        raise _field("amount", "A commission is more than zero.", "not_positive")
    if invoice is not None:
        if invoice.currency != affiliate.client.currency:
            raise _field(
                "invoice",
                f"The invoice is in {invoice.currency}; the affiliate earns in "
                f"{affiliate.client.currency}.",
                "currency_mismatch",
            )
        if invoice.status != Invoice.Status.PAID:
            # The terms read "of each paid invoice" (the database holds this rule too).
            raise _field(
                "invoice",
                f"Invoice {invoice} is {invoice.get_status_display().lower()}: only a paid "
                "invoice earns commission. Add it once the invoice is paid.",
                "invoice_not_paid",
            )
    if referral is not None and referral.affiliate_id != affiliate.pk:
        raise _field("referral", "This referral belongs to another affiliate.", "wrong_affiliate")
    if invoice is None:
        require_reason(
            reason, "Say what the commission is for (or choose the invoice).", field="reason"
        )
    today = timezone.localdate()
    with audit.context.context(action="affiliates.add_commission", reason=reason, actor=actor):
        commission = Commission(
            affiliate=affiliate,
            amount=amount,
            invoice=invoice,
            referral=referral,
            note=reason.strip(),
            clears_on=clears_on or today + dt.timedelta(days=settings.AFFILIATE_CLEARING_DAYS),
            created_by=actor,
        )
        commission.full_clean()
        commission.save()
    return commission


def clear_due_commissions(*, today: dt.date | None = None) -> int:
    """Clear pending commissions whose date has come. Idempotent; each row commits alone and
    rows another run holds are skipped (``manage.py clear_commissions``, daily)."""
    today = today or timezone.localdate()
    cleared = 0
    while True:
        with transaction.atomic():
            batch = list(
                Commission.objects.select_for_update(skip_locked=True)
                .filter(status=Commission.Status.PENDING, clears_on__lte=today)
                .order_by("clears_on", "id")[:500]
            )
            if not batch:
                return cleared
            with audit.context.context(action="affiliates.clear_commissions"):
                now = timezone.now()
                for commission in batch:
                    commission.status = Commission.Status.CLEARED
                    commission.cleared_at = now
                    commission.save(update_fields=["status", "cleared_at", "updated_at"])
            cleared += len(batch)


@transaction.atomic
def reverse_commission(
    *,
    commission: Commission,
    reason: str,
    actor: User | None,
    refund: Transaction | None = None,
) -> Commission:
    """Take a commission back. Not yet paid out: it is marked reversed. Already paid out: it
    stays paid and a clawback line (the negative amount, cleared) is added, so the balance
    shows what the affiliate owes; returns that line."""
    Affiliate.objects.select_for_update().get(pk=commission.affiliate_id)
    commission = Commission.objects.select_for_update().get(pk=commission.pk)
    if commission.kind == Commission.Kind.CLAWBACK:
        raise ValidationError("A clawback cannot be reversed.", code="is_clawback")
    if commission.status == Commission.Status.REVERSED:
        raise ValidationError("This commission is already reversed.", code="already_reversed")
    if commission.clawbacks.exists():
        raise ValidationError("This commission is already clawed back.", code="already_clawed_back")
    require_reason(reason, "Say why it is reversed.", field="reason")
    reason = reason.strip()[:500]
    if commission.status == Commission.Status.PAID:
        with audit.context.context(
            action="affiliates.claw_back_commission", reason=reason, actor=actor
        ):
            now = timezone.now()
            clawback = Commission(
                affiliate_id=commission.affiliate_id,
                kind=Commission.Kind.CLAWBACK,
                amount=-commission.amount,
                invoice_id=commission.invoice_id,
                clawback_of=commission,
                note=f"Clawback of commission #{commission.pk} (paid out in payout "
                f"#{commission.payout_id}): {reason}"[:500],
                status=Commission.Status.CLEARED,
                clears_on=now.date(),
                cleared_at=now,
                reversed_by_refund=refund,
                # The trail names who did it; the ledger row needs someone even for a command.
                created_by=actor or commission.created_by,
            )
            clawback.full_clean()
            clawback.save()
        return clawback
    with audit.context.context(action="affiliates.reverse_commission", reason=reason, actor=actor):
        commission.status = Commission.Status.REVERSED
        commission.reversed_at = timezone.now()
        commission.reversal_reason = reason
        commission.reversed_by_refund = refund
        commission.save(
            update_fields=[
                "status",
                "reversed_at",
                "reversal_reason",
                "reversed_by_refund",
                "updated_at",
            ]
        )
    return commission


def reverse_for_refunded_invoice(
    *, invoice: Invoice, refund: Transaction | None, actor: Any, reason: str = ""
) -> None:
    """Billing's "refunded" handler: the invoice's commissions are reversed (or clawed back
    when already paid out), linked to ``refund``, the refund that emptied the invoice (runs
    inside the refund's transaction)."""
    rows = (
        Commission.objects.filter(invoice=invoice, kind=Commission.Kind.COMMISSION)
        .exclude(status=Commission.Status.REVERSED)
        .exclude(clawbacks__isnull=False)
    )
    for commission in rows.order_by("id"):
        reverse_commission(
            commission=commission,
            reason=f"Invoice {invoice} refunded"
            + (f": {reason.strip()}" if reason.strip() else ""),
            actor=actor,
            refund=refund,
        )


def balance_of(affiliate: Affiliate) -> Affiliate:
    return Affiliate.objects.with_balances().select_related("client").get(pk=affiliate.pk)


@transaction.atomic
def record_payout(
    *,
    affiliate: Affiliate,
    amount: Decimal,
    method: str,
    actor: User,
    reference: str = "",
    reason: str = "",
    gateway: str = "",
) -> Payout:
    """Pay an affiliate from its balance: at least the threshold, at most the balance. Cleared
    commissions are marked paid, oldest first, as far as the amount covers them whole."""
    Affiliate.objects.select_for_update().get(pk=affiliate.pk)
    affiliate = balance_of(affiliate)
    if amount is None or amount <= 0:
        raise _field("amount", "A payout is more than zero.", "not_positive")
    if amount > affiliate.balance:  # type: ignore[attr-defined]  # annotated by balance_of
        raise _field(
            "amount",
            f"The balance is {affiliate.balance} {affiliate.client.currency}: "  # type: ignore[attr-defined]  # by balance_of
            "a payout cannot be larger.",
            "above_balance",
        )
    if amount < affiliate.payout_threshold:
        raise _field(
            "amount",
            f"The payout threshold is {affiliate.payout_threshold} {affiliate.client.currency}.",
            "below_threshold",
        )
    if method not in Payout.Method.values:
        raise _field("method", "Choose how it is paid.", "bad_method")
    description = f"Affiliate payout to {affiliate.code}" + (
        f": {reason.strip()}" if reason.strip() else ""
    )
    with audit.context.context(action="affiliates.record_payout", reason=reason, actor=actor):
        payout = Payout(
            affiliate=affiliate,
            amount=amount,
            method=method,
            reference=reference.strip(),
            note=reason.strip(),
            created_by=actor,
        )
        if method == Payout.Method.TRANSACTION:
            payout.transaction = billing.record_transaction(
                direction="out",
                amount=amount,
                gateway=gateway or "bank_transfer",
                date=timezone.now(),
                description=description,
                currency=affiliate.client.currency,
                client=affiliate.client,
                transaction_id=reference.strip(),
                allow_duplicate_id=not reference.strip(),
                actor=actor,
            )
        elif method == Payout.Method.CREDIT:
            payout.credit_entry = billing.add_credit(
                client=affiliate.client, amount=amount, reason=description, actor=actor
            )
        payout.full_clean()
        payout.save()
        left = amount
        cleared = Commission.objects.select_for_update().filter(
            affiliate=affiliate, kind=Commission.Kind.COMMISSION, status=Commission.Status.CLEARED
        )
        for commission in cleared.order_by("cleared_at", "id"):
            if commission.amount > left:
                break
            commission.status = Commission.Status.PAID
            commission.payout = payout
            commission.save(update_fields=["status", "payout", "updated_at"])
            left -= commission.amount
    return payout
