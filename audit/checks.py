"""``manage.py check --deploy``: the app's database role must not be able to rewrite history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connection

HINT = (
    "Serve as a separate login role that is neither superuser nor owner (DATABASE_URL) and run "
    "migrate as the owner (DATABASE_OWNER_URL); see README, 'How the audit trail works'."
)


@register(Tags.security, deploy=True)
def check_app_database_role(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from audit.db import role_findings

    try:
        with connection.cursor() as cursor:
            findings = role_findings(cursor)
    except DatabaseError:
        # No database to ask (a build step before the database exists): nothing to say here;
        # the app itself will not start without one.
        return []
    if settings.DEBUG:
        return [Warning(finding, hint=HINT, id="audit.W001") for finding in findings]
    return [Error(finding, hint=HINT, id="audit.E001") for finding in findings]


@register(Tags.security, deploy=True)
def check_seal_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Seals need their key, and a copy of each seal off the machine."""
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    if len(settings.AUDIT_SEAL_KEY or "") < 32:
        messages.append(
            Error(
                "AUDIT_SEAL_KEY is missing or shorter than 32 characters: the trail cannot be "
                "sealed, so a rewrite by the database owner would go unnoticed.",
                id="audit.E002",
            )
        )
    if not settings.AUDIT_SEAL_EXPORT:
        messages.append(
            Warning(
                "AUDIT_SEAL_EXPORT is empty: without a copy of each seal off the machine, "
                "deleting the newest seals and rewriting their rows cannot be detected.",
                id="audit.W003",
            )
        )
    return messages
