"""Receivers for Django's auth signals: the staff-sessions log (infrastructure, not domain)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

import audit.context
from audit.models import StaffSession
from audit.services import record_staff_session


@receiver(user_logged_in, dispatch_uid="audit.logged_in")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.context.set_actor(user)
    record_staff_session(kind=StaffSession.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="audit.logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_staff_session(kind=StaffSession.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    record_staff_session(
        kind=StaffSession.Kind.FAILED, request=request, username=credentials.get("username", "")
    )
