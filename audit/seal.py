"""Tamper evidence for the audit trail: a chain of seals, and its verification.

The trail's tables refuse UPDATE, DELETE and TRUNCATE, but a database superuser can switch the
triggers off. Seals make such a rewrite detectable afterwards.

- ``seal_pending`` hashes, in SQL, the canonical form of every event and context row written
  since the last seal (``ROW(...)::text`` over the recorded columns, in their recorded order,
  with the time zone, date style and output formats pinned; SHA-256, of which 16 bytes are
  kept) and appends an ``AuditSeal``: per table the columns hashed, the count,
  the first and last id and a SHA-256 over the (id, row digest) pairs in id order; the pairs
  themselves, to name rows later; and ``hash``, an HMAC-SHA256 over the previous seal's hash and
  this seal's body. The key (``AUDIT_SEAL_KEY``) never reaches the database, so whoever can
  rewrite the tables cannot make a seal match. Each seal is also appended to an export file, a
  copy meant to leave the machine.
- ``verify`` recomputes every sealed row's digest in SQL, one grouped query per table, and
  compares each seal's per-table digest in Python. Only where one differs does it compare id by
  id, to name the rows edited, deleted or inserted.

Races. A row's ``created_at`` is ``NOW()`` of the transaction that wrote it: when that
transaction *started*, not when it committed. So a seal only covers rows older than
``clock_timestamp() - AUDIT_SEAL_HORIZON_SECONDS``, and older than the start of any transaction
still open in this database (those the sealer's role may see in ``pg_stat_activity``): every
transaction that could still add a row to the range has ended, and a row that appears there
later was put there by someone going around the application.

Context rows never change after their transaction commits (``audit.context`` opens a fresh
context id whenever metadata changes, and the database refuses an update from any other
transaction), so a sealed context that differs was rewritten.

Two sealers never overlap: a session-level advisory lock is held for the whole run, export
included, so the export's lines are appended in order.

Cost: hashing the rows' text forms (``benchmarks/seal.py``; figures in the README).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from audit.models import AuditArchiveCheck, AuditArchivedMonth, AuditSeal, AuditVerification
from audit.tracking import event_models

CONTEXT_TABLE = "pghistory_context"
ARCHIVE_TABLE = "audit_archived_event"  # see audit/archive.py
# Not updated_at: it moves whenever a later statement of the same context merges metadata in.
CONTEXT_COLUMNS = ("created_at", "id", "metadata")
MAX_ROWS = 20_000  # per seal; a larger backlog becomes several chained seals
FINDINGS_KEPT = 1_000  # findings stored on an AuditVerification (all are counted)
FINDINGS_SHOWN_IDS = 10
# With nothing new to seal, a seal is still written this often, so that "sealed up to" stays
# recent on a quiet system and a row back-dated into the quiet period is caught.
IDLE_SEAL_SECONDS = 60
MIN_KEY_LENGTH = 32
DIGEST_BYTES = 16
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
_LOCK_ID = int.from_bytes(hashlib.sha256(b"audit.seal").digest()[:8], "big", signed=True)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")

# Finding kinds.
EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
UNSEALED = "unsealed"
UNCHECKABLE = "uncheckable"
SEAL_BROKEN = "seal_broken"
SEAL_MISSING = "seal_missing"
CHAIN_BROKEN = "chain_broken"
DIGESTS_ALTERED = "digests_altered"
TABLE_MISSING = "table_missing"
COLUMN_MISSING = "column_missing"
EXPORT_MISMATCH = "export_mismatch"
EXPORT_ONLY = "seal_deleted"
NOT_EXPORTED = "not_exported"
EXPORT_UNREADABLE = "export_unreadable"
CHECK_FORGED = "check_forged"


# The canonical form ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A sealed table: one event table, or the context table."""

    name: str

    def __post_init__(self) -> None:
        _identifier(self.name)

    @property
    def is_context(self) -> bool:
        return self.name == CONTEXT_TABLE

    @property
    def id_column(self) -> str:
        return "id" if self.is_context else "pgh_id"

    @property
    def created_column(self) -> str:
        return "created_at" if self.is_context else "pgh_created_at"

    @property
    def id_width(self) -> int:
        return 16 if self.is_context else 8

    @property
    def record_width(self) -> int:
        return self.id_width + DIGEST_BYTES

    def record_sql(self, columns: Iterable[str], present: Iterable[str] | None = None) -> str:
        """SQL for one packed record of row ``r``: its id, then its digest's first bytes.

        A column recorded in a seal but since dropped hashes as NULL (and is reported).
        """
        ident = "uuid_send(r.id)" if self.is_context else "int8send(r.pgh_id::bigint)"
        present = None if present is None else frozenset(present)
        # The row's text form over the recorded columns, in their recorded order: what
        # ``ROW(...)::text`` prints is fixed by the session settings ``_canonical_session``
        # pins, and it is ~4x cheaper than building a jsonb object per row.
        values = [
            f'r."{_identifier(c)}"' if present is None or c in present else "NULL" for c in columns
        ]
        digest = f"sha256(convert_to(ROW({', '.join(values)})::text, 'UTF8'))"
        return f"{ident} || substring({digest} from 1 for {DIGEST_BYTES})"

    def packed_sql(
        self,
        columns: Iterable[str],
        where: str,
        present: Iterable[str] | None = None,
        source: str | None = None,
    ) -> str:
        """SQL for the records of the rows matching ``where``, concatenated in id order.

        A record begins with its id, big-endian, so byte order is id order. The subquery's ORDER
        BY keeps the planner from folding the record into the aggregate, where it would be
        computed twice (argument and sort key) and never by parallel workers.
        """
        return (
            "SELECT string_agg(record, ''::bytea ORDER BY record) FROM ("
            f"SELECT {self.record_sql(columns, present)} AS record FROM"
            f" {source or self.source()}"
            f" WHERE {where} ORDER BY 1) s"
        )

    def source(
        self, start: str | None = None, end: str | None = None, *, archive: bool = False
    ) -> str:
        """The table's rows as ``r``. With ``archive``, an event table's live rows and its
        archived ones, read back into the table's own row type (``start``/``end``: parameter
        names bounding the archive's partitions read)."""
        if self.is_context or not archive:
            return f'"{self.name}" r'
        bounds = "".join(
            f" AND a.pgh_created_at {op} %({name})s"
            for op, name in ((">=", start), ("<", end))
            if name
        )
        return (
            f'(SELECT l.* FROM "{self.name}" l UNION ALL SELECT p.* FROM {ARCHIVE_TABLE} a'
            f' CROSS JOIN LATERAL jsonb_populate_record(NULL::"{self.name}", a.data) p'
            f" WHERE a.source_table = '{self.name}'{bounds}) r"
        )

    def range_sql(self, start: str | None, end: str | None) -> str:
        """``start <= created_at < end``, with the bounds' parameter names (None: unbounded)."""
        created = f"r.{self.created_column}"
        parts = [
            f"{created} >= %({start})s" if start else "",
            f"{created} < %({end})s" if end else "",
        ]
        return " AND ".join(p for p in parts if p) or "TRUE"

    def records(self, block: bytes) -> Iterator[tuple[int | str, bytes]]:
        width, id_width = self.record_width, self.id_width
        for offset in range(0, len(block), width):
            record = block[offset : offset + width]
            yield self.decode_id(record[:id_width]), record[id_width:]

    def decode_id(self, raw: bytes) -> int | str:
        if self.is_context:
            return str(uuid.UUID(bytes=raw))
        return int.from_bytes(raw, "big", signed=True)


