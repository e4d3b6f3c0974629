from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from audit import seal
from audit.management.base import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Seal the audit rows written since the last seal and older than "
        "AUDIT_SEAL_HORIZON_SECONDS (run every few minutes from cron). Running it again, or "
        "twice at once, seals nothing twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-rows",
            type=int,
            default=seal.MAX_ROWS,
            help=f"Rows per seal at most (default {seal.MAX_ROWS:,}); a backlog takes several.",
        )

    def handle(self, *args: Any, max_rows: int, **options: Any) -> None:
        try:
            run = seal.seal_pending(max_rows=max_rows)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if not run.seals:
            self.stdout.write("Nothing to seal.")
            return
        newest = run.seals[-1]
        if not run.rows:
            self.stdout.write(
                f"No new rows; seal #{newest.sequence} moves 'sealed up to' to "
                f"{newest.sealed_through:%Y-%m-%d %H:%M:%S} UTC."
            )
            return
        self.stdout.write(
            f"{run.rows:,} row(s) sealed in {len(run.seals)} seal(s) "
            f"(#{run.seals[0].sequence} to #{newest.sequence}), up to "
            f"{newest.sealed_through:%Y-%m-%d %H:%M:%S} UTC; {run.seconds:.2f}s, "
            f"{run.rows_per_second:,.0f} rows/s."
        )
