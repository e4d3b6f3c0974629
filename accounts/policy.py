"""Who must sign in with a second factor, and which paths stay open before they have."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_otp import user_has_device

from core.roles import ADMIN, BILLING

# Roles whose members must use a second factor; so must anyone who may read the audit trail.
ROLES_REQUIRING_SECOND_FACTOR = (ADMIN, BILLING)
REVIEW_AUDIT = "audit.review_audit"


def second_factor_required(user: Any) -> bool:
    """True when ``user`` may not work without a second factor."""
    if not user.is_authenticated:
        return False
    if settings.OTP_REQUIRED_FOR_ALL or user.is_superuser:
        return True
    cached = getattr(user, "_second_factor_required", None)
    if cached is None:
        cached = (
            user.has_perm(REVIEW_AUDIT)
            or user.groups.filter(name__in=ROLES_REQUIRING_SECOND_FACTOR).exists()
        )
        user._second_factor_required = cached
    return cached


def must_verify(user: Any) -> bool:
    """Signed in with the password only, and a second factor is required or enrolled."""
    if not user.is_authenticated or user.is_verified():
        return False
    return second_factor_required(user) or user_has_device(user, confirmed=True)