def _identifier(name: str) -> str:
    # Names are spliced into SQL as identifiers: only plain lowercase ones.
    if not _IDENTIFIER.match(name):
        raise ValueError(f"unexpected table or column name {name!r}")
    return name


def sealed_tables() -> dict[str, tuple[str, ...]]:
    """Every table a new seal covers, with the columns its rows are hashed on."""
    tables = {
        model._meta.db_table: tuple(
            sorted(f.column for f in model._meta.concrete_fields if f.column)
        )
        for model in event_models()
    }
    tables[CONTEXT_TABLE] = CONTEXT_COLUMNS
    return dict(sorted(tables.items()))


def _canonical_session(cursor: Any) -> None:
    # The text of a row depends on these settings (timestamps follow the time zone and the
    # date style).
    cursor.execute(
        "SELECT set_config('TimeZone', 'UTC', true), set_config('IntervalStyle', 'postgres', true),"
        " set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '1', true),"
        " set_config('DateStyle', 'ISO, YMD', true)"
    )
    # Sealing and verifying a long history outlast the app role's timeouts (which bound the
    # transactions that write events, not this one, which writes none).
    cursor.execute(
        "SELECT set_config(name, '0', true) FROM pg_settings "
        "WHERE name IN ('statement_timeout', 'transaction_timeout')"
    )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _body(seal: AuditSeal) -> dict[str, Any]:
    return {
        "sequence": seal.sequence,
        "created_at": _iso(seal.created_at),
        "sealed_from": _iso(seal.sealed_from),
        "sealed_through": _iso(seal.sealed_through),
        "tables": seal.tables,
    }


def export_record(seal: AuditSeal) -> dict[str, Any]:
    """The seal as one line of the export: its body, ``prev_hash`` and ``hash``."""
    return {**_body(seal), "prev_hash": seal.prev_hash, "hash": seal.hash}


def _hmac(key: bytes, prev_hash: str, body: dict[str, Any]) -> str:
    message = (prev_hash + _canonical_json(body)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key() -> bytes:
    key = settings.AUDIT_SEAL_KEY
    if not key:
        raise ValidationError(
            "AUDIT_SEAL_KEY is not set: seals cannot be made or checked without it.",
            code="seal_key_missing",
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ValidationError(
            f"AUDIT_SEAL_KEY must be at least {MIN_KEY_LENGTH} characters long.",
            code="seal_key_weak",
        )
    return key.encode()


# Sealing -----------------------------------------------------------------------------------


@dataclass
class SealRun:
    seals: list[AuditSeal]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(seal.row_count for seal in self.seals)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def seal_pending(
    *, now: dt.datetime | None = None, horizon: float | None = None, max_rows: int = MAX_ROWS
) -> SealRun:
    """Seal every row written since the last seal and older than the horizon.

    ``now`` stands for the database's clock (tests). Each seal is its own transaction and holds
    at most ``max_rows`` rows, except that the rows of one timestamp (one transaction) are never
    split between seals.
    """
    key = _key()
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    horizon = settings.AUDIT_SEAL_HORIZON_SECONDS if horizon is None else horizon
    export = Path(settings.AUDIT_SEAL_EXPORT) if settings.AUDIT_SEAL_EXPORT else None
    started = time.perf_counter()
    sealed: list[AuditSeal] = []
    tables = sealed_tables()
    with _sealer_lock():
        if export is not None:
            _catch_up_export(export)
        while True:
            with transaction.atomic():
                seal, caught_up = _seal_next(
                    key=key, tables=tables, now=now, horizon=horizon, max_rows=max_rows
                )
            if seal is None:
                break
            if export is not None:
                _append_export(export, [seal])
            sealed.append(seal)
            if caught_up:
                break
    return SealRun(seals=sealed, seconds=time.perf_counter() - started)


@contextmanager
def _sealer_lock() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_ID])
        if not cursor.fetchone()[0]:
            raise ValidationError("Another audit_seal run is in progress.", code="sealer_busy")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_ID])


