from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models

from audit.tracking import NoTruncate

User = get_user_model()


class StaffUser(User):
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


class StaffMembership(User.groups.through):
    """Which role (group) a staff user holds; granting and revoking roles is audited."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role membership"

    def __str__(self) -> str:
        # Ids, not names: the trail builds this from snapshots and must not query per row.
        return f"user #{self.user_id} in role #{self.group_id}"


class StaffRole(Group):
    """A role (group); renaming one or changing what it may do is audited."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role"


class StaffRolePermission(Group.permissions.through):
    """One permission granted to a role."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "staff role permission"

    def __str__(self) -> str:
        return f"permission #{self.permission_id} in role #{self.group_id}"


class StaffSessionQuerySet(models.QuerySet):
    def newest_first(self) -> StaffSessionQuerySet:
        return self.order_by("-created_at", "-id")


class StaffSession(models.Model):
    """A staff login, logout or failed login. Append-only, like the rest of the trail."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        FAILED = "failed", "Failed login"

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
        permissions = [("review_audit", "Can review the audit trail")]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            NoTruncate(name="no_truncate"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username} at {self.created_at:%Y-%m-%d %H:%M}"
