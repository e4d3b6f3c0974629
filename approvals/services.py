"""Requests for a second person's approval: make, approve, reject, withdraw, expire.

Lock order (README, "Lock order"): the request row first, then whatever the approved service
locks. Two approvers pressing Approve at once queue on the request row; the second finds it
decided and is refused with ``already_decided``, so the entry is applied once.

The request is checked when it is made: the service runs for real inside a savepoint that is
then rolled back (``_dry_run``), so a refusal (more than the refundable amount, a stale edit)
reaches the maker's form at once and nothing of it stays, emails included (callbacks registered
inside a rolled-back savepoint are dropped by Django).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

import audit.context
from approvals import codec
from approvals.models import ApprovalRequest
from approvals.thresholds import Needed
from core import extension_points
from core.extension_points import ApprovalAction
from core.rights import NOT_ALLOWED, has_right
from core.rules import require_reason

User = AbstractBaseUser
ADMIN_ROLE = "Admin"


class _RolledBack(Exception):
    def __init__(self, result: Any) -> None:
        self.result = result


def action_for(key: str) -> ApprovalAction:
    found = extension_points.get(ApprovalAction, key)
    if found is None:
        raise LookupError(f"No approval action {key!r} is registered")
    return found


def _dry_run(action: ApprovalAction, *, actor: Any, kwargs: dict[str, Any]) -> Any:
    """Run the service in a savepoint and roll it back: its refusals, and what it would write."""
    try:
        with transaction.atomic():
            raise _RolledBack(action.run(actor=actor, **kwargs))
    except _RolledBack as done:
        return done.result


def _label_and_url(record: Any) -> tuple[str, str]:
    if record is None or not isinstance(record, models.Model):
        return "", ""
    url = record.get_absolute_url() if hasattr(record, "get_absolute_url") else ""
    return str(record)[:300], url


@transaction.atomic
def request_approval(
    *,
    action: str,
    needed: Needed,
    maker: Any,
    kwargs: dict[str, Any],
    summary: str,
    reason: str = "",
    reason_code: str = "",
    subject: models.Model | None = None,
) -> ApprovalRequest:
    """Keep ``action(**kwargs)`` until someone with ``needed.right`` approves it; nothing of
    it takes effect now (it is tried, and rolled back, so a refusal comes back at once)."""
    declared = action_for(action)
    _dry_run(declared, actor=maker, kwargs=kwargs)
    secrets = {k: kwargs.pop(k) for k in declared.secret_kwargs if k in kwargs}
    now = timezone.now()
    label, url = _label_and_url(subject)
    # The reason code names the entry once it is applied, not the request (``REASON_KEYS``).
    with audit.context.context(
        action="approvals.request_approval",
        reason=reason,
        actor=maker,
        reason_code=None,
        amount=None,
        currency=None,
    ):
        request = ApprovalRequest(
            action=action,
            right=needed.right,
            maker=maker,
            summary=summary[:300],
            why=needed.why[:300],
            reason=(reason or "").strip(),
            reason_code=reason_code or "",
            amount=needed.amount,
            currency=needed.currency,
            subject_type=ContentType.objects.get_for_model(subject) if subject else None,
            subject_id=subject.pk if subject else None,
            subject_label=label,
            subject_url=url,
            payload=codec.encode(kwargs),
            secrets=codec.seal_secrets(secrets),
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.APPROVAL_EXPIRY_HOURS),
        )
        request.full_clean()
        request.save()
    return request


def _locked_pending(request: ApprovalRequest) -> ApprovalRequest:
    locked = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
    if not locked.is_pending:
        raise ValidationError(
            "This request is already %(status)s.",
            code="already_decided",
            params={"status": locked.get_status_display().lower()},
        )
    if locked.expires_at <= timezone.now():
        raise ValidationError("This request has expired.", code="expired")
    return locked


def sole_admin(user: Any) -> bool:
    """``user`` is the only active Admin (the one case a setting may let a maker approve)."""
    admins = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__name=ADMIN_ROLE), is_active=True
    )
    return list(admins.values_list("pk", flat=True).distinct()[:2]) == [user.pk]


def approval_refusal(request: ApprovalRequest, user: Any) -> ValidationError | None:
    """Why ``user`` may not decide ``request`` (None: they may). The maker never may, unless
    ``APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE`` and they are the only Admin."""
    if not has_right(user, request.right):
        return ValidationError(
            "Deciding this request needs the right it is about (%(right)s).",
            code=NOT_ALLOWED,
            params={"right": request.right},
        )
    if request.maker_id == user.pk and not (
        settings.APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE and sole_admin(user)
    ):
        return ValidationError(
            "You made this request: someone else must approve or reject it.", code="own_request"
        )
    return None


@transaction.atomic
def approve_request(*, request: ApprovalRequest, approver: Any, reason: str) -> ApprovalRequest:
    """Run the request's service with the maker as the actor; the approver, the request and the
    approval's reason are recorded next to it (``approved_by`` in the context of every entry it
    writes)."""
    require_reason(reason, "Say why you approve it.", field="reason")
    request = _locked_pending(request)
    refused = approval_refusal(request, approver)
    if refused is not None:
        raise refused
    self_approved = request.maker_id == approver.pk
    declared = action_for(request.action)
    kwargs = {**codec.decode(request.payload), **codec.open_secrets(request.secrets)}
    with audit.context.context(
        action="approvals.approve_request",
        reason=reason,
        actor=approver,
        approved_by=approver.pk,
        approved_by_name=approver.get_username(),
        approval_request=request.pk,
        self_approved=self_approved or None,
    ):
        # The entry's reason code, on a frame of its own around the service (REASON_KEYS).
        money = request.amount is not None
        coded = (
            audit.context.context(
                reason_code=request.reason_code,
                amount=str(request.amount) if money else None,
                currency=request.currency if money else None,
            )
            if request.reason_code
            else contextlib.nullcontext()
        )
        with coded:
            result = declared.run(actor=request.maker, **kwargs)
        label, url = _label_and_url(result)
        _decide(
            request,
            status=ApprovalRequest.Status.APPROVED,
            by=approver,
            reason=reason,
            self_approved=self_approved,
            result_label=label,
            result_url=url,
        )
    return request


def _decide(request: ApprovalRequest, *, status: str, by: Any, reason: str, **fields: Any) -> None:
    request.status = status
    request.decided_by = by
    request.decided_at = timezone.now()
    request.decision_reason = (reason or "").strip()
    request.secrets = ""
    for name, value in fields.items():
        setattr(request, name, value)
    request.full_clean()
    request.save()


@transaction.atomic
def reject_request(*, request: ApprovalRequest, approver: Any, reason: str) -> ApprovalRequest:
    require_reason(reason, "Say why you reject it.", field="reason")
    request = _locked_pending(request)
    refused = approval_refusal(request, approver)
    if refused is not None:
        raise refused
    with audit.context.context(action="approvals.reject_request", reason=reason, actor=approver):
        _decide(request, status=ApprovalRequest.Status.REJECTED, by=approver, reason=reason)
    return request


@transaction.atomic
def withdraw_request(*, request: ApprovalRequest, maker: Any, reason: str = "") -> ApprovalRequest:
    request = _locked_pending(request)
    if request.maker_id != maker.pk:
        raise ValidationError(
            "Only the person who made a request can withdraw it.", code=NOT_ALLOWED
        )
    with audit.context.context(action="approvals.withdraw_request", reason=reason, actor=maker):
        _decide(request, status=ApprovalRequest.Status.WITHDRAWN, by=None, reason=reason)
    return request


@transaction.atomic
def expire_requests(*, now: dt.datetime | None = None) -> int:
    """Close every pending request past its time (the queue does it every 15 minutes)."""
    now = now or timezone.now()
    due = ApprovalRequest.objects.select_for_update(skip_locked=True).filter(
        status=ApprovalRequest.Status.PENDING, expires_at__lte=now
    )
    count = 0
    with audit.context.context(
        action="approvals.expire_request",
        reason=f"Not decided within {settings.APPROVAL_EXPIRY_HOURS} hours.",
    ):
        for request in due.order_by("id"):
            _decide(request, status=ApprovalRequest.Status.EXPIRED, by=None, reason="")
            count += 1
    return count


# Reads ------------------------------------------------------------------------------------------


def rights_held(user: Any) -> list[str]:
    """The thresholded rights ``user`` holds: the requests they may decide."""
    return sorted(r for r in settings.APPROVAL_THRESHOLDS if has_right(user, r))


def waiting_for(user: Any) -> QuerySet[ApprovalRequest]:
    """Pending requests ``user`` could decide: someone else's, with a right they hold."""
    pending = ApprovalRequest.objects.filter(
        status=ApprovalRequest.Status.PENDING,
        right__in=rights_held(user),
        expires_at__gt=timezone.now(),
    )
    if not (settings.APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE and sole_admin(user)):
        pending = pending.exclude(maker=user)
    return pending


def mine_waiting(user: Any) -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.filter(
        maker=user, status=ApprovalRequest.Status.PENDING, expires_at__gt=timezone.now()
    )


def shown_arguments(request: ApprovalRequest) -> list[tuple[str, str]]:
    """The request's arguments for people: (label, value), secrets shown only as "set"."""
    try:
        declared = action_for(request.action)
    except LookupError:
        declared = None
    labels = dict(declared.labels) if declared else {}
    try:
        values = codec.decode(request.payload)
    except ValidationError as exc:
        return [("Problem", " ".join(exc.messages))]
    # The reason is shown as the maker's, beside the request.
    rows = [
        (labels.get(k, k.replace("_", " ").capitalize()), _shown(v))
        for k, v in values.items()
        if k != "reason"
    ]
    if declared:
        rows += [
            (labels.get(k, k.capitalize()), "set (kept encrypted)")
            for k in declared.secret_kwargs
            if request.secrets
        ]
    return rows


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dict):
        return "; ".join(
            f"{k.replace('_', ' ')}: {_shown(v)}" for k, v in value.items() if v not in (None, "")
        )
    if isinstance(value, list | tuple):
        return "; ".join(_shown(v) for v in value if v is not None)
    return str(value)