# Up to when rows may be sealed: the horizon, and no later than the oldest transaction still
# open in this database (pg_stat_activity shows other roles' xact_start only to privileged ones).
_LIMIT_SQL = """
SELECT least(
    coalesce(%(now)s::timestamptz, clock_timestamp()) - make_interval(secs => %(horizon)s),
    (SELECT min(xact_start) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND backend_type = 'client backend')
), clock_timestamp()
"""


def _seal_next(
    *,
    key: bytes,
    tables: dict[str, tuple[str, ...]],
    now: dt.datetime | None,
    horizon: float,
    max_rows: int,
) -> tuple[AuditSeal | None, bool]:
    """Append the next seal; returns it (None: nothing to seal) and whether it reached the limit."""
    with connection.cursor() as cursor:
        _canonical_session(cursor)
        cursor.execute(_LIMIT_SQL, {"now": now, "horizon": float(horizon)})
        limit, clock = cursor.fetchone()
    previous = AuditSeal.objects.defer("row_digests").order_by("-sequence").first()
    start = previous.sealed_through if previous is not None else None
    if start is not None and limit <= start:
        return None, True
    first = _first_created(tables, start, limit)
    if first is None:
        idle = max(float(horizon), IDLE_SEAL_SECONDS)
        if previous is None or (limit - start).total_seconds() < idle:
            return None, True
        through = limit
    else:
        through = _cut(tables, start, limit, first, max_rows)
    entries, blob = _digest_range(tables, start, through)
    seal = AuditSeal(
        sequence=previous.sequence + 1 if previous is not None else 1,
        created_at=clock,
        sealed_from=start,
        sealed_through=through,
        prev_hash=previous.hash if previous is not None else "",
        tables=entries,
        row_digests=blob,
    )
    seal.hash = _hmac(key, seal.prev_hash, _body(seal))
    seal.full_clean()
    seal.save()
    return seal, through >= limit


def _union(tables: Iterable[str], branch: str, start: dt.datetime | None) -> str:
    """``branch`` (with ``{t}``, ``{created}``, ``{range}``) once per table, UNION ALL."""
    parts = []
    for name in tables:
        table = Table(name)
        parts.append(
            branch.format(
                t=f'"{name}"',
                created=f"r.{table.created_column}",
                range=table.range_sql("start" if start is not None else None, "end"),
            )
        )
    return "\nUNION ALL\n".join(parts)


def _first_created(
    tables: dict[str, tuple[str, ...]], start: dt.datetime | None, end: dt.datetime
) -> dt.datetime | None:
    union = _union(tables, "SELECT min({created}) AS c FROM {t} r WHERE {range}", start)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(c) FROM ({union}) u", {"start": start, "end": end})
        return cursor.fetchone()[0]


def _cut(
    tables: dict[str, tuple[str, ...]],
    start: dt.datetime | None,
    limit: dt.datetime,
    first: dt.datetime,
    max_rows: int,
) -> dt.datetime:
    """Where this seal ends: before the (max_rows + 1)-th row, never inside one timestamp."""
    union = _union(tables, "SELECT {created} AS c FROM {t} r WHERE {range}", start)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c FROM ({union}) u ORDER BY c OFFSET %(cap)s LIMIT 1",
            {"start": start, "end": limit, "cap": max_rows},
        )
        row = cursor.fetchone()
    if row is None:
        return limit
    if row[0] > first:
        return row[0]
    # More than max_rows rows share the first timestamp: this seal takes all of them.
    following = _first_created(tables, first + dt.timedelta(microseconds=1), limit)
    return following if following is not None else limit


def _digest_range(
    tables: dict[str, tuple[str, ...]], start: dt.datetime | None, through: dt.datetime
) -> tuple[dict[str, Any], bytes]:
    branches = []
    for name, columns in tables.items():
        table = Table(name)
        branches.append(
            f"SELECT '{name}', ("
            + table.packed_sql(columns, table.range_sql("start" if start else None, "end"))
            + ")"
        )
    with connection.cursor() as cursor:
        cursor.execute("\nUNION ALL\n".join(branches), {"start": start, "end": through})
        blocks = {name: bytes(block) for name, block in cursor.fetchall() if block}
    entries: dict[str, Any] = {}
    for name in sorted(blocks):
        table, block = Table(name), blocks[name]
        records = len(block) // table.record_width
        entries[name] = {
            "columns": list(tables[name]),
            "count": records,
            "first_id": table.decode_id(block[: table.id_width]),
            "last_id": table.decode_id(block[-table.record_width :][: table.id_width]),
            "digest": hashlib.sha256(block).hexdigest(),
        }
    return entries, b"".join(blocks[name] for name in sorted(blocks))


def _append_export(path: Path, seals: Iterable[AuditSeal]) -> None:
    lines = [_canonical_json(export_record(seal)) + "\n" for seal in seals]
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as export:
        export.writelines(lines)
        export.flush()
        os.fsync(export.fileno())


def _last_export_record(path: Path) -> dict[str, Any] | None:
    """The export's last line, read from the end (the file only grows)."""
    try:
        with path.open("rb") as export:
            position = export.seek(0, os.SEEK_END)
            tail = b""
            while position > 0:
                step = min(1 << 16, position)
                position -= step
                export.seek(position)
                tail = export.read(step) + tail
                if b"\n" in tail.rstrip(b"\n"):
                    break
    except FileNotFoundError:
        return None
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1].strip()
    if not last:
        return None
    try:
        return json.loads(last)
    except ValueError as exc:
        raise ValidationError(
            f"The last line of the seal export {path} is not a seal.", code="export_unreadable"
        ) from exc


