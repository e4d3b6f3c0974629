from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from audit.management.base import AuditedCommand
from clients.outbox import send_queued_emails


class Command(AuditedCommand):
    help = (
        "Send the queued emails that are due: those the mail server refused for now are tried "
        "again later, with back-off (run every minute from a timer). Two runs at once never send "
        "the same email twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=None, help="Attempt at most this many emails."
        )

    def handle(self, *args: Any, limit: int | None, **options: Any) -> None:
        outcomes = send_queued_emails(limit=limit)
        if options.get("verbosity", 1):
            self.stdout.write(
                f"{outcomes['sent']} sent, {outcomes['queued']} still queued (will retry), "
                f"{outcomes['failed']} failed for good."
            )
