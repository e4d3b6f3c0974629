"""Cancelling a hosting account now or at the end of its period (carried out by
``manage.py process_cancellations``); its add-ons go with it.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit.context
from core.rules import require_reason
from hosting.models import Service
from orders.models import ServiceChange
from orders.pricing import CHANGEABLE
from orders.services._shared import _apply_change, _refuse_pending, _save_change


@transaction.atomic
def request_cancellation(
    *,
    service: Service,
    when: str,
    actor: AbstractBaseUser | None,
    reason: str,
    today: dt.date | None = None,
) -> ServiceChange:
    """Cancel an account now, or at the end of its billing period (carried out by the daily
    ``process_cancellations`` command). Its add-ons are cancelled with it."""
    require_reason(reason, "Say why the account is cancelled.")
    if when not in (ServiceChange.When.IMMEDIATE, ServiceChange.When.END_OF_PERIOD):
        raise ValidationError(
            {"when": ValidationError("Now or at the end of the period.", code="bad_when")}
        )
    service = Service.objects.select_for_update().select_related("product").get(pk=service.pk)
    if service.status not in CHANGEABLE:
        raise ValidationError(
            "A %(status)s account cannot be cancelled.",
            code="not_cancellable",
            params={"status": service.get_status_display().lower()},
        )
    _refuse_pending(service, cancellation=True)
    today = today or timezone.localdate()
    end_of_period = when == ServiceChange.When.END_OF_PERIOD
    effective = (service.next_due_date or today) if end_of_period else today
    with audit.context.context(action="orders.request_cancellation", reason=reason, actor=actor):
        change = _save_change(
            ServiceChange(
                service=service,
                kind=ServiceChange.Kind.CANCELLATION,
                takes_effect=when,
                old_product=service.product,
                new_product=service.product,
                old_cycle=service.billing_cycle,
                new_cycle=service.billing_cycle,
                currency=service.currency,
                old_amount=service.recurring_amount,
                new_amount=service.recurring_amount,
                next_due_date=service.next_due_date,
                effective_date=effective,
                reason=reason.strip(),
                requested_by=actor if actor is not None and actor.pk else None,
            )
        )
    if not end_of_period or effective <= today:
        _apply_change(change, actor, reason)
    return change


def process_due_cancellations(*, today: dt.date | None = None) -> list[ServiceChange]:
    """Carry out the end-of-period cancellations that are due. Safe to run any number of times
    (a done request is not pending any more) and by two cron jobs at once (rows being handled
    elsewhere are skipped); each cancellation commits on its own."""
    today = today or timezone.localdate()
    done: list[ServiceChange] = []
    due = ServiceChange.objects.filter(
        kind=ServiceChange.Kind.CANCELLATION,
        status=ServiceChange.Status.PENDING,
        effective_date__lte=today,
    )
    for pk in list(due.order_by("effective_date", "id").values_list("pk", flat=True)):
        with transaction.atomic():
            change = (
                ServiceChange.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=ServiceChange.Status.PENDING)
                .select_related("service")
                .first()
            )
            if change is None:
                continue
            with audit.context.context(action="orders.process_cancellation", reason=change.reason):
                done.append(_apply_change(change, None, change.reason))
    return done