def _catch_up_export(path: Path) -> None:
    """Append what the export lacks; refuse to go on if it knows seals the database lost.

    A crash between a seal's commit and its line leaves the export one line behind: that is
    caught up here. An export *ahead* of the database, or with another version of a seal, means
    seals were deleted or rewritten; sealing on would chain new seals to the rewritten history.
    """
    last = _last_export_record(path)
    seals = AuditSeal.objects.defer("row_digests").order_by("sequence")
    if last is not None:
        sequence = last.get("sequence")
        seal = seals.filter(sequence=sequence).first() if isinstance(sequence, int) else None
        if seal is None or export_record(seal) != last:
            found = "lacks it" if seal is None else "holds another version of it"
            raise ValidationError(
                f"The seal export {path} ends with seal #{sequence} and the database {found}: "
                f"seals were deleted or rewritten. Run audit_verify --export {path}.",
                code="export_diverged",
            )
        seals = seals.filter(sequence__gt=sequence)
    _append_export(path, seals.iterator())


# Verification ------------------------------------------------------------------------------


@dataclass
class Findings:
    items: list[dict[str, Any]] = field(default_factory=list)
    problems: int = 0

    def add(
        self,
        kind: str,
        detail: str,
        *,
        table: str = "",
        row_id: int | str | None = None,
        seal: int | None = None,
        count: int = 1,
    ) -> None:
        self.problems += count
        if len(self.items) < FINDINGS_KEPT:
            self.items.append(
                {"kind": kind, "table": table, "id": row_id, "seal": seal, "detail": detail}
            )


@dataclass
class Verification:
    record: AuditVerification
    findings: list[dict[str, Any]]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.record.ok

    @property
    def problems(self) -> int:
        return self.record.problems


@dataclass
class _Layout:
    """The sealed time line as buckets for ``width_bucket``: bucket ``k`` is
    ``bounds[k - 1] <= created_at < bounds[k]`` (bucket 0 has no lower bound) and belongs to
    ``owners[k]``, a seal, or None where the seal of that range is missing or malformed."""

    bounds: list[dt.datetime] = field(default_factory=list)
    owners: list[AuditSeal | None] = field(default_factory=list)

    @classmethod
    def of(cls, seals: list[AuditSeal], *, check_form: bool = True) -> _Layout:
        """``check_form=False``: every seal owns its range for now (its table list is not
        loaded yet; ``verify`` checks the form of those it reads, see ``_load_tables``)."""
        layout = cls()
        end = None
        for seal in seals:
            start = seal.sealed_from
            if end is not None and (start is None or start < end):
                start = end  # an overlapping seal: the chain check reports it
            if start is not None and start != end:
                layout.bounds.append(start)
                layout.owners.append(None)
            lower = start if start is not None else end
            if lower is not None and seal.sealed_through <= lower:
                continue
            layout.bounds.append(seal.sealed_through)
            # A malformed seal's range is a gap too: its rows are reported as impossible to check.
            layout.owners.append(seal if not check_form or _well_formed(seal) else None)
            end = seal.sealed_through
        return layout

    @property
    def newest(self) -> dt.datetime | None:
        return self.bounds[-1] if self.bounds else None

    def interval(self, bucket: int) -> tuple[dt.datetime | None, dt.datetime]:
        return (self.bounds[bucket - 1] if bucket else None), self.bounds[bucket]


@dataclass
class _Window:
    """A run of consecutive buckets checked together: ``start <= created_at < end``."""

    start: dt.datetime | None
    end: dt.datetime
    buckets: range

    @property
    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class _Month:
    """An archived month, with the newest genuine record of its verification (if any)."""

    start: dt.datetime
    end: dt.datetime
    rows: int
    checked_at: dt.datetime | None
    ok: bool

    def buckets(self, layout: _Layout) -> range:
        """The buckets whose range meets the month (bucket ``k`` ends at ``bounds[k]``)."""
        first = bisect.bisect_right(layout.bounds, self.start)
        last = min(bisect.bisect_left(layout.bounds, self.end), len(layout.bounds) - 1)
        return range(first, last + 1)


def _check_body(check: AuditArchiveCheck) -> dict[str, Any]:
    return {
        "month": check.month.isoformat(),
        "created_at": _iso(check.created_at),
        "ok": check.ok,
        "rows": check.rows,
    }


def _archived_months(key: bytes, findings: Findings) -> list[_Month]:
    """The archived months, oldest first, each with its newest verification record whose HMAC
    holds (a forged or edited record is reported and ignored)."""
    checks: dict[dt.date, AuditArchiveCheck] = {}
    for check in AuditArchiveCheck.objects.order_by("created_at", "id"):
        if hmac.compare_digest(_hmac(key, "archive-check", _check_body(check)), check.hash):
            checks[check.month] = check
        else:
            findings.add(
                CHECK_FORGED,
                f"the record of checking {check.month:%Y-%m} (#{check.pk}) does not match its"
                " HMAC: edited or forged; the month is checked again",
            )
    months = []
    for month in AuditArchivedMonth.objects.order_by("month"):
        newest = checks.get(month.month)
        months.append(
            _Month(
                start=month_start_of(month.month),
                end=month.month_end,
                rows=month.rows,
                checked_at=newest.created_at if newest else None,
                ok=bool(newest and newest.ok),
            )
        )
    return months


def month_start_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)


