"""Signing a user out of every browser (after a second-factor change)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone


def sign_out_everywhere(user: Any, *, keep: str | None = None) -> int:
    """Delete the user's sessions except ``keep`` (a session key); returns how many went.

    Sessions live in the database (``SESSION_ENGINE``) and carry the user id in their encoded
    data only, so each live session is decoded; a back-office has a few hundred at most.
    """
    doomed = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.session_key != keep and session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=doomed).delete()
    return len(doomed)
