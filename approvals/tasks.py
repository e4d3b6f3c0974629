"""Background work of four eyes: closing the requests nobody decided in time
(``manage.py expire_approvals``)."""

from __future__ import annotations

from approvals.services import expire_requests
from jobs.queue import command_task


@command_task(name="approvals.expire", command="expire_approvals", cron="*/15 * * * *")
def expire_task() -> int:
    """Every 15 minutes: expire the pending requests past ``APPROVAL_EXPIRY_HOURS``."""
    return expire_requests()