def _windows(layout: _Layout, months: list[_Month], *, full: bool) -> list[_Window]:
    """What this run checks: everything after the archived months already checked OK (in a
    row from the first), and the one checked month whose check is the oldest, again.

    The months before that point were each checked once and recorded (``AuditArchiveCheck``);
    so a run costs the retention window plus one month, however long the trail. Every archived
    month is checked again in turn, one a run; ``full`` checks everything."""
    count = len(layout.bounds)
    if not count:
        return []
    checked_through = None
    for month in months:
        if full or not month.ok:
            break
        checked_through = month.end
    first_recent = (
        0 if checked_through is None else bisect.bisect_right(layout.bounds, checked_through)
    )
    runs = [range(first_recent, count)]
    done = [m for m in months if checked_through and m.end <= checked_through]
    if done:
        again = min(done, key=lambda m: (m.checked_at, m.start)).buckets(layout)
        if again.stop >= first_recent:  # it reaches the recent part: one run for both
            runs = [range(min(again.start, first_recent), count)]
        else:
            runs.append(again)
    runs = [r for r in runs if r]
    return [_Window(layout.interval(r[0])[0], layout.bounds[r[-1]], r) for r in runs]


def _check_archive_columns(windows: list[_Window], findings: Findings) -> set[dt.datetime]:
    """Archived rows whose feed columns (model, id, time, operation, object, context) do not say
    what their archived row says; returns the times of those rows."""
    from audit.tracking import event_models

    tables = [m._meta.db_table for m in event_models()]
    labels = [m.pgh_tracked_model._meta.label_lower for m in event_models()]  # type: ignore[attr-defined]  # pghistory's
    found: set[dt.datetime] = set()
    for window in windows:
        lower = "AND a.pgh_created_at >= %(start)s" if window.start is not None else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT a.source_table, a.pgh_id, a.pgh_created_at FROM {ARCHIVE_TABLE} a"
                " LEFT JOIN unnest(%(tables)s::text[], %(labels)s::text[]) AS m(t, l)"
                f" ON m.t = a.source_table WHERE a.pgh_created_at < %(end)s {lower} AND ("
                " m.l IS DISTINCT FROM a.model"
                " OR a.pgh_id IS DISTINCT FROM (a.data->>'pgh_id')::bigint"
                " OR a.pgh_created_at IS DISTINCT FROM (a.data->>'pgh_created_at')::timestamptz"
                " OR a.pgh_label IS DISTINCT FROM a.data->>'pgh_label'"
                " OR a.pgh_obj_id IS DISTINCT FROM (a.data->>'pgh_obj_id')::bigint"
                " OR a.pgh_context_id IS DISTINCT FROM (a.data->>'pgh_context_id')::uuid)"
                " LIMIT %(shown)s",
                {"tables": tables, "labels": labels, "shown": FINDINGS_KEPT, **window.params},
            )
            for name, row_id, created in cursor.fetchall():
                found.add(created)
                findings.add(
                    EDITED,
                    "its archive entry's model, id, time, operation, object or context differs"
                    " from the archived row",
                    table=name,
                    row_id=row_id,
                )
    return found


def _record_months(
    key: bytes,
    months: list[_Month],
    layout: _Layout,
    windows: list[_Window],
    bad: set[int],
    bad_times: set[dt.datetime],
    clock: dt.datetime,
) -> None:
    """Record each archived month every bucket of which this run checked: OK or not."""
    for month in months:
        meeting = month.buckets(layout)
        if not meeting or not any(
            w.buckets.start <= meeting.start and meeting.stop <= w.buckets.stop for w in windows
        ):
            continue
        ok = not any(b in meeting for b in bad) and not any(
            month.start <= t < month.end for t in bad_times
        )
        check = AuditArchiveCheck(
            month=month.start.date(), created_at=clock, ok=ok, rows=month.rows
        )
        check.hash = _hmac(key, "archive-check", _check_body(check))
        check.save()


def verify(
    *,
    now: dt.datetime | None = None,
    horizon: float | None = None,
    export_path: str | Path | None = None,
    full: bool = False,
) -> Verification:
    """Recompute the chain of seals and the sealed rows; record and return what differs.

    Archived months already checked are not recomputed (see ``_windows``), except one a run
    in turn; ``full`` recomputes every sealed row, archived or not."""
    key = _key()
    horizon = settings.AUDIT_SEAL_HORIZON_SECONDS if horizon is None else horizon
    started = time.perf_counter()
    findings = Findings()
    rows = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            _canonical_session(cursor)
            # The planner prices a row's text form as cheap; it is not, so let every table scan
            # use parallel workers.
            cursor.execute(
                "SELECT set_config('parallel_setup_cost', '0', true),"
                " set_config('parallel_tuple_cost', '0', true),"
                " set_config('work_mem', '32MB', true)"
            )
            cursor.execute("SELECT coalesce(%s::timestamptz, clock_timestamp())", [now])
            clock = cursor.fetchone()[0]
        # Every seal's range and links (small); the table lists only of the seals whose rows
        # this run checks (the chain of five-minute seals grows by 100,000 a year).
        seals = list(AuditSeal.objects.defer("row_digests", "tables").order_by("sequence", "id"))
        months = _archived_months(key, findings)
        layout = _Layout.of(seals, check_form=False)
        windows = _windows(layout, months, full=full or bool(export_path))
        read = _load_tables(seals, layout, windows)
        _check_chain(seals, key, findings, read=read)
        if export_path:
            _check_export(seals, Path(export_path), key, findings)
        usable = [seal for seal in layout.owners if seal is not None and seal.pk in read]
        current = sealed_tables()
        present = _present_columns()
        bad: set[int] = set()
        for name in sorted(set(current) | {name for seal in usable for name in seal.tables}):
            rows += _check_table(
                Table(name), current.get(name), present.get(name), layout, findings, windows, bad
            )
        bad_times = _check_archive_columns(windows, findings)
        cutoff = clock - dt.timedelta(seconds=2 * float(horizon))
        _check_unsealed(current, present, layout.newest, cutoff, horizon, findings)
        _record_months(key, months, layout, windows, bad, bad_times, clock)
    record = AuditVerification.objects.create(
        ok=findings.problems == 0,
        problems=findings.problems,
        findings=findings.items,
        sealed_through=layout.newest,
        seals_checked=len(seals),
        rows_checked=rows,
    )
    return Verification(
        record=record, findings=findings.items, seconds=time.perf_counter() - started
    )


