from __future__ import annotations

from typing import Any

from approvals.services import expire_requests
from audit.management.base import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Expire the approval requests nobody decided within APPROVAL_EXPIRY_HOURS (the queue "
        "runs it every 15 minutes). Running it again, or twice at once, does nothing more."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = expire_requests()
        if options.get("verbosity", 1):
            self.stdout.write(f"{count} request(s) expired.")
