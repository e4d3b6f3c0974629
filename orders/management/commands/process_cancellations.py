from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandParser

from audit.management.base import AuditedCommand
from orders.services import process_due_cancellations


class Command(AuditedCommand):
    help = (
        "Carry out the end-of-period cancellations that are due (run daily from cron). "
        "Running it again, or twice at once, does nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            default=None,
            help="Process as if today were this date (YYYY-MM-DD); default: today.",
        )

    def handle(self, *args: Any, date: dt.date | None, **options: Any) -> None:
        done = process_due_cancellations(today=date)
        if options.get("verbosity", 1):
            self.stdout.write(f"{len(done)} cancellation(s) carried out.")
            for change in done:
                self.stdout.write(f"  {change.service} (#{change.service_id}): {change.reason}")
