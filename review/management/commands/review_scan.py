from __future__ import annotations

from typing import Any

from audit.management.base import AuditedCommand
from review.scan import scan_trail


class Command(AuditedCommand):
    help = "Flag the entries of the audit trail that the review rules match (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = scan_trail()
        self.stdout.write(
            f"{result.events} event(s) read, {result.flagged} entr(ies) newly flagged; "
            f"scanned through {result.scanned_through}."
        )
