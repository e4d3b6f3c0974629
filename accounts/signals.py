"""Receivers: when the sign-in started (absolute lifetime), lockouts in the staff sessions."""

from __future__ import annotations

import time
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from audit.models import StaffSession
from audit.services import record_staff_session

SIGNED_IN_AT = "accounts_signed_in_at"
LAST_SEEN = "accounts_last_seen"


@receiver(user_logged_in, dispatch_uid="accounts.signed_in_at")
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN] = now


@receiver(user_locked_out, dispatch_uid="accounts.locked_out")
def _locked_out(sender: Any, request: Any = None, username: str = "", **kwargs: Any) -> None:
    record_staff_session(kind=StaffSession.Kind.LOCKED, request=request, username=username or "")
