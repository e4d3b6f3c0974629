"""Four eyes: a sensitive entry over its threshold waits here until a second person decides.

A request holds the service call it stands for (``action`` and its keyword arguments, encoded
by ``approvals.codec``); nothing of it takes effect until an approver with the request's
``right`` approves, and then the same service runs with the maker as the actor. Secrets typed
with the entry (a hosting password) wait encrypted in ``secrets`` and are wiped at the decision.

The database keeps the rules the services follow: a decided request never changes again (a
trigger), the maker is never the approver unless the entry is flagged ``self_approved``, and a
decision has its decider, time and reason.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.urls import reverse


class ApprovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"

    STATUS_BADGES = {
        Status.PENDING: "warning",
        Status.APPROVED: "success",
        Status.REJECTED: "danger",
        Status.WITHDRAWN: "secondary",
        Status.EXPIRED: "secondary",
    }
    DECIDED_BY_A_PERSON = (Status.APPROVED, Status.REJECTED)

    action = models.CharField(
        max_length=100, help_text="The service call, e.g. billing.refund_payment"
    )
    right = models.CharField(max_length=100, help_text="The right an approver must hold")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests"
    )
    summary = models.CharField(max_length=300)
    why = models.CharField("why it waits", max_length=300)
    reason = models.TextField("maker's reason", blank=True)
    reason_code = models.SlugField(max_length=40, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    subject_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject_id = models.BigIntegerField(null=True, blank=True)
    subject_label = models.CharField(max_length=300, blank=True)
    subject_url = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict)
    secrets = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval_decisions",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    self_approved = models.BooleanField(
        default=False, help_text="Approved by its maker, the only Admin (a setting allows it)."
    )
    result_label = models.CharField(max_length=300, blank=True)
    result_url = models.CharField(max_length=300, blank=True)

    # Never shown nor kept in the trail (``audit.tracking``: stored there as a digest).
    audit_secret_fields = ("secrets",)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # The queue: what is waiting, oldest first; and the expiry sweep.
            models.Index(
                fields=("right", "created_at"),
                condition=Q(status="pending"),
                name="approval_pending_right",
            ),
            models.Index(
                fields=("expires_at",), condition=Q(status="pending"), name="approval_pending_exp"
            ),
            models.Index(fields=("maker", "-created_at"), name="approval_by_maker"),
            models.Index(fields=("-created_at", "-id"), name="approval_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True, decided_by__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="approval_decided_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=("approved", "rejected"))
                | (Q(decided_by__isnull=False) & ~Q(decision_reason="")),
                name="approval_decision_has_decider_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | ~Q(decided_by=F("maker"))
                | Q(self_approved=True, status="approved"),
                name="approval_maker_is_not_decider",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(secrets=""),
                name="approval_decided_keeps_no_secret",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="approval_expires_later"
            ),
        ]
        triggers = [
            # A decision is final: a decided request is never changed nor deleted, whoever asks.
            pgtrigger.Protect(
                name="decided_is_final",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition("OLD.status <> 'pending'"),
            ),
        ]

    def __str__(self) -> str:
        return f"Approval request #{self.pk}: {self.summary}"

    def get_absolute_url(self) -> str:
        return reverse("approvals:request-detail", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
