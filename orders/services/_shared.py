"""What every service change request (``ServiceChange``: upgrade, downgrade, cancellation)
shares: saving one (one pending request of a sort per account), refusing a second, and carrying
one out.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

import audit.context
from core.rules import Refusal, can_transition, integrity_errors
from hosting import services as hosting
from hosting.models import Addon, Service
from orders.models import ServiceChange


def _apply_change(change: ServiceChange, actor: Any, reason: str = "") -> ServiceChange:
    why = reason or change.reason or f"{change.get_kind_display()} #{change.pk}"
    if change.kind == ServiceChange.Kind.CANCELLATION:
        _cancel_service(change.service, actor, why)
    else:
        hosting.change_service_plan(
            service=change.service,
            product=change.new_product,
            billing_cycle=change.new_cycle,
            recurring_amount=change.new_amount,
            actor=actor,
            reason=why,
        )
    with audit.context.context(action=f"orders.apply_{change.kind}", reason=why, actor=actor):
        change.status = ServiceChange.Status.APPLIED
        change.applied_at = timezone.now()
        change.full_clean()
        change.save(update_fields=["status", "applied_at"])
    return change


_ALREADY_PENDING = Refusal(
    None,
    "This account already has a pending request of this sort: withdraw it first.",
    code="already_pending",
)
CHANGE_CONSTRAINTS = {
    "orders_change_one_pending_cancellation": _ALREADY_PENDING,
    "orders_change_one_pending_change": _ALREADY_PENDING,
}


def _save_change(change: ServiceChange) -> ServiceChange:
    change.full_clean()
    with integrity_errors(CHANGE_CONSTRAINTS):
        change.save()
    return change


def _pending_kinds(service: Service) -> set[str]:
    pending = service.changes.filter(status=ServiceChange.Status.PENDING)
    return set(pending.values_list("kind", flat=True))


def _refuse_pending(service: Service, *, cancellation: bool) -> None:
    kinds = _pending_kinds(service)
    if ServiceChange.Kind.CANCELLATION in kinds:
        raise ValidationError(
            "This account is due to be cancelled: withdraw the cancellation first."
            if not cancellation
            else "This account already has a pending cancellation.",
            code="cancellation_pending" if not cancellation else "already_pending",
        )
    if not cancellation and kinds:
        raise ValidationError(
            "This account already has a pending upgrade or downgrade: withdraw it first.",
            code="already_pending",
        )


def _cancel_service(service: Service, actor: Any, reason: str) -> None:
    service = Service.objects.select_for_update().get(pk=service.pk)
    for addon in service.addons.filter(
        status__in=[Addon.Status.PENDING, Addon.Status.ACTIVE, Addon.Status.SUSPENDED]
    ).order_by("id"):
        hosting.change_addon_status(
            addon=addon, new_status=Addon.Status.CANCELLED, actor=actor, reason=reason
        )
    if can_transition(service, Service.Status.CANCELLED):
        hosting.change_service_status(
            service=service, new_status=Service.Status.CANCELLED, actor=actor, reason=reason
        )
