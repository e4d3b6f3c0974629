from __future__ import annotations

import datetime as dt
from typing import Any

from affiliates import services
from audit.management.base import AuditedCommand


class Command(AuditedCommand):
    help = "Clear pending affiliate commissions whose clearing date has come (run daily)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="Today (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        cleared = services.clear_due_commissions(today=options.get("date"))
        self.stdout.write(f"{cleared} commission(s) cleared.")
