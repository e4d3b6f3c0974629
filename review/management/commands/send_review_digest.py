from __future__ import annotations

from typing import Any

from audit.management.base import AuditedCommand
from review import services


class Command(AuditedCommand):
    help = "Queue the daily review digest to every reviewer who asked for it."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = services.send_daily_digest()
        self.stdout.write(f"{sent} digest(s) queued.")
