from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from audit import archive
from audit.management.base import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Move whole months of sealed audit events older than AUDIT_ARCHIVE_AFTER_DAYS from the "
        "live event tables into the monthly archive (run daily). Running it again moves nothing "
        "twice; the feed and audit_verify read the archive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--after-days",
            type=int,
            default=None,
            help="Retention of the live tables in days (default AUDIT_ARCHIVE_AFTER_DAYS).",
        )
        parser.add_argument(
            "--max-months", type=int, default=12, help="Months to move in this run at most."
        )

    def handle(self, *args: Any, after_days: int | None, max_months: int, **options: Any) -> None:
        try:
            run = archive.archive_sealed(after_days=after_days, max_months=max_months)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if not run.months:
            self.stdout.write("Nothing to archive.")
            return
        for month in run.months:
            self.stdout.write(f"{month.month:%Y-%m}: {month.rows:,} event(s) archived.")
        self.stdout.write(
            f"{run.rows:,} event(s) in {len(run.months)} month(s), {run.seconds:.2f}s; "
            f"the archive now ends at {run.months[-1].month_end:%Y-%m-%d} UTC."
        )