def _load_tables(seals: list[AuditSeal], layout: _Layout, windows: list[_Window]) -> set[int]:
    """Load the table lists of the seals owning a bucket of ``windows`` (and of the first
    seal, whose empty ``prev_hash`` starts the chain); a malformed one leaves a gap. Returns
    the primary keys of the seals loaded."""
    wanted = {
        owner.pk
        for window in windows
        for bucket in window.buckets
        if (owner := layout.owners[bucket]) is not None
    }
    if seals:
        wanted.add(seals[0].pk)
    everything = len(wanted) == len(seals)
    query = AuditSeal.objects.all() if everything else AuditSeal.objects.filter(pk__in=wanted)
    tables = dict(query.values_list("pk", "tables"))
    for seal in seals:
        if seal.pk in tables:
            seal.tables = tables[seal.pk]
    for window in windows:
        for bucket in window.buckets:
            owner = layout.owners[bucket]
            if owner is not None and not _well_formed(owner):
                layout.owners[bucket] = None
    return set(tables)


def _well_formed(seal: AuditSeal) -> bool:
    """Whether the seal's table list can be used at all (names are spliced into SQL)."""
    if not isinstance(seal.tables, dict):
        return False
    for name, entry in seal.tables.items():
        if not (_IDENTIFIER.match(name) and isinstance(entry, dict)):
            return False
        columns, count = entry.get("columns"), entry.get("count")
        if not (
            isinstance(columns, list)
            and columns
            and all(isinstance(c, str) and _IDENTIFIER.match(c) for c in columns)
            and isinstance(count, int)
            and count >= 0
            and isinstance(entry.get("digest"), str)
        ):
            return False
    return True


def _check_chain(
    seals: list[AuditSeal], key: bytes, findings: Findings, *, read: set[int] | None = None
) -> None:
    """Every seal's place in the chain; the HMAC of those in ``read`` (None: all), the seals
    whose rows this run checks. An older seal's HMAC was checked with its month."""
    previous = None
    for seal in seals:
        if read is not None and seal.pk not in read:
            pass  # its body is not loaded: only its links and range are checked below
        elif not _well_formed(seal):
            findings.add(
                SEAL_BROKEN,
                "its table list is malformed: the rows of its range cannot be checked",
                seal=seal.sequence,
            )
        elif not hmac.compare_digest(_hmac(key, seal.prev_hash, _body(seal)), seal.hash):
            findings.add(
                SEAL_BROKEN,
                "its HMAC does not match its content: the seal row was edited or forged "
                "(or sealed with another AUDIT_SEAL_KEY)",
                seal=seal.sequence,
            )
        expected = previous.sequence + 1 if previous is not None else 1
        if seal.sequence > expected:
            missing = seal.sequence - expected
            after = f"after seal #{previous.sequence}" if previous is not None else "at the start"
            findings.add(
                SEAL_MISSING,
                f"{missing} seal(s) missing {after} (#{expected}"
                + (f" to #{seal.sequence - 1})" if missing > 1 else ")"),
                seal=seal.sequence,
                count=missing,
            )
        elif seal.sequence < expected or seal.prev_hash != (
            previous.hash if previous is not None else ""
        ):
            findings.add(
                CHAIN_BROKEN,
                "its prev_hash is not the hash of the seal before it",
                seal=seal.sequence,
            )
        elif seal.sealed_from != (previous.sealed_through if previous is not None else None) or (
            seal.sealed_from is not None and seal.sealed_through <= seal.sealed_from
        ):
            findings.add(
                CHAIN_BROKEN,
                "its range does not begin where the seal before it ended",
                seal=seal.sequence,
            )
        previous = seal


