"""Upgrades and downgrades of a hosting account, prorated over its current period
(``orders.pricing.plan_change``): invoiced or credited, applied when the invoice is paid (or at
once), withdrawn when it is cancelled or by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit.context
from billing import services as billing
from billing.models import Invoice, InvoiceItem
from clients.models import Client
from core.rules import require_reason
from hosting.models import BillingCycle, Product, Service
from orders.models import ServiceChange
from orders.pricing import plan_change
from orders.services._shared import _apply_change, _refuse_pending, _save_change


@transaction.atomic
def change_service_product(
    *,
    service: Service,
    product: Product,
    billing_cycle: str,
    recurring_amount: Decimal | None = None,
    apply_now: bool = False,
    send_invoice_email: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
    today: dt.date | None = None,
) -> ServiceChange:
    """Upgrade or downgrade an account, prorated over its current period.

    A positive difference is invoiced and the change waits for that invoice to be paid (or
    happens now, with a reason); a negative one is credited (``PRORATION_CREDIT_DOWNGRADES``)
    and the change happens now. The next due date does not move.
    """
    # Client before the account (billing.services' lock order): the invoice or credit of the
    # change locks the client, and paying a renewal locks the client before the account.
    Client.objects.select_for_update().get(
        pk=Service.objects.values_list("client_id", flat=True).get(pk=service.pk)
    )
    service = (
        Service.objects.select_for_update().select_related("client", "product").get(pk=service.pk)
    )
    _refuse_pending(service, cancellation=False)
    plan = plan_change(
        service=service,
        product=product,
        billing_cycle=billing_cycle,
        recurring_amount=recurring_amount,
        today=today,
    )
    if plan.price_overridden:
        require_reason(reason, "Say why the new price differs from the catalog.")
    if plan.proration.beyond_period and not reason.strip():
        raise ValidationError(
            "The next due date, %(due)s, is more than two billing periods away: check it "
            "on the account (a typo?), or say why one period is prorated.",
            code="due_beyond_period",
            params={"due": f"{plan.proration.next_due_date:%d/%m/%Y}"},
        )
    if apply_now:
        require_reason(reason, "Say why the change happens before the invoice is paid.")
    p = plan.proration
    invoice = credit_entry = None
    label = (
        f"{service.product.name} ({BillingCycle(service.billing_cycle).label}) to "
        f"{product.name} ({BillingCycle(billing_cycle).label})"
    )
    days = f"{p.days_left} day{'s' * (p.days_left != 1)}"
    settlement = plan.settlement
    if settlement == ServiceChange.Settlement.INVOICE:
        local_today = today or timezone.localdate()
        invoice = billing.create_invoice(
            client=service.client,
            lines=[
                billing.LineData(
                    description=f"{plan.kind.capitalize()} of {service}: {label}, {days} to "
                    f"{p.next_due_date:%d/%m/%Y} (charge {p.charge} less credit {p.credit})",
                    quantity=Decimal(1),
                    unit_price=p.difference,
                    kind=InvoiceItem.Kind.SERVICE,
                    service=service,
                )
            ],
            issue_date=local_today,
            due_date=local_today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            actor=actor,
            reason=reason,
        )
        invoice = billing.publish_invoice(
            invoice=invoice, actor=actor, send_email=send_invoice_email
        )
    elif settlement == ServiceChange.Settlement.CREDIT:
        credit_entry = billing.add_credit(
            client=service.client,
            amount=plan.credit_total,
            reason=f"Downgrade of {service}: {label}, {days} unused, tax included"
            + (f", capped at the {plan.paid_for_period} paid" if plan.credit_capped else "")
            + (f" ({reason.strip()})" if reason.strip() else ""),
            actor=actor,
        )
    waits = settlement == ServiceChange.Settlement.INVOICE and not apply_now
    # A zero total invoice is paid on publishing, which needs no wait.
    waits = waits and invoice is not None and invoice.status != Invoice.Status.PAID
    with audit.context.context(action=f"orders.request_{plan.kind}", reason=reason, actor=actor):
        change = _save_change(
            ServiceChange(
                service=service,
                kind=plan.kind,
                takes_effect=ServiceChange.When.ON_PAYMENT
                if waits
                else ServiceChange.When.IMMEDIATE,
                old_product=service.product,
                new_product=product,
                old_cycle=service.billing_cycle,
                new_cycle=billing_cycle,
                currency=service.currency,
                old_amount=plan.old_amount,
                new_amount=plan.new_amount,
                price_overridden=plan.price_overridden,
                period_start=p.period_start,
                next_due_date=p.next_due_date,
                days_in_period=p.days_in_period,
                days_left=p.days_left,
                credit_amount=p.credit,
                charge_amount=p.charge,
                difference=p.difference,
                settlement=settlement,
                invoice=invoice,
                credit_entry=credit_entry,
                reason=reason.strip(),
                requested_by=actor if actor is not None and actor.pk else None,
            )
        )
    if not waits:
        _apply_change(change, actor, reason)
    return change


def apply_paid_changes(*, invoice: Invoice, actor: Any, reason: str = "") -> None:
    """Billing calls this when an invoice becomes Paid: the upgrade it was for happens now."""
    pending = ServiceChange.objects.select_for_update().filter(
        invoice=invoice, status=ServiceChange.Status.PENDING
    )
    for change in pending.select_related("service", "new_product").order_by("id"):
        _apply_change(change, actor, f"Invoice {invoice.number} paid")


def withdraw_for_cancelled_invoice(*, invoice: Invoice, actor: Any, reason: str = "") -> None:
    """Billing calls this when an invoice is cancelled: the change it was for will not happen."""
    pending = ServiceChange.objects.select_for_update().filter(
        invoice=invoice, status=ServiceChange.Status.PENDING
    )
    for change in pending.order_by("id"):
        _withdraw(change, actor, f"Invoice {invoice.number} cancelled: {reason}".strip(": "))


def _withdraw(change: ServiceChange, actor: Any, reason: str) -> ServiceChange:
    with audit.context.context(action=f"orders.withdraw_{change.kind}", reason=reason, actor=actor):
        change.status = ServiceChange.Status.WITHDRAWN
        change.withdrawn_at = timezone.now()
        change.withdrawn_by = actor if actor is not None and actor.pk else None
        change.withdraw_reason = reason.strip()[:500]
        change.full_clean()
        change.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "withdraw_reason"])
    return change


@transaction.atomic
def withdraw_change(
    *, change: ServiceChange, actor: AbstractBaseUser | None, reason: str
) -> ServiceChange:
    """Withdraw a pending upgrade, downgrade or cancellation; an upgrade's unpaid invoice is
    cancelled with it."""
    require_reason(reason, "Say why the request is withdrawn.")
    # The lock order of billing.services: client, its invoice, then the change (paying the
    # upgrade's invoice takes them in that order too).
    row = ServiceChange.objects.values("service__client_id", "invoice_id").get(pk=change.pk)
    Client.objects.select_for_update().get(pk=row["service__client_id"])
    if row["invoice_id"]:
        Invoice.objects.select_for_update().get(pk=row["invoice_id"])
    change = ServiceChange.objects.select_for_update().get(pk=change.pk)
    if change.status != ServiceChange.Status.PENDING:
        raise ValidationError(
            "Only a pending request can be withdrawn; this one is %(status)s.",
            code="not_pending",
            params={"status": change.get_status_display().lower()},
        )
    _withdraw(change, actor, reason)
    if change.invoice_id:
        invoice = Invoice.objects.get(pk=change.invoice_id)
        if invoice.status in Invoice.PAYABLE:
            billing.change_invoice_status(
                invoice=invoice,
                status=Invoice.Status.CANCELLED,
                actor=actor,
                reason=reason,
                paid_to_credit=True,
            )
    return change
