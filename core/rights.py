"""Checking a named right (``core.roles.RIGHTS``) where it depends on what was typed.

A view whose whole action is the right names it in ``permission_required`` (403 without it).
When only some input needs it (a price other than the catalog's, a date before today, removing
rather than adding credit) the view or form calls :func:`refuse_without` and the person sees a
field error with the code ``not_allowed``. Services trust their callers: commands, the demo and
other services call them without a user.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

NOT_ALLOWED = "not_allowed"


def has_right(user: Any, right: str) -> bool:
    return bool(user is not None and user.is_active and user.has_perm(right))


def require_right(user: Any, right: str, message: str = "") -> None:
    """Refuse with a ``not_allowed`` ValidationError unless ``user`` holds ``right``."""
    if not has_right(user, right):
        raise ValidationError(
            message or "You do not have the right to do this (%(right)s).",
            code=NOT_ALLOWED,
            params={"right": right},
        )


def refuse_without(form: Any, field: str | None, user: Any, right: str, message: str) -> bool:
    """Put a ``not_allowed`` error on ``field`` unless ``user`` holds ``right``; True if refused."""
    try:
        require_right(user, right, message)
    except ValidationError as exc:
        form.add_error(field, exc)
        return True
    return False