def _check_export(seals: list[AuditSeal], path: Path, key: bytes, findings: Findings) -> None:
    lines: dict[int, dict[str, Any]] = {}
    try:
        with path.open(encoding="utf-8") as export:
            for number, line in enumerate(export, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    sequence = record["sequence"]
                    if not isinstance(sequence, int):
                        raise ValueError(sequence)
                except (ValueError, KeyError, TypeError):
                    findings.add(EXPORT_MISMATCH, f"line {number} of {path} is not a seal")
                    continue
                if lines.get(sequence, record) != record:
                    findings.add(
                        EXPORT_MISMATCH,
                        f"line {number} holds seal #{sequence} a second time, with other content",
                        seal=sequence,
                    )
                    continue
                lines[sequence] = record
    except OSError as exc:
        findings.add(EXPORT_UNREADABLE, f"the export {path} cannot be read: {exc}")
        return
    by_sequence = {seal.sequence: seal for seal in seals}
    for sequence, record in sorted(lines.items()):
        seal = by_sequence.get(sequence)
        if seal is None:
            body = {k: v for k, v in record.items() if k not in ("prev_hash", "hash")}
            genuine = hmac.compare_digest(
                _hmac(key, str(record.get("prev_hash", "")), body), str(record.get("hash", ""))
            )
            findings.add(
                EXPORT_ONLY,
                "the export has this seal and the database does not"
                + (": a genuine seal was deleted" if genuine else " (its line does not verify)"),
                seal=sequence,
            )
            continue
        stored = export_record(seal)
        if stored != record:
            fields = sorted(
                k for k in stored.keys() | record.keys() if stored.get(k) != record.get(k)
            )
            findings.add(
                EXPORT_MISMATCH,
                f"the seal row differs from its export line in: {', '.join(fields)}",
                seal=sequence,
            )
    for sequence in sorted(by_sequence.keys() - lines.keys()):
        findings.add(NOT_EXPORTED, f"the seal is not in the export {path}", seal=sequence)


def _present_columns() -> dict[str, frozenset[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, array_agg(a.attname::text)
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped
            GROUP BY c.relname
            """
        )
        return {name: frozenset(columns) for name, columns in cursor.fetchall()}


def _check_table(
    table: Table,
    current: tuple[str, ...] | None,
    present: frozenset[str] | None,
    layout: _Layout,
    findings: Findings,
    windows: list[_Window],
    bad: set[int],
) -> int:
    """Compare one table with the seals of ``windows``; returns how many sealed rows it holds
    there. Buckets that differ (or cannot be checked) are added to ``bad``."""
    if not layout.bounds or not windows:
        return 0
    name = table.name
    if present is None:
        count = sum(s.tables[name]["count"] for s in layout.owners if s and name in s.tables)
        if count:
            findings.add(
                TABLE_MISSING,
                f"the table is gone, with {count} sealed row(s)",
                table=name,
                count=count,
            )
        return 0
    default = current or tuple(sorted(present))
    groups: dict[tuple[str, ...], list[int]] = {}
    for bucket, owner in enumerate(layout.owners):
        entry = owner.tables.get(name) if owner is not None else None
        groups.setdefault(tuple(entry["columns"]) if entry else default, []).append(bucket)
    for columns in groups:
        for column in sorted(set(columns) - present):
            findings.add(
                COLUMN_MISSING,
                f"column {column}, sealed, is gone: every sealed row of it differs",
                table=name,
            )
    actual: dict[int, tuple[int, str]] = {}
    for window in windows:
        for columns, buckets in groups.items():
            wanted = [b for b in buckets if b in window.buckets]
            if wanted:
                actual.update(_bucket_digests(table, columns, present, layout, wanted, window))
    rows, differing = 0, []
    for bucket, owner in enumerate(layout.owners):
        if not any(bucket in window.buckets for window in windows):
            continue
        count, digest = actual.get(bucket, (0, EMPTY_DIGEST))
        if owner is None:
            if count:
                bad.add(bucket)
                findings.add(
                    UNCHECKABLE,
                    f"{count} row(s) lie in the range of a missing or malformed seal and cannot"
                    " be checked",
                    table=name,
                    count=count,
                )
            continue
        rows += count
        entry = owner.tables.get(name)
        if (count, digest) != ((entry["count"], entry["digest"]) if entry else (0, EMPTY_DIGEST)):
            differing.append(bucket)
    if differing:
        bad.update(differing)
        _name_rows(table, default, present, layout, differing, findings)
    return rows


def _bucket_digests(
    table: Table,
    columns: tuple[str, ...],
    present: frozenset[str],
    layout: _Layout,
    buckets: list[int],
    window: _Window,
) -> dict[int, tuple[int, str]]:
    bucket_sql = f"width_bucket(r.{table.created_column}, %(bounds)s::timestamptz[])"
    contiguous = buckets == list(range(buckets[0], buckets[-1] + 1))
    # A run of buckets (the usual case) as a range: a list of 100,000 seals is a long array.
    only = (
        f" AND {bucket_sql} BETWEEN %(first)s AND %(last)s"
        if contiguous
        else f" AND {bucket_sql} = ANY(%(buckets)s)"
    )
    start = "start" if window.start is not None else None
    lower = f" AND r.{table.created_column} >= %(start)s" if start else ""
    # Sorted by bucket and record in the subquery, so that parallel workers compute the records.
    sql = (
        "SELECT bucket, count(*),"
        " encode(sha256(string_agg(record, ''::bytea ORDER BY record)), 'hex') FROM ("
        f" SELECT {bucket_sql} AS bucket, {table.record_sql(columns, present)} AS record"
        f" FROM {table.source(start, 'end', archive=True)}"
        f" WHERE r.{table.created_column} < %(end)s{lower}{only}"
        " ORDER BY 1, 2) s GROUP BY bucket"
    )
    params = {
        "bounds": layout.bounds,
        "buckets": buckets,
        "first": buckets[0],
        "last": buckets[-1],
        **window.params,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {bucket: (count, digest) for bucket, count, digest in cursor.fetchall()}


def _name_rows(
    table: Table,
    default: tuple[str, ...],
    present: frozenset[str],
    layout: _Layout,
    buckets: list[int],
    findings: Findings,
) -> None:
    """Where a seal's digest differs, find the rows: compare (id, digest) pairs by id."""
    name = table.name
    # The buckets that differ are those of well-formed seals (a missing one is uncheckable).
    owners = {b: seal for b in buckets if (seal := layout.owners[b]) is not None}
    blobs = dict(
        AuditSeal.objects.filter(pk__in=[s.pk for s in owners.values()]).values_list(
            "pk", "row_digests"
        )
    )
    expected: dict[int | str, tuple[bytes, AuditSeal]] = {}
    actual: dict[int | str, tuple[bytes, AuditSeal]] = {}
    for bucket, seal in owners.items():
        entry = seal.tables.get(name)
        start, end = layout.interval(bucket)
        if entry:
            block = _table_block(seal, bytes(blobs.get(seal.pk) or b""), name)
            if block is None:
                findings.add(
                    DIGESTS_ALTERED,
                    "the rows differ from the seal, whose stored row digests were altered: "
                    "they cannot be named",
                    table=name,
                    seal=seal.sequence,
                )
                continue
            expected.update((i, (d, seal)) for i, d in table.records(block))
        columns = tuple(entry["columns"]) if entry else default
        actual.update((i, (d, seal)) for i, d in _row_records(table, columns, present, start, end))
    edited = sorted(i for i in expected.keys() & actual.keys() if expected[i][0] != actual[i][0])
    gone = expected.keys() - actual.keys()
    moved = _existing_ids(table, gone)
    after_seal = _updated_after_seal(table, edited, expected)
    reports = (
        (EDITED, edited, expected, "differs from seal #{}"),
        (EDITED, sorted(moved), expected, "its created_at was moved out of the range of seal #{}"),
        (DELETED, sorted(gone - moved), expected, "sealed by seal #{}"),
        (
            INSERTED,
            sorted(actual.keys() - expected.keys()),
            actual,
            "created before the end of seal #{}, which does not list it",
        ),
    )
    for kind, ids, source, template in reports:
        for row_id in ids:
            seal = source[row_id][1]
            detail = template.format(seal.sequence)
            if row_id in after_seal:
                detail += (
                    f"; updated_at {after_seal[row_id]} is after the seal: a forgery, or a"
                    " command that ran longer than the horizon under one context"
                )
            findings.add(kind, detail, table=name, row_id=row_id, seal=seal.sequence)


def _table_block(seal: AuditSeal, blob: bytes, name: str) -> bytes | None:
    """The seal's (id, digest) records of one table; None if they do not match its digest."""
    offset = 0
    for other in sorted(seal.tables):
        size = seal.tables[other]["count"] * Table(other).record_width
        if other == name:
            block = blob[offset : offset + size]
            if (
                len(block) == size
                and hashlib.sha256(block).hexdigest() == seal.tables[name]["digest"]
            ):
                return block
            return None
        offset += size
    return None


def _row_records(
    table: Table,
    columns: tuple[str, ...],
    present: frozenset[str],
    start: dt.datetime | None,
    end: dt.datetime,
) -> Iterator[tuple[int | str, bytes]]:
    bound = "start" if start else None
    sql = table.packed_sql(
        columns,
        table.range_sql(bound, "end"),
        present,
        source=table.source(bound, "end", archive=True),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "end": end})
        block = cursor.fetchone()[0]
    return table.records(bytes(block)) if block else iter(())


def _existing_ids(table: Table, ids: set[int | str]) -> set[int | str]:
    if not ids:
        return set()
    cast = "uuid[]" if table.is_context else "bigint[]"
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT r.{table.id_column} FROM "{table.name}" r'
            f" WHERE r.{table.id_column} = ANY(%(ids)s::{cast})"
            + (
                ""
                if table.is_context
                else f" UNION SELECT a.pgh_id FROM {ARCHIVE_TABLE} a"
                f" WHERE a.source_table = %(name)s AND a.pgh_id = ANY(%(ids)s::{cast})"
            ),
            {"ids": sorted(ids), "name": table.name},
        )
        return {str(i) if table.is_context else i for (i,) in cursor.fetchall()}


def _updated_after_seal(
    table: Table, ids: list[int | str], expected: dict[int | str, tuple[bytes, AuditSeal]]
) -> dict[int | str, str | None]:
    """Edited contexts whose updated_at is later than the end of the seal that covers them."""
    if not table.is_context or not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, updated_at FROM pghistory_context WHERE id = ANY(%s::uuid[])", [ids]
        )
        return {
            i: _iso(updated)
            for i, updated in cursor.fetchall()
            if updated >= expected[i][1].sealed_through
        }


