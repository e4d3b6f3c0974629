"""Enrolling, verifying and resetting a second factor; unlocking a locked-out sign-in.

Each call runs in its own audit frame (``accounts.<name>``): the device rows it writes are events
of the trail (``accounts.models``), and resets and unlocks carry the Admin's reason.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit.context
from accounts.sessions import sign_out_everywhere
from audit.models import StaffSession
from audit.services import record_staff_session

RECOVERY_CODES = 10
APP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
RESET_PERMISSION = "auth.change_user"


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator the enrolment page shows (one per user, kept on reload)."""
    with audit.context.context(action="accounts.start_enrolment", actor=user):
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        return device or TOTPDevice.objects.create(user=user, name=APP_NAME, confirmed=False)


@transaction.atomic
def confirm_enrolment(*, request: HttpRequest, device: TOTPDevice, token: str) -> list[str]:
    """Confirm the app with a code from it; return the recovery codes (shown once).

    Any earlier factor of the user is replaced, the session counts as verified, and every other
    session of the user is signed out.
    """
    user: Any = request.user  # a signed-in staff member (the middleware lets no one else here)
    if device.user_id != user.pk or device.confirmed:
        raise PermissionDenied
    with audit.context.context(action="accounts.confirm_enrolment", actor=user):
        if not device.verify_token((token or "").strip()):
            raise ValidationError(
                {
                    "token": ValidationError(
                        "That code is not right. Try the newest one.", code="wrong_code"
                    )
                }
            )
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=user).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes_device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=codes_device, token=c) for c in codes)
    otp_login(request, device)
    sign_out_everywhere(user, keep=request.session.session_key)
    record_staff_session(kind=StaffSession.Kind.OTP_ENROL, request=request, user=user)
    return codes


def verify(*, request: HttpRequest, token: str) -> bool:
    """Check a code from the app or a recovery code (used up) and mark the session verified."""
    user: Any = request.user  # signed in with the password (the verify page)
    with audit.context.context(action="accounts.verify_second_factor", actor=user):
        device = match_token(user, (token or "").strip().replace(" ", ""))
    if device is None:
        record_staff_session(kind=StaffSession.Kind.OTP_FAILED, request=request, user=user)
        return False
    otp_login(request, device)
    kind = (
        StaffSession.Kind.RECOVERY if isinstance(device, StaticDevice) else StaffSession.Kind.OTP_OK
    )
    record_staff_session(kind=kind, request=request, user=user)
    return True


def _require_admin(actor: Any) -> None:
    """An Admin's call; ``actor=None`` is the shell's (``manage.py reset_second_factor``)."""
    if actor is not None and not actor.has_perm(RESET_PERMISSION):
        raise PermissionDenied


@transaction.atomic
def reset_second_factor(
    *, user: Any, actor: Any, reason: str, request: HttpRequest | None = None
) -> int:
    """Remove every second factor of ``user`` (they enrol again) and sign them out everywhere."""
    _require_admin(actor)
    reason = audit.context.require_reason(
        reason, "Say why this second factor is reset.", field="reason"
    )
    with audit.context.context(
        action="accounts.reset_second_factor", reason=reason, actor=actor, target=user.pk
    ):
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
    own = request is not None and actor is not None and user.pk == actor.pk
    keep = request.session.session_key if request is not None and own else None
    sign_out_everywhere(user, keep=keep)
    record_staff_session(kind=StaffSession.Kind.OTP_RESET, request=request, user=user)
    return removed


@transaction.atomic
def unlock(
    *, actor: Any, reason: str, username: str = "", ip: str = "", request: HttpRequest | None = None
) -> int:
    """Clear the failed sign-ins of a username and/or an IP address: the lockout ends now."""
    _require_admin(actor)
    reason = audit.context.require_reason(
        reason, "Say why this sign-in is unlocked.", field="reason"
    )
    if not (username or ip):
        raise ValidationError("Name a username or an IP address to unlock.", code="required")
    with audit.context.context(
        action="accounts.unlock", reason=reason, actor=actor, unlocked=username or ip
    ):
        removed = 0
        if username:
            removed += AxesProxyHandler.reset_attempts(username=username)
        if ip:
            removed += AxesProxyHandler.reset_attempts(ip_address=ip)
    record_staff_session(kind=StaffSession.Kind.UNLOCKED, request=request, username=username or ip)
    return removed
