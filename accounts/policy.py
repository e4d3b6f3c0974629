"""Who must sign in with a second factor, and who has one: one query per request at most."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.roles import ADMIN, BILLING

# Roles whose members must use a second factor; so must anyone who may read the audit trail.
ROLES_REQUIRING_SECOND_FACTOR = (ADMIN, BILLING)
REVIEW_AUDIT = "audit.review_audit"


def _state(user: Any) -> tuple[bool, bool]:
    """(in a role that requires the factor, has a confirmed factor), read once per request."""
    cached = getattr(user, "_second_factor_state", None)
    if cached is None:
        member = Group.objects.filter(user=OuterRef("pk"), name__in=ROLES_REQUIRING_SECOND_FACTOR)
        totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        static = StaticDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        row = (
            get_user_model()
            .objects.filter(pk=user.pk)
            .annotate(in_role=Exists(member), has_totp=Exists(totp), has_static=Exists(static))
            .values_list("in_role", "has_totp", "has_static")
            .first()
        ) or (False, False, False)
        cached = (row[0], row[1] or row[2])
        user._second_factor_state = cached
    return cached


def second_factor_required(user: Any) -> bool:
    """True when ``user`` may not work without a second factor."""
    if not user.is_authenticated:
        return False
    if settings.OTP_REQUIRED_FOR_ALL or user.is_superuser:
        return True
    return _state(user)[0] or user.has_perm(REVIEW_AUDIT)


def enrolled(user: Any) -> bool:
    return user.is_authenticated and _state(user)[1]


def must_verify(user: Any) -> bool:
    """Signed in with the password only, and a second factor is required or enrolled."""
    if not user.is_authenticated or user.is_verified():
        return False
    return enrolled(user) or second_factor_required(user)
