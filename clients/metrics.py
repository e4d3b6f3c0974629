"""The outbox's figure for operations: how many emails wait to be sent (``core.metrics``)."""

from __future__ import annotations

from clients.models import EmailLog


def outbox_queued_emails() -> int:
    """Emails still queued: due now, or waiting for their next attempt (partial index)."""
    return EmailLog.objects.filter(status=EmailLog.Status.QUEUED).count()
