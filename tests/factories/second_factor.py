"""Sessions that passed the second factor, through django-otp's own session key.

The product's middleware still runs on every request: the fixtures only do what the verify page
does after a right code (``django_otp.login``), for a confirmed authenticator of the user.
"""

from __future__ import annotations

import time
from typing import Any

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit.context
from accounts.policy import second_factor_required

TEST_DEVICE = "Test authenticator"


def authenticator_for(user: Any) -> TOTPDevice:
    """The user's confirmed authenticator app (created once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        with audit.context.context(action="tests.enrol_second_factor", actor=user):
            device = TOTPDevice.objects.create(user=user, name=TEST_DEVICE, confirmed=True)
    return device


def mark_verified(http: Any, user: Any) -> None:
    """After ``force_login``: the session counts as verified when the user needs a factor."""
    if not second_factor_required(user):
        return
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()


def force_login_verified(http: Any, user: Any) -> Any:
    http.force_login(user)
    mark_verified(http, user)
    return http


def current_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the user's authenticator app shows now (what a phone would compute).

    ``steps_ahead=1``: the next one, which django-otp accepts (one step of clock drift) even
    when the current one was used already.
    """
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"