def _check_unsealed(
    current: dict[str, tuple[str, ...]],
    present: dict[str, frozenset[str]],
    newest: dt.datetime | None,
    cutoff: dt.datetime,
    horizon: float,
    findings: Findings,
) -> None:
    """Rows older than twice the horizon that no seal covers: sealing stopped, or was undone."""
    if newest is not None and cutoff <= newest:
        return
    names = [name for name in current if name in present]
    start = "start" if newest is not None else None
    branches = []
    for name in names:
        table = Table(name)
        branches.append(
            f"SELECT '{name}', count(*) FROM \"{name}\" r WHERE {table.range_sql(start, 'end')}"
        )
    params = {"start": newest, "end": cutoff}
    with connection.cursor() as cursor:
        cursor.execute("\nUNION ALL\n".join(branches), params)
        counts = [(name, count) for name, count in cursor.fetchall() if count]
        for name, count in counts:
            table = Table(name)
            cursor.execute(
                f'SELECT r.{table.id_column}::text FROM "{name}" r'
                f" WHERE {table.range_sql(start, 'end')}"
                f" ORDER BY r.{table.created_column}, r.{table.id_column} LIMIT %(shown)s",
                {**params, "shown": FINDINGS_SHOWN_IDS},
            )
            ids = [i for (i,) in cursor.fetchall()]
            first = ids[0] if table.is_context else int(ids[0])
            findings.add(
                UNSEALED,
                f"{count} row(s) older than {2 * float(horizon):g}s are not sealed"
                f" (first ids: {', '.join(ids)})",
                table=name,
                row_id=first,
                count=count,
            )


# What the audit screens show ---------------------------------------------------------------


@dataclass(frozen=True)
class SealStatus:
    sealed_through: dt.datetime | None
    verified_at: dt.datetime | None
    verified_ok: bool | None
    problems: int | None

    def __str__(self) -> str:
        sealed = (
            f"sealed up to {_iso(self.sealed_through)}" if self.sealed_through else "never sealed"
        )
        if self.verified_at is None:
            return f"{sealed} · never verified"
        outcome = "OK" if self.verified_ok else f"{self.problems} problem(s)"
        return f"{sealed} · last verified at {_iso(self.verified_at)}: {outcome}"


def status() -> SealStatus:
    """How far the trail is sealed and how the last verification went (two small queries)."""
    sealed = AuditSeal.objects.order_by("-sequence").values_list("sealed_through", flat=True)
    last = (
        AuditVerification.objects.order_by("-created_at", "-id")
        .values("created_at", "ok", "problems")
        .first()
    )
    return SealStatus(
        sealed_through=sealed.first(),
        verified_at=last["created_at"] if last else None,
        verified_ok=last["ok"] if last else None,
        problems=last["problems"] if last else None,
    )
