"""Moving old, sealed events out of the live event tables into the monthly archive.

The live event tables keep the last ``AUDIT_ARCHIVE_AFTER_DAYS`` (and whatever is not sealed
yet); everything older moves, a calendar month (UTC) at a time, into ``audit_archived_event``,
a table partitioned by month that holds each row whole (``to_jsonb``) with the columns the feed
orders and filters on. So the live tables, their indexes and every scan of them stay the size
of the retention window however long the trail grows, and the archive grows by one partition a
month.

A month moves in one transaction, table by table, through ``audit_archive_move`` (migration
``audit.0011``): a function owned by the schema owner that copies the month's rows into the
archive and then deletes them. The app itself still has no DELETE on any event table, and each
event table's delete trigger lets a row go only if the archive already holds it unchanged, byte
for byte: a DELETE of anything else, by anyone, is refused as before. Only sealed rows move (the
function refuses a range past the newest seal), so the seals prove the move: ``audit.seal``
verifies archived rows against the same seals as live ones, and records each archived month it
has checked (``AuditArchiveCheck``), so later runs check only what is new.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.context import context
from audit.models import AuditArchivedMonth, AuditSeal
from audit.tracking import event_models

ARCHIVE_TABLE = "audit_archived_event"


@dataclass
class ArchiveRun:
    months: list[AuditArchivedMonth] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(month.rows for month in self.months)


def month_start(moment: dt.datetime) -> dt.datetime:
    """The first instant (UTC) of the month ``moment`` falls in."""
    utc = moment.astimezone(dt.UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: dt.datetime) -> dt.datetime:
    return (start + dt.timedelta(days=32)).replace(day=1)


def archived_through() -> dt.datetime | None:
    """Where the archive ends: every event older than this is in the archive (None: nothing)."""
    return AuditArchivedMonth.objects.order_by("-month").values_list("month_end", flat=True).first()


def archived_months() -> list[tuple[dt.datetime, dt.datetime]]:
    """The archived months as (start, end), newest first."""
    return [
        (dt.datetime(m.year, m.month, 1, tzinfo=dt.UTC), end)
        for m, end in AuditArchivedMonth.objects.order_by("-month").values_list(
            "month", "month_end"
        )
    ]


def archive_cutoff(*, now: dt.datetime | None = None, after_days: int | None = None) -> dt.datetime:
    """Months ending at or before this move: past the retention window, and sealed."""
    now = timezone.now() if now is None else now
    after_days = settings.AUDIT_ARCHIVE_AFTER_DAYS if after_days is None else after_days
    sealed = (
        AuditSeal.objects.order_by("-sequence").values_list("sealed_through", flat=True).first()
    )
    if sealed is None:
        raise ValidationError(
            "Nothing is sealed yet: only sealed events can be archived (run audit_seal).",
            code="archive_unsealed",
        )
    return min(now - dt.timedelta(days=after_days), sealed)


def _oldest_live_event() -> dt.datetime | None:
    branches = [
        f"SELECT min(pgh_created_at) AS c FROM {connection.ops.quote_name(m._meta.db_table)}"
        for m in event_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(c) FROM (" + " UNION ALL ".join(branches) + ") u")
        return cursor.fetchone()[0]


def archive_sealed(
    *, now: dt.datetime | None = None, after_days: int | None = None, max_months: int = 12
) -> ArchiveRun:
    """Move every whole month older than the retention window (and sealed) into the archive.

    Months move oldest first, each in its own transaction, at most ``max_months`` a run (a
    first run on a long history takes several). Running it again moves nothing twice.
    """
    started = time.perf_counter()
    run = ArchiveRun()
    cutoff = archive_cutoff(now=now, after_days=after_days)
    through = archived_through()
    if through is None:
        oldest = _oldest_live_event()
        if oldest is None:
            return run
        start = month_start(oldest)
    else:
        start = through
    models = [(m._meta.db_table, m.pgh_tracked_model._meta.label_lower) for m in event_models()]  # type: ignore[attr-defined]  # pghistory's
    while next_month(start) <= cutoff and len(run.months) < max_months:
        end = next_month(start)
        with (
            transaction.atomic(),
            context(
                action="audit.archive_month",
                reason=f"sealed events of {start:%Y-%m}, older than the retention window",
            ),
        ):
            moved = 0
            with connection.cursor() as cursor:
                for table, label in models:
                    cursor.execute(
                        "SELECT audit_archive_move(%s, %s, %s, %s)", [table, label, start, end]
                    )
                    moved += cursor.fetchone()[0]
            month = AuditArchivedMonth(month=start.date(), month_end=end, rows=moved)
            month.full_clean()
            month.save()
        run.months.append(month)
        start = end
    run.seconds = time.perf_counter() - started
    return run
