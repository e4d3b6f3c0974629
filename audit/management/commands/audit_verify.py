from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from audit import seal
from audit.management.base import AuditedCommand

SHOWN = 200


class Command(AuditedCommand):
    help = (
        "Check the audit trail against its seals: rows edited, deleted or inserted into a sealed "
        "range, broken or missing seals, old rows left unsealed. Exits non-zero on any finding."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--export",
            metavar="FILE",
            help="Also compare the seals with this copy of the export (one JSON line a seal).",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Recompute every sealed row, archived months already checked included "
            "(by default those are checked again one a run, in turn).",
        )

    def handle(self, *args: Any, export: str | None, full: bool, **options: Any) -> None:
        try:
            result = seal.verify(export_path=export, full=full)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        record = result.record
        for finding in result.findings[:SHOWN]:
            where = " ".join(
                part
                for part in (
                    finding["table"],
                    f"id={finding['id']}" if finding["id"] is not None else "",
                    f"seal #{finding['seal']}" if finding["seal"] is not None else "",
                )
                if part
            )
            self.stdout.write(f"{finding['kind']}: {where}: {finding['detail']}")
        if len(result.findings) > SHOWN:
            self.stdout.write(f"… and more: see audit verification #{record.pk}.")
        through = (
            f"{record.sealed_through:%Y-%m-%d %H:%M:%S} UTC" if record.sealed_through else "never"
        )
        self.stdout.write(
            f"{record.seals_checked:,} seal(s) and {record.rows_checked:,} sealed row(s) checked "
            f"in {result.seconds:.2f}s; sealed up to {through}."
        )
        if not record.ok:
            raise CommandError(f"{record.problems:,} problem(s) found.")
        self.stdout.write("OK: the sealed audit trail is intact.")
