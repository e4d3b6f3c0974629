from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from audit.context import context, require_reason
from audit.middleware import USER_AGENT_MAX, client_ip
from audit.models import StaffSession
from core.roles import record_offered


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


@transaction.atomic
def set_role_permissions(
    *, role: Any, permissions: Iterable[Any], actor: User | None, reason: str
) -> tuple[set[int], set[int]]:
    """Give ``role`` (a staff group) exactly ``permissions``, with a reason; returns the ids
    added and removed.

    The role-permission rows are tracked, so the trail shows each right granted or taken away
    with this call's action and reason. Every changed permission counts as offered to the role:
    the next ``migrate`` leaves the Admin's choice alone (``core.roles.sync_roles``).
    """
    from django.contrib.auth.models import Group

    reason = require_reason(reason, "Say why this role's rights change.", field="reason")
    role = Group.objects.select_for_update().get(pk=role.pk)
    wanted = {p.pk for p in permissions}
    held = set(role.permissions.values_list("pk", flat=True))
    added, removed = wanted - held, held - wanted
    if not added and not removed:
        raise ValidationError("Nothing changed.", code="no_change")
    with context(action="audit.set_role_permissions", reason=reason, actor=actor):
        role.permissions.remove(*removed)
        role.permissions.add(*added)
    record_offered(group=role, permission_ids=added | removed)
    return added, removed
