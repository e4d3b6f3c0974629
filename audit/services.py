from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest

from audit.middleware import USER_AGENT_MAX, client_ip
from audit.models import StaffSession


@transaction.atomic
def record_staff_session(
    *,
    kind: str,
    request: HttpRequest | None,
    user: User | None = None,
    username: str = "",
) -> StaffSession:
    """Log a login, logout or failed login with where it came from."""
    meta_ip = client_ip(request) if request is not None else ""
    session = StaffSession(
        kind=kind,
        user=user if user is not None and user.pk else None,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        ip=meta_ip or None,
        user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX] if request else "",
        request_id=getattr(request, "request_id", "") if request is not None else "",
    )
    session.full_clean()
    session.save()
    return session
