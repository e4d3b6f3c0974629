"""The keyset cursor shared by the audit feed and the client timeline.

A page is ordered by ``(time, branch, id)``, all descending, where a branch is one table of a
``UNION ALL`` (an event model's label, a timeline kind). The cursor is the last row shown; the
next page starts strictly after it, and each branch needs only its ``(time, id)`` index:

- a branch that sorts before the cursor's: ``time <= at`` (its rows at ``at`` come later);
- the cursor's own branch: ``(time, id) < (at, id)``;
- a branch that sorts after it: ``time < at`` (its rows at ``at`` were shown already).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Literal, NamedTuple

from django.db.models import Q
from django.utils import timezone


class Position(NamedTuple):
    at: dt.datetime
    branch: str
    pk: int


def encode(at: dt.datetime, branch: str, pk: int) -> str:
    raw = f"{at.isoformat()}|{branch}|{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> Position | None:
    """The position after which the next page starts, or None for a malformed cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, branch, pk = base64.urlsafe_b64decode(padded).decode().split("|")
        moment = dt.datetime.fromisoformat(at)
        if timezone.is_naive(moment):
            return None
        return Position(moment, branch, int(pk))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def bound(branch: str, after: tuple[dt.datetime, str, int]) -> Literal["<=", "<", "pair"]:
    """How ``branch``'s rows are bounded after the cursor (see the module docstring)."""
    if branch < after[1]:
        return "<="
    if branch == after[1]:
        return "pair"
    return "<"


def after_q(branch: str, after: tuple[dt.datetime, str, int], time_field: str) -> Q:
    """The bound as a ``Q`` on ``time_field`` and ``pk``."""
    at, _branch, pk = after
    how = bound(branch, after)
    if how == "<=":
        return Q(**{f"{time_field}__lte": at})
    if how == "pair":
        return Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "pk__lt": pk})
    return Q(**{f"{time_field}__lt": at})
