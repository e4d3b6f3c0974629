"""The review queue's state changes: a decision on a flagged entry, a rule's settings, a
reviewer's digest choice, and the daily digest.

Lock order: the flagged entry (one row), then nothing else; a rule (one row) on its own. Each
write runs inside its own audit frame, so the review is in the trail like any other entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from audit.context import context, require_reason
from clients.models import EmailLog
from clients.outbox import queue_email
from core.emails import render_text
from core.roles import ADMIN
from core.rules import require_transition
from review.models import FlaggedEntry, ReviewDecision, ReviewerSettings, ReviewRule
from review.rules import KINDS
from review.scan import locked_state

User = get_user_model()

REVIEW_RIGHT = "review.review_entry"
DIGEST_LISTED = 50


def is_admin(user: Any) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=ADMIN).exists())


@transaction.atomic
def decide_entry(*, entry: FlaggedEntry, decision: str, note: str, reviewer: Any) -> ReviewDecision:
    """Mark a flagged entry reviewed, or escalate it to Admins, with a note.

    Refused (with a code) to the entry's maker (``own_entry``: a second pair of eyes, never
    the same one), and, once escalated, to anyone but an Admin (``escalated_to_admins``).
    """
    entry = FlaggedEntry.objects.select_for_update().get(pk=entry.pk)
    note = require_reason(note, "Write what you checked or why it goes to Admins.", field="note")
    if decision not in ReviewDecision.Decision.values:
        raise ValidationError("Reviewed or escalated, nothing else.", code="invalid_status")
    if entry.maker_id is not None and entry.maker_id == reviewer.pk:
        raise ValidationError("You made this entry: someone else reviews it.", code="own_entry")
    require_transition(entry, decision, noun="flagged entry")
    if entry.status == FlaggedEntry.Status.ESCALATED and not is_admin(reviewer):
        raise ValidationError(
            "This entry was escalated: an Admin decides on it.", code="escalated_to_admins"
        )
    action = (
        "review.review_entry"
        if decision == ReviewDecision.Decision.REVIEWED
        else "review.escalate_entry"
    )
    with context(action=action, reason=note, actor=reviewer):
        made = ReviewDecision(entry=entry, decision=decision, note=note, reviewer=reviewer)
        made.full_clean()
        made.save()
        entry.status = decision
        entry.save(update_fields=["status", "updated_at"])
        if decision == ReviewDecision.Decision.ESCALATED:
            _tell_admins(entry=entry, decision=made)
    return made


def _tell_admins(*, entry: FlaggedEntry, decision: ReviewDecision) -> None:
    admins = list(
        User.objects.filter(Q(groups__name=ADMIN) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .exclude(pk=decision.reviewer_id)
        .values_list("email", flat=True)
        .distinct()[:50]
    )
    if not admins:
        return
    body = render_text(
        "review/email/escalated.txt",
        {
            "entry": entry,
            "decision": decision,
            "url": settings.SITE_URL.rstrip("/") + entry.get_absolute_url(),
        },
    )
    queue_email(
        client=None,
        kind=EmailLog.Kind.ONE_OFF,
        to=admins,
        subject=f"Escalated for review: {entry.summary}"[:200],
        body=body,
        actor=decision.reviewer,
    )


@transaction.atomic
def update_rule(
    *, rule: ReviewRule, enabled: bool, params: dict[str, Any], reason: str, actor: Any
) -> ReviewRule:
    """Switch a rule on or off and set its parameters, with a reason (both in the trail)."""
    reason = require_reason(reason, "Say why this rule changes.", field="reason")
    rule = ReviewRule.objects.select_for_update().get(pk=rule.pk)
    if rule.key not in KINDS:
        raise ValidationError("This rule is not one the scanner knows.", code="unknown_field")
    if rule.enabled == enabled and rule.params == params:
        raise ValidationError("Nothing changed.", code="no_change")
    with context(action="review.update_rule", reason=reason, actor=actor):
        rule.enabled = enabled
        rule.params = params
        rule.full_clean()
        rule.save(update_fields=["enabled", "params", "updated_at"])
    return rule


@transaction.atomic
def set_daily_digest(*, user: Any, daily_digest: bool, actor: Any) -> ReviewerSettings:
    """A reviewer's choice to receive the daily digest (their own, or an Admin's for them)."""
    with context(action="review.set_daily_digest", actor=actor):
        prefs, _ = ReviewerSettings.objects.select_for_update().get_or_create(user=user)
        if prefs.daily_digest != daily_digest:
            prefs.daily_digest = daily_digest
            prefs.full_clean()
            prefs.save(update_fields=["daily_digest"])
    return prefs


def reviewers_for_digest() -> list[Any]:
    """Active staff who asked for the digest and may still review."""
    users = (
        User.objects.filter(review_settings__daily_digest=True, is_active=True)
        .exclude(email="")
        .prefetch_related("groups__permissions", "user_permissions")
        .order_by("pk")
    )
    return [u for u in users if u.has_perm(REVIEW_RIGHT)]


@transaction.atomic
def send_daily_digest(*, now: dt.datetime | None = None) -> int:
    """Queue the digest (what was flagged since the last one, what is still waiting) to every
    reviewer who asked for it; returns how many emails were queued. Twice in a row: the second
    finds nothing new and sends nothing."""
    now = now or timezone.now()
    state = locked_state()
    since = state.digest_through or (now - dt.timedelta(days=1))
    new = FlaggedEntry.objects.filter(created_at__gte=since, created_at__lt=now)
    new_count = new.count()
    state.digest_through = now
    state.save(update_fields=["digest_through"])
    if not new_count:
        return 0
    listed = list(new.select_related("rule").newest_first()[:DIGEST_LISTED])
    waiting = FlaggedEntry.objects.open().count()
    recipients = reviewers_for_digest()
    with context(action="review.send_daily_digest"):
        for user in recipients:
            body = render_text(
                "review/email/digest.txt",
                {
                    "user": user,
                    "entries": listed,
                    "new_count": new_count,
                    "waiting": waiting,
                    "since": since,
                    "queue_url": settings.SITE_URL.rstrip("/") + reverse("review:queue"),
                },
            )
            queue_email(
                client=None,
                kind=EmailLog.Kind.ONE_OFF,
                to=[user.email],
                subject=f"Review queue: {new_count} new, {waiting} waiting",
                body=body,
                actor=None,
            )
    return len(recipients)
