"""The review queue: rules that pick entries of the trail for a second look, the entries they
flagged, and the reviewers' decisions.

The scanner (``review.scan``) reads the trail's events and contexts and files one
``FlaggedEntry`` per (entry, rule); a reviewer who is not the entry's maker marks it reviewed
or escalates it to Admins (``review.services``), each decision an append-only
``ReviewDecision``. Rules, flagged entries and decisions are tracked like business records, so
the review is itself in the trail.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from audit.tracking import NoTruncate
from core.models import TimeStampedModel


class ReviewRule(TimeStampedModel):
    """One rule of the queue (``review.rules.KINDS`` says what each key checks): switched on or
    off, its parameters edited by Admins with a reason. The defaults are created once
    (``ensure_default_rules``) and never written over."""

    key = models.SlugField(max_length=40, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "review rule"
        permissions = [("review_entry", "Can review flagged entries of the audit trail")]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        from review.rules import KINDS

        kind = KINDS.get(self.key)
        return kind.title if kind is not None else self.key

    @property
    def description(self) -> str:
        from review.rules import KINDS, describe

        kind = KINDS.get(self.key)
        return describe(kind, self.params) if kind is not None else ""


class FlaggedEntryQuerySet(models.QuerySet):
    def open(self) -> FlaggedEntryQuerySet:
        return self.filter(status__in=FlaggedEntry.OPEN)

    def newest_first(self) -> FlaggedEntryQuerySet:
        return self.order_by("-occurred_at", "-id")


class FlaggedEntry(models.Model):
    """An entry of the trail (a request or command run; or a write outside any context) that
    one rule flagged. ``entry_key`` names the entry: its request id, else its context id, else
    ``unattributed:<transaction time>`` for writes that carried no context at all."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        ESCALATED = "escalated", "Escalated to Admins"
        REVIEWED = "reviewed", "Reviewed"

    OPEN = (Status.WAITING, Status.ESCALATED)
    STATUS_BADGES = {
        Status.WAITING: "warning",
        Status.ESCALATED: "danger",
        Status.REVIEWED: "success",
    }
    STATUS_TRANSITIONS = {
        Status.WAITING: (Status.REVIEWED, Status.ESCALATED),
        Status.ESCALATED: (Status.REVIEWED,),
        Status.REVIEWED: (),
    }

    rule = models.ForeignKey(ReviewRule, on_delete=models.PROTECT, related_name="flagged")
    entry_key = models.CharField(max_length=80)
    context_id = models.UUIDField(null=True, blank=True)  # one context of the entry, to link to
    # The person who made the entry (the context's user); None for unattributed writes.
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # the queue outlives a deleted account, like the trail
    )
    maker_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    summary = models.CharField(max_length=300)
    # The events the rule matched, as [model label, pgh_id]: the diff shown in the queue.
    event_refs = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FlaggedEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "flagged entry"
        verbose_name_plural = "flagged entries"
        constraints = [
            # One flag per entry and rule, however often (and by however many workers) the
            # trail is scanned.
            models.UniqueConstraint(fields=["rule", "entry_key"], name="review_flag_once"),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "escalated", "reviewed"]),
                name="review_flag_status_valid",
            ),
        ]
        indexes = [
            # The queue: open entries newest first, with or without a rule or maker.
            models.Index(
                fields=["-occurred_at", "-id"],
                condition=Q(status__in=["waiting", "escalated"]),
                name="review_flag_open_idx",
            ),
            models.Index(fields=["status", "-occurred_at", "-id"], name="review_flag_status_idx"),
            models.Index(fields=["rule", "status", "-occurred_at"], name="review_flag_rule_idx"),
            models.Index(fields=["maker", "status", "-occurred_at"], name="review_flag_maker_idx"),
            models.Index(fields=["created_at"], name="review_flag_created_idx"),
        ]

    def __str__(self) -> str:
        # No rule name: the trail builds this from snapshots and must not query per row.
        return f"Flagged: {self.summary}"

    def get_absolute_url(self) -> str:
        return reverse("review:queue") + f"?status=all&entry={self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def entry_url(self) -> str:
        if self.context_id is not None:
            return reverse("audit:entry", args=[self.context_id])
        if self.event_refs:
            label, pgh_id = self.event_refs[0]
            return reverse("audit:event", args=[label, pgh_id])
        return ""


class ReviewDecision(models.Model):
    """A reviewer's decision on a flagged entry: reviewed (with a note) or escalated. Never
    changed or deleted (a trigger refuses it, as for the trail's own logs)."""

    class Decision(models.TextChoices):
        REVIEWED = "reviewed", "Reviewed"
        ESCALATED = "escalated", "Escalated to Admins"

    # Like the trail's own logs: the app role may only read and append (audit.db's grants).
    audit_append_only = True

    entry = models.ForeignKey(FlaggedEntry, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField(max_length=2000)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "review decision"
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate_decisions"),
        ]
        indexes = [models.Index(fields=["entry", "-created_at"], name="review_decision_entry_idx")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by user #{self.reviewer_id}"


class ReviewerSettings(models.Model):
    """A reviewer's own choices: whether the daily digest is emailed to them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_settings"
    )
    daily_digest = models.BooleanField("email me the daily digest", default=False)

    class Meta:
        verbose_name = "reviewer settings"
        verbose_name_plural = "reviewer settings"

    def __str__(self) -> str:
        return f"review settings of user #{self.user_id}"


class ScanState(models.Model):
    """The scanner's watermark (one row): the trail is read up to ``scanned_through``; the
    digest has reported flags created before ``digest_through``. Locked by each scan, so that
    two workers take turns. Bookkeeping of the queue, not a manual entry: not audited."""

    audit_track = False

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    scanned_through = models.DateTimeField(null=True, blank=True)
    last_scan_at = models.DateTimeField(null=True, blank=True)
    digest_through = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="review_scanstate_single")]

    def __str__(self) -> str:
        return f"scanned through {self.scanned_through}"
