from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from audit.management.base import AuditedCommand
from clients.services import normalise_emails


class Command(AuditedCommand):
    help = "Trim and lower-case client email addresses (for example after an import)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reason", required=True, help="Recorded in the audit trail.")

    def handle(self, *args: Any, reason: str, **options: Any) -> None:
        changed = normalise_emails(reason=reason)
        self.stdout.write(f"{changed} client email(s) normalised.")
