from __future__ import annotations

from typing import Any

import pgtrigger
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models

from audit.tracking import NoTruncate

User = get_user_model()


class StaffUser(User):  # type: ignore[valid-type,misc]  # get_user_model(): a runtime value
    """Django's user, seen through a proxy so that its changes are tracked in our migrations.

    Staff accounts are managed by Admins; every change to one (groups aside, see
    ``StaffMembership``) is an event like any other. The password hash is stored as a digest and
    shown as "changed"; ``last_login`` is left out because logins have their own log.
    """

    audit_track_proxy = True
    audit_secret_fields = ("password",)
    audit_exclude_fields = ("last_login",)

    class Meta:
        proxy = True
        verbose_name = "staff user"
        verbose_name_plural = "staff users"


class StaffMembership(User.groups.through):  # type: ignore[name-defined]  # auto-created model
    """Which role (group) a staff user holds; granting and revoking roles is audited."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role membership"

    def __str__(self) -> str:
        # Ids, not names: the trail builds this from snapshots and must not query per row.
        return f"user #{self.user_id} in role #{self.group_id}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("user", "group")

    def audit_name(self, related: dict[str, Any]) -> str:
        user, group = related.get("user"), related.get("group")
        who = user.get_username() if user else f"user #{self.user_id}"
        return f"{who} in role {group.name if group else f'#{self.group_id}'}"


class StaffRole(Group):
    """A role (group); renaming one or changing what it may do is audited."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role"


class StaffRolePermission(Group.permissions.through):  # type: ignore[name-defined]  # auto-created
    """One permission granted to a role."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role permission"

    def __str__(self) -> str:
        return f"permission #{self.permission_id} in role #{self.group_id}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("permission", "group")

    def audit_name(self, related: dict[str, Any]) -> str:
        permission, group = related.get("permission"), related.get("group")
        what = permission.name if permission else f"permission #{self.permission_id}"
        return f"{what} in role {group.name if group else f'#{self.group_id}'}"


class StaffSessionQuerySet(models.QuerySet):
    def newest_first(self) -> StaffSessionQuerySet:
        return self.order_by("-created_at", "-id")


class StaffSession(models.Model):
    """A staff login, logout, failed login or second-factor event. Append-only, like the trail."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        FAILED = "failed", "Failed login"
        OTP_OK = "otp_ok", "Second factor passed"
        OTP_FAILED = "otp_failed", "Second factor failed"
        RECOVERY = "recovery", "Recovery code used"
        OTP_ENROL = "otp_enrol", "Second factor enrolled"
        OTP_RESET = "otp_reset", "Second factor reset"
        LOCKED = "locked", "Locked out"
        UNLOCKED = "unlocked", "Unlocked"
        IDLE = "idle", "Signed out (idle)"

    audit_track = False  # this is itself a log

    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="staff_sessions",
        db_constraint=False,  # the log outlives a deleted account
    )
    username = models.CharField("username tried", max_length=150, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = StaffSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="audit_sess_user_idx"),
            models.Index(fields=["kind", "-created_at"], name="audit_sess_kind_idx"),
        ]
        permissions = [
            ("review_audit", "Can review the audit trail"),
            ("revert_entry", "Can revert a field edit from the audit trail"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username} at {self.created_at:%Y-%m-%d %H:%M}"


class AuditSeal(models.Model):
    """One link of the chain that makes a rewrite of the trail detectable (see ``audit.seal``).

    A seal covers every event and context row with ``sealed_from <= created_at < sealed_through``
    (the first seal has no lower bound). ``tables`` holds, per table, the columns hashed, the row
    count, the first and last id and a SHA-256 over the (id, row digest) pairs in id order;
    ``hash`` is an HMAC over the previous seal's hash and all of that, with a key the database
    never sees. ``row_digests`` keeps the pairs themselves, to name the rows that changed: per
    table in name order, ``count`` records of the id (8 bytes, big-endian; 16 for a context's
    uuid) followed by the first 16 bytes of the row's SHA-256.
    """

    audit_track = False  # the trail's own evidence, not a business record
    audit_append_only = True

    sequence = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    sealed_from = models.DateTimeField(null=True, blank=True)
    sealed_through = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)
    tables = models.JSONField(default=dict, blank=True)
    row_digests = models.BinaryField(default=bytes, blank=True)

    class Meta:
        ordering = ["-sequence"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        return f"seal #{self.sequence} through {self.sealed_through:%Y-%m-%d %H:%M:%S}"

    @property
    def row_count(self) -> int:
        return sum(entry["count"] for entry in self.tables.values())


class AuditVerification(models.Model):
    """One run of ``manage.py audit_verify``: whether the sealed trail was intact."""

    audit_track = False
    audit_append_only = True

    created_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    problems = models.PositiveIntegerField(default=0)
    findings = models.JSONField(default=list, blank=True)  # the first ones, see FINDINGS_KEPT
    sealed_through = models.DateTimeField(null=True, blank=True)
    seals_checked = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        outcome = "OK" if self.ok else f"{self.problems} problem(s)"
        return f"verification at {self.created_at:%Y-%m-%d %H:%M}: {outcome}"


class ReasonCode(models.Model):
    """One of the short reasons a sensitive action offers (``audit.reasons``), beside the free
    text: counted on the reasons report, filterable in the feed. Admins edit the lists (the
    Django admin); a code is switched off, never deleted, so past entries keep their label."""

    action = models.CharField(
        max_length=100, help_text="The list it belongs to: an action such as billing.add_credit"
    )
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    needs_text = models.BooleanField(
        "needs the free text", default=False, help_text="Like “other”: the text says what it was."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ("action", "position", "code")
        constraints = [
            models.UniqueConstraint(fields=("action", "code"), name="audit_reason_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.action})"


class AuditArchivedMonth(models.Model):
    """One calendar month (UTC) of events moved from the live event tables into the archive.

    Written by ``audit.archive.archive_sealed`` in the transaction that moves the month; the
    rows themselves are in ``audit_archived_event`` (partitioned by month, see migration
    ``audit.0011``). The feed reads the archive when it pages past the newest archived month.
    """

    audit_track = False
    audit_append_only = True

    month = models.DateField(unique=True)  # the first day of the month
    month_end = models.DateTimeField()  # the start of the next month, UTC
    rows = models.PositiveBigIntegerField(default=0)
    archived_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        return f"archived {self.month:%Y-%m}: {self.rows} event(s)"


class AuditArchiveCheck(models.Model):
    """A verification of one archived month, recorded so that later runs need not redo it.

    ``ok`` says whether every sealed row of the month (archive, live tables and contexts, all
    seals whose range meets the month) matched its seal. ``hash`` is an HMAC with the seal key
    over the record, so a forged "checked, OK" cannot be inserted without the key. The newest
    record of a month is the one that counts (``audit.seal.verify``).
    """

    audit_track = False
    audit_append_only = True

    month = models.DateField(db_index=True)
    created_at = models.DateTimeField()
    ok = models.BooleanField()
    rows = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at", "-id"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        return f"archive check {self.month:%Y-%m} at {self.created_at:%Y-%m-%d %H:%M}: " + (
            "OK" if self.ok else "problems"
        )
