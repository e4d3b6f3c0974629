"""``manage.py check --deploy``: the app's database role must not be able to rewrite history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register
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
    except DatabaseError as exc:  # no database yet (a build step): nothing to say about roles
        return [Info(f"Could not inspect the database role: {exc}", id="audit.I001")]
    if settings.DEBUG:
        return [Warning(finding, hint=HINT, id="audit.W001") for finding in findings]
    return [Error(finding, hint=HINT, id="audit.E001") for finding in findings]
