"""Reading the trail: the feed, one entry, one record's history.

pghistory keeps one event table per tracked model. The feed reads them all at once with a
``UNION ALL`` in which every branch is already ordered and limited by the ``(pgh_created_at,
pgh_id)`` index, so the first page costs a handful of index probes whatever the table sizes.
Pages follow a keyset cursor, never ``OFFSET``, and nothing ever counts the events.

Rows are then hydrated in two queries whatever the page holds: the events with the snapshot
each update replaced (for old → new) and their contexts, then the names of related rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.backends.postgresql.base import ServerBindingCursor
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_duration, parse_time
from pghistory.models import Context

from audit import scope as scoping
from audit.context import COMMAND
from audit.tracking import DELETE, INSERT, UPDATE, event_models, secret_fields
from core import cursor as keyset

PGH_FIELDS = frozenset({"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_context"})
OPERATION_LABELS = {INSERT: "Created", UPDATE: "Changed", DELETE: "Deleted"}
EMPTY = "—"
# Filters on the context (actor, IP, reason...) walk the matching contexts in growing batches,
# at most this many batches of at most this many contexts.
CONTEXT_BATCHES = 6
CONTEXT_LIST_LIMIT = 20_000
SECRET_CHANGED = "changed"  # noqa: S105 - a label shown to reviewers, not a secret


@dataclass(frozen=True)
class FeedFilters:
    since: dt.date | None = None
    until: dt.date | None = None
    actor_id: int | None = None
    model: str = ""  # label_lower of the tracked model, e.g. "clients.client"
    operation: str = ""  # the row operation: insert, update or delete
    action: str = ""  # the business action, or an app's prefix ("billing." or "billing")
    object_id: int | None = None
    ip: str = ""
    channel: str = ""
    request_id: str = ""
    reason: str = ""
    reason_code: str = ""  # ``audit.reasons``: the entries given that code
    unattributed: bool = False
    context_id: uuid.UUID | None = None
    context_ids: tuple[uuid.UUID, ...] | None = None
    # A client and everything that belongs to it (``audit/scope.py``).
    client_id: int | None = None


@dataclass
class Change:
    name: str
    label: str
    old: Any  # the value, then its text for the page (``_resolve_related_names``)
    new: Any
    secret: bool = False


@dataclass
class FeedRow:
    model_label: str
    event: Any
    context: Context | None
    changes: list[Change] = field(default_factory=list)
    object_repr: str = ""
    object_url: str = ""

    @property
    def operation(self) -> str:
        """What happened to the row: insert, update or delete."""
        return self.event.pgh_label

    @property
    def operation_display(self) -> str:
        return OPERATION_LABELS.get(self.event.pgh_label, self.event.pgh_label)

    @property
    def action(self) -> str:
        """The business action of the service call that wrote it (``billing.refund_payment``)."""
        return self.metadata.get("action", "")

    @property
    def created_at(self) -> dt.datetime:
        return self.event.pgh_created_at

    @property
    def object_id(self) -> Any:
        return self.event.pgh_obj_id

    @property
    def model_verbose_name(self) -> str:
        return str(self.event.pgh_tracked_model._meta.verbose_name)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.context.metadata if self.context is not None else {}

    @property
    def unattributed(self) -> bool:
        return self.context is None

    @property
    def actor(self) -> str:
        return actor_display(self.metadata, attributed=self.context is not None)

    @property
    def channel(self) -> str:
        return self.metadata.get("channel", "") or ("" if self.context is None else "other")

    @property
    def reason(self) -> str:
        return self.metadata.get("reason", "")

    @property
    def summary(self) -> str:
        if self.operation == INSERT:
            return "Created"
        if self.operation == DELETE:
            return "Deleted"
        if not self.changes:
            return "No visible change"
        return ", ".join(c.label for c in self.changes) + " changed"

    @property
    def cursor(self) -> str:
        return encode_cursor(self.created_at, self.model_label, self.event.pgh_id)

    @property
    def event_key(self) -> str:
        """``<model>:<pgh_id>``, the event's name in a revert's ``reverts_event``."""
        return f"{self.model_label}:{self.event.pgh_id}"


@dataclass
class FeedPage:
    rows: list[FeedRow]
    next_cursor: str | None


def actor_display(metadata: dict[str, Any], *, attributed: bool = True) -> str:
    if not attributed:
        return "unattributed"
    if metadata.get("username"):
        return metadata["username"]
    if metadata.get("user"):
        return f"user #{metadata['user']}"
    if metadata.get("channel") == COMMAND:
        return f"{metadata.get('os_user', '?')} (manage.py {metadata.get('command', '')})".strip()
    return "anonymous"


def encode_cursor(created_at: dt.datetime, model_label: str, pgh_id: int) -> str:
    return keyset.encode(created_at, model_label, pgh_id)


def decode_cursor(raw: str) -> tuple[dt.datetime, str, int] | None:
    """The position after which the next page starts, or None for a malformed cursor."""
    return keyset.decode(raw)


def model_label(event_model: type[models.Model]) -> str:
    return event_model.pgh_tracked_model._meta.label_lower  # type: ignore[attr-defined]  # pghistory's


def tracked_fields(event_model: type[models.Model]) -> list[models.Field]:
    """The snapshot columns of an event model, in the tracked model's field order."""
    return [f for f in event_model._meta.concrete_fields if f.name not in PGH_FIELDS]


def _is_noise(event_model: type[models.Model], f: models.Field) -> bool:
    """The primary key and automatic timestamps: shown elsewhere, never a staff change."""
    tracked = event_model.pgh_tracked_model._meta  # type: ignore[attr-defined]  # pghistory's
    if f.name == tracked.pk.name:
        return True
    return bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))


class Feed:
    """Newest-first events across every event table, filtered."""

    def __init__(
        self,
        filters: FeedFilters,
        *,
        models: Sequence[type[models.Model]] | None = None,
        scope: Sequence[scoping.Branch] | None = None,
    ):
        """``scope``: the events of a record and everything under it, one condition per event
        table (``audit.scope.branches``); ``filters.client_id`` makes one for that client."""
        self.filters = filters
        if scope is None and filters.client_id is not None:
            scope = scoping.branches(apps.get_model("clients", "Client"), filters.client_id)
        self.scope: dict[str, scoping.Branch] | None = None
        if scope is not None:
            self.scope = {model_label(b.event_model): b for b in scope}
            all_models = [b.event_model for b in scope]
            if models is not None:
                all_models = [m for m in all_models if m in models]
        else:
            all_models = list(models if models is not None else event_models())
        if filters.model:
            all_models = [m for m in all_models if model_label(m) == filters.model]
        self.event_models = all_models
        self.by_label = {model_label(m): m for m in all_models}
        self.context_ids = None if filters.context_ids is None else _uuid_array(filters.context_ids)

    # Query ---------------------------------------------------------------------------------

    def _context_conditions(self) -> tuple[list[str], list[Any]]:
        f = self.filters
        conds: list[str] = []
        params: list[Any] = []
        if f.actor_id is not None:
            conds.append("c.metadata->>'user' = %s")
            params.append(str(f.actor_id))
        if f.ip:
            conds.append("c.metadata->>'ip' = %s")
            params.append(f.ip)
        if f.channel:
            conds.append("c.metadata->>'channel' = %s")
            params.append(f.channel)
        if f.request_id:
            conds.append("c.metadata->>'request_id' = %s")
            params.append(f.request_id)
        if f.reason_code:
            # Both, so the partial index on reason codes serves it.
            conds.append("c.metadata ? 'reason_code' AND c.metadata->>'reason_code' = %s")
            params.append(f.reason_code)
        if f.reason:
            conds.append("c.metadata->>'reason' ILIKE %s")
            params.append("%" + _like_escape(f.reason) + "%")
        if f.action:
            if f.action.endswith(".") or "." not in f.action:
                # An app's actions: "billing" or "billing." matches "billing.refund_payment".
                conds.append("c.metadata->>'action' LIKE %s")
                params.append(_like_escape(f.action.rstrip(".")) + ".%")
            else:
                conds.append("c.metadata->>'action' = %s")
                params.append(f.action)
        return conds, params

    def _branch(
        self,
        event_model: type[models.Model],
        after: tuple[dt.datetime, str, int] | None,
        limit: int,
        batch: str | None = None,  # a _uuid_array
        subquery: tuple[list[str], list[Any]] | None = None,
    ) -> tuple[str, list[Any]]:
        label = model_label(event_model)
        table = connection.ops.quote_name(event_model._meta.db_table)
        scoped = self.scope is not None
        # Conditions on time (the cursor, the dates): on the event row, or, in a record-wide
        # history, on the record's events once found (``b``, outside the fence below).
        conds, params, times, time_params = self._conditions(
            label, after, batch, subquery, on="b" if scoped else "e"
        )
        if scoped:
            # A record-wide history: the record's events in this table are found through the
            # keys' indexes (and the parents' events, one step up), then filtered by time and
            # sorted. Behind the fence (OFFSET 0) the planner cannot walk the time index of
            # the whole table instead, hoping to meet them soon (seconds, past the first page
            # of a client whose rows are old): every page costs what the first does.
            branch = self.scope[label]  # type: ignore[index]  # scoped: a scope is set
            where = "WHERE " + " AND ".join([*conds, branch.sql])
            outer = ("WHERE " + " AND ".join(times)) if times else ""
            return (
                "(SELECT model, pgh_id, pgh_created_at FROM (SELECT %s::text AS model, e.pgh_id,"
                f" e.pgh_created_at FROM {table} e {where} OFFSET 0) AS b {outer} "
                "ORDER BY pgh_created_at DESC, pgh_id DESC LIMIT %s)"
            ), [label, *params, *branch.params, *time_params, limit]
        conds = [*times, *conds]
        params = [label, *time_params, *params, limit]
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        if batch is not None:
            # OFFSET 0 keeps the planner from walking the (created_at, id) index instead: it
            # guesses a batch's events are spread evenly through the table, so that the newest
            # ones come soon, and walks past every other person's events (100k rows for 51 at
            # the benchmark's scale). A batch's events are few; fetched and sorted, they cost
            # the same wherever in time they sit.
            return (
                "(SELECT model, pgh_id, pgh_created_at FROM (SELECT %s::text AS model, e.pgh_id,"
                f" e.pgh_created_at FROM {table} e {where} OFFSET 0) AS b "
                "ORDER BY pgh_created_at DESC, pgh_id DESC LIMIT %s)"
            ), params
        sql = (
            f"(SELECT %s::text AS model, e.pgh_id, e.pgh_created_at FROM {table} e {where} "
            "ORDER BY e.pgh_created_at DESC, e.pgh_id DESC LIMIT %s)"
        )
        return sql, params

    def _conditions(
        self,
        label: str | None,  # None: the archive, which holds every model
        after: tuple[dt.datetime, str, int] | None,
        batch: str | None,
        subquery: tuple[list[str], list[Any]] | None,
        *,
        on: str = "e",
    ) -> tuple[list[str], list[Any], list[str], list[Any]]:
        """The WHERE of one branch, on an event table (or the archive) as ``e``: the row
        conditions and, apart, the conditions on time (the cursor, the dates) on ``on``."""
        f = self.filters
        times: list[str] = []
        time_params: list[Any] = []
        if after is not None and label is None:
            times.append(f"({on}.pgh_created_at, {on}.model, {on}.pgh_id) < (%s, %s, %s)")
            time_params.extend(after)
        elif after is not None and label is not None:
            created_at, _after_label, after_id = after
            # Rows are ordered by (created_at, model label, pgh_id), all descending.
            how = keyset.bound(label, after)
            if how == "pair":
                times.append(f"({on}.pgh_created_at, {on}.pgh_id) < (%s, %s)")
                time_params.extend([created_at, after_id])
            else:
                times.append(f"{on}.pgh_created_at {how} %s")
                time_params.append(created_at)
        if f.since:
            times.append(f"{on}.pgh_created_at >= %s")
            time_params.append(_start_of(f.since))
        if f.until:
            times.append(f"{on}.pgh_created_at < %s")
            time_params.append(_start_of(f.until + dt.timedelta(days=1)))
        conds: list[str] = []
        params: list[Any] = []
        if f.operation:
            conds.append("e.pgh_label = %s")
            params.append(f.operation)
        if f.object_id is not None:
            conds.append("e.pgh_obj_id = %s")
            params.append(f.object_id)
        if f.context_id is not None:
            conds.append("e.pgh_context_id = %s")
            params.append(f.context_id)
        if f.context_ids is not None:
            conds.append("e.pgh_context_id = ANY(%s::uuid[])")
            params.append(self.context_ids)
        if f.unattributed:
            conds.append("e.pgh_context_id IS NULL")
        if batch is not None:
            # The events of one batch of matching contexts, straight from the pgh_context_id
            # index. (Left to IN (subquery), the planner walks the newest events hoping to meet
            # a match soon, and reads the whole table when there is none.)
            conds.append("e.pgh_context_id = ANY(%s::uuid[])")
            params.append(batch)
        if subquery is not None:
            conds.append(
                "e.pgh_context_id IN (SELECT c.id FROM pghistory_context c WHERE "
                + " AND ".join(subquery[0])
                + ")"
            )
            params.extend(subquery[1])
        return conds, params, times, time_params

    def _union(
        self,
        after: tuple[dt.datetime, str, int] | None,
        limit: int,
        batch: str | None = None,  # a _uuid_array
        subquery: tuple[list[str], list[Any]] | None = None,
    ) -> list[tuple[str, int, dt.datetime]]:
        branches, params = [], []
        for event_model in self.event_models:
            sql, branch_params = self._branch(event_model, after, limit, batch, subquery)
            branches.append(sql)
            params.extend(branch_params)
        sql = (
            "SELECT model, pgh_id, pgh_created_at FROM (" + " UNION ALL ".join(branches) + ") AS u "
            "ORDER BY pgh_created_at DESC, model DESC, pgh_id DESC LIMIT %s"
        )
        params.append(limit)
        sql, named = _named(sql, params, shared=(batch, self.context_ids))
        with _bound_cursor() as cur:
            cur.execute(sql, named)
            found = list(cur.fetchall())
        if len(found) == limit and found[-1][2] >= self._archived_through():
            return found  # the page ends among live events, newer than anything archived
        archived = self._archived(after, limit, batch, subquery)
        if not archived:
            return found
        return sorted([*found, *archived], key=lambda r: (r[2], r[0], r[1]), reverse=True)[:limit]

    # The archive (audit/archive.py): read only when a page reaches past the live tables.
    _months: list[tuple[dt.datetime, dt.datetime]] | None = None

    def _archive_months(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The archived months as (start, end), newest first (one small query per feed)."""
        if self._months is None:
            from audit.archive import archived_months

            self._months = archived_months()
        return self._months

    def _archived_through(self) -> dt.datetime:
        months = self._archive_months()
        return months[0][1] if months else dt.datetime.min.replace(tzinfo=dt.UTC)

    def _archived(
        self,
        after: tuple[dt.datetime, str, int] | None,
        limit: int,
        batch: str | None,
        subquery: tuple[list[str], list[Any]] | None,
    ) -> list[tuple[str, int, dt.datetime]]:
        """The archive's part of a page, on the same conditions as a live table's (its columns
        carry the same names), read a month (partition) at a time, then 2, 4, 8... months
        back until the page is full: each query plans only the partitions it reads."""
        from audit.archive import ARCHIVE_TABLE

        if self.scope is not None:
            return []  # a record-wide history reads the live tables only (README)
        months = [m for m in self._archive_months() if after is None or m[0] <= after[0]]
        row_conds, row_params, conds, params = self._conditions(None, after, batch, subquery)
        conds, params = [*conds, *row_conds], [*params, *row_params]
        if len(self.by_label) < len(event_models()):
            conds.append("e.model = ANY(%s)")
            params.append(list(self.by_label))
        conds.append("e.pgh_created_at >= %s AND e.pgh_created_at < %s")
        sql = (
            f"SELECT e.model, e.pgh_id, e.pgh_created_at FROM {ARCHIVE_TABLE} e "
            f"WHERE {' AND '.join(conds)} "
            "ORDER BY e.pgh_created_at DESC, e.model DESC, e.pgh_id DESC LIMIT %s"
        )
        found: list[tuple[str, int, dt.datetime]] = []
        done, size = 0, 1
        while done < len(months) and len(found) < limit:
            chunk = months[done : done + size]
            named_sql, named = _named(
                sql,
                [*params, chunk[-1][0], chunk[0][1], limit - len(found)],
                shared=(batch, self.context_ids),
            )
            with _bound_cursor() as cur:
                cur.execute(named_sql, named)
                found.extend(cur.fetchall())  # older than everything found before
            done, size = done + size, size * 2
        return found

    def _locate_by_contexts(
        self, after: tuple[dt.datetime, str, int] | None, limit: int
    ) -> list[tuple[str, int]]:
        """Filters on who/where/why: walk the matching contexts newest first, in batches.

        A context row and its events are written by the same transaction, so they share
        ``created_at`` (``NOW()``): the events of older contexts are older than every event of
        the batch in hand. The first batch usually fills the page (one service call writes at
        least one row); a sparse combination (an actor and a rare record type) takes a few
        growing batches. The cost follows the page, not the actor's history.
        """
        conds, params = self._context_conditions()
        if after is not None:
            conds.append("c.created_at <= %s")
            params.append(after[0])
        found: list[tuple[str, int, dt.datetime]] = []
        before: dt.datetime | None = None
        size = limit
        for _ in range(CONTEXT_BATCHES):
            contexts = self._context_batch(conds, params, before, size)
            if not contexts:
                break
            found.extend(self._union(after, limit, _uuid_array([c[0] for c in contexts])))
            if len(found) >= limit or len(contexts) < size:
                break
            before = min(c[1] for c in contexts)
            size = min(size * 4, CONTEXT_LIST_LIMIT)
        else:
            if len(found) < limit and before is not None:
                # Very sparse (an actor and a rare record type): the rest in one go, every
                # older matching context as a subquery. Slower, never short.
                rest_conds = [*conds, "c.created_at < %s"]
                found.extend(self._union(after, limit, subquery=(rest_conds, [*params, before])))
        found.sort(key=lambda r: (r[2], r[0], r[1]), reverse=True)
        return [(label, pgh_id) for label, pgh_id, _ in found[:limit]]

    def _context_batch(
        self, conds: list[str], params: list[Any], before: dt.datetime | None, size: int
    ) -> list[tuple[uuid.UUID, dt.datetime]]:
        """The newest ``size`` matching contexts older than ``before``, ties included.

        Contexts written by one transaction share ``created_at`` (a bulk action writes one per
        row): a batch never splits them, so the next batch is strictly older.
        """
        conds, params = list(conds), list(params)
        if before is not None:
            conds.append("c.created_at < %s")
            params.append(before)
        where = " AND ".join(conds)
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT c.id, c.created_at FROM pghistory_context c WHERE {where} "
                "ORDER BY c.created_at DESC, c.id DESC LIMIT %s",
                [*params, size],
            )
            contexts = cur.fetchall()
            if len(contexts) < size:
                return contexts
            last = contexts[-1][1]
            cur.execute(
                f"SELECT c.id, c.created_at FROM pghistory_context c WHERE {where} "
                "AND c.created_at = %s LIMIT %s",
                [*params, last, CONTEXT_LIST_LIMIT],
            )
            return [c for c in contexts if c[1] > last] + cur.fetchall()

    def _locate(self, cursor: str | None, limit: int) -> list[tuple[str, int]]:
        if not self.event_models:
            return []
        after = decode_cursor(cursor) if cursor else None
        conds, params = self._context_conditions()
        if conds and self.scope is not None:
            # A record-wide history is a few thousand events at most, found by their keys:
            # checking each one's context beats walking an actor's whole history of contexts.
            found = self._union(after, limit, subquery=(conds, params))
            return [(label, pgh_id) for label, pgh_id, _ in found]
        if conds:
            return self._locate_by_contexts(after, limit)
        return [(label, pgh_id) for label, pgh_id, _ in self._union(after, limit)]

    # Pages ---------------------------------------------------------------------------------

    def page(
        self, *, cursor: str | None = None, per_page: int = 50, with_values: bool = True
    ) -> FeedPage:
        """A page of rows; ``with_values=False`` for a list that says what changed, not to
        what (see ``hydrate``)."""
        located = self._locate(cursor, per_page + 1)
        has_more = len(located) > per_page
        rows = hydrate(
            located[:per_page],
            self.by_label,
            with_values=with_values,
            archived=bool(self._archive_months()) if located else False,
        )
        return FeedPage(rows=rows, next_cursor=rows[-1].cursor if has_more and rows else None)

    def iterate(self, *, batch: int = 500) -> Iterator[FeedRow]:
        """Every matching row, newest first, a page at a time (for exports)."""
        cursor = None
        while True:
            page = self.page(cursor=cursor, per_page=batch)
            yield from page.rows
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _named(sql: str, params: Sequence[Any], *, shared: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``%s`` placeholders as named ones, each of the ``shared`` values (by identity) under one
    name however often the SQL uses it."""
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1:
        raise ValueError("the SQL and its parameters do not match")
    names: dict[str, Any] = {}
    out = [pieces[0]]
    for i, (value, piece) in enumerate(zip(params, pieces[1:], strict=True)):
        shared_as = next(
            (f"s{j}" for j, v in enumerate(shared) if v is not None and v is value), None
        )
        name = shared_as or f"p{i}"
        names[name] = value
        out.append(f"%({name})s{piece}")
    return "".join(out), names


@contextmanager
def _bound_cursor() -> Iterator[Any]:
    """A cursor that sends the parameters apart from the SQL (server-side binding).

    A union names the same batch of context ids in each of its 50 branches: written into the
    SQL, that is 100 KB for PostgreSQL to parse on every page. Bound, it travels once as $1,
    and an unnamed statement is still planned with the actual values.
    """
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]  # psycopg's class
    cursor = (
        connection.make_debug_cursor(raw)  # type: ignore[arg-type]  # a DB-API cursor
        if connection.queries_logged
        else connection.make_cursor(raw)  # type: ignore[arg-type]  # a DB-API cursor
    )
    try:
        yield cursor
    finally:
        cursor.close()


def _uuid_array(ids: Sequence[uuid.UUID]) -> str:
    """The ids as one ``uuid[]`` literal, written once for all the branches of a union (a list
    parameter is dumped afresh in every branch: 2,500 UUIDs, 50 times over)."""
    return "{" + ",".join(str(u) for u in ids) + "}"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# Hydration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """How one model's rows read back from ``to_jsonb`` and how its events are compared."""

    model: type[models.Model]
    table: str
    columns: tuple[tuple[str, str, Callable[[Any], Any]], ...]  # (column, attname, convert)
    # Event models: (field name, column, label, secret, convert) of what a reviewer reads.
    compared: tuple[tuple[str, str, str, bool, Callable[[Any], Any]], ...] = ()
    # Event models: the tracked model's attnames this snapshot has, and whether it has all.
    tracked_attnames: tuple[str, ...] = ()
    complete: bool = False
    # Keys to a content type, as (name, attname): ``str()`` of a permission reads one.
    content_types: tuple[tuple[str, str], ...] = ()

    def instance(self, values: dict[str, Any]) -> models.Model:
        """The row as a model instance, as the ORM would have loaded it."""
        return self.model.from_db(
            connection.alias,
            [attname for _, attname, _ in self.columns],
            [convert(values[column]) for column, _, convert in self.columns],
        )


_SHAPES: dict[type[models.Model], _Shape] = {}


def _shape(model: type[models.Model]) -> _Shape:
    # Built once per model: fields, labels and converters live as long as the process.
    shape = _SHAPES.get(model)
    if shape is not None:
        return shape
    columns = tuple((f.column, f.attname, _converter(f)) for f in model._meta.concrete_fields)
    extra: dict[str, Any] = {}
    tracked = getattr(model, "pgh_tracked_model", None)
    if tracked is not None:
        secrets: Collection[str] = getattr(model, "audit_secret_fields", frozenset())
        extra["compared"] = tuple(
            (f.name, f.column, _label(model, f), f.name in secrets, _converter(f))
            for f in tracked_fields(model)
            if not _is_noise(model, f)
        )
        own = {f.attname for f in tracked_fields(model)}
        tracked_attnames = [f.attname for f in tracked._meta.concrete_fields]
        extra["tracked_attnames"] = tuple(a for a in tracked_attnames if a in own)
        extra["complete"] = len(extra["tracked_attnames"]) == len(tracked_attnames)
    content_types = tuple(
        (f.name, f.attname)
        for f in model._meta.concrete_fields
        if f.many_to_one and f.related_model is ContentType
    )
    shape = _SHAPES[model] = _Shape(
        model=model,
        table=connection.ops.quote_name(model._meta.db_table),
        columns=columns,  # type: ignore[arg-type]  # concrete fields: each has its column
        content_types=content_types,
        **extra,
    )
    return shape


def _converter(f: models.Field) -> Callable[[Any], Any]:
    """From a value of ``to_jsonb(row)`` (numbers read as Decimal) to the ORM's Python value."""
    if f.is_relation:
        return _converter(f.target_field)  # type: ignore[attr-defined]  # a relation's
    if isinstance(f, ArrayField):
        item = _converter(f.base_field)
        return lambda v: None if v is None else [item(x) for x in v]
    kind = f.get_internal_type()
    if kind == "DateTimeField":
        return lambda v: None if v is None else parse_datetime(v)
    if kind == "DateField":
        return lambda v: None if v is None else parse_date(v)
    if kind == "TimeField":
        return lambda v: None if v is None else parse_time(v)
    if kind == "DurationField":
        return lambda v: None if v is None else parse_duration(v)
    if kind == "DecimalField":
        return lambda v: None if v is None else Decimal(v)
    if kind == "FloatField":
        return lambda v: None if v is None else float(v)
    if kind == "UUIDField":
        return lambda v: None if v is None else uuid.UUID(v)
    if kind == "BinaryField":
        return lambda v: None if v is None else bytes.fromhex(v[2:])  # "\\x…"
    if kind == "JSONField":
        return _json_floats
    # Text, numbers, booleans, IP addresses, file names: JSON holds them as the ORM does.
    return lambda v: v


def _json_floats(value: Any) -> Any:
    """A JSON column's value as ``json.loads`` gives it: floats, not the Decimals read here."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_json_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_floats(v) for k, v in value.items()}
    return value


def _loads(text: str | None) -> dict[str, Any] | None:
    # Decimal keeps a money column's digits ("12.50"); json would read a float.
    return None if text is None else json.loads(text, parse_float=Decimal)


def hydrate(
    located: Sequence[tuple[str, int]],
    by_label: dict[str, type[models.Model]],
    *,
    with_values: bool = True,
    archived: bool | None = None,  # whether anything is archived (None: look it up)
) -> list[FeedRow]:
    """The rows of a page, in one query whatever the page holds: each event as a whole row,
    the snapshot each update replaced (for old → new) and the context, as JSON. The names of
    related rows take a second query.

    With ``with_values=False`` each change carries its field and label only (old and new are
    None): enough for a summary, and no related rows to look up.
    """
    ids_by_label: dict[str, list[int]] = defaultdict(list)
    for label, pgh_id in located:
        ids_by_label[label].append(pgh_id)
    if not ids_by_label:
        return []
    branches: list[str] = []
    params: list[Any] = []
    for label, ids in ids_by_label.items():
        table = _shape(by_label[label]).table
        branches.append(
            f"(SELECT %s::text AS model, e.pgh_id, e.pgh_context_id, to_jsonb(e)::text AS row, "
            # The snapshot an update replaced: found by id first, so that only that one
            # row is turned into JSON.
            f"CASE WHEN e.pgh_label = %s THEN (SELECT to_jsonb(p)::text FROM {table} p "
            f"WHERE p.pgh_id = (SELECT max(q.pgh_id) FROM {table} q "
            "WHERE q.pgh_obj_id = e.pgh_obj_id AND q.pgh_id < e.pgh_id)) END AS prior "
            f"FROM {table} e WHERE e.pgh_id = ANY(%s::bigint[]))"
        )
        params.extend([label, UPDATE, ids])
    sql = (
        "SELECT u.model, u.pgh_id, u.row, u.prior, c.id, c.created_at, c.updated_at, "
        "c.metadata::text FROM (" + " UNION ALL ".join(branches) + ") AS u "
        "LEFT JOIN pghistory_context c ON c.id = u.pgh_context_id"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        fetched = {(r[0], r[1]): r for r in cur.fetchall()}
    if archived is None:
        from audit.archive import archived_through

        archived = archived_through() is not None
    if archived:
        _hydrate_archived(located, by_label, fetched)

    rows: list[FeedRow] = []
    for label, pgh_id in located:
        found = fetched.get((label, pgh_id))
        if found is None:
            continue
        _, _, row_json, prior_json, context_id, created, updated, metadata = found
        shape = _shape(by_label[label])
        values = _loads(row_json)
        event = shape.instance(values)  # type: ignore[arg-type]  # a row is never null
        context = None
        if context_id is not None:
            context = Context.from_db(
                connection.alias,
                ["id", "created_at", "updated_at", "metadata"],
                [context_id, created, updated, json.loads(metadata)],
            )
        row = FeedRow(model_label=label, event=event, context=context)
        label_of = event.pgh_label  # type: ignore[attr-defined]  # an event: it has its label
        row.changes = _changes(shape, label_of, values, _loads(prior_json), with_values)  # type: ignore[arg-type]  # a row: not null
        row.object_repr, row.object_url = _describe_object(shape, event)
        rows.append(row)
    _resolve_related_names(rows, with_values=with_values)
    return rows


def _hydrate_archived(
    located: Sequence[tuple[str, int]],
    by_label: dict[str, type[models.Model]],
    fetched: dict[tuple[str, int], Any],
) -> None:
    """Rows moved to the archive (``audit/archive.py``), and the snapshot an update replaced
    when that one was archived: looked up only for what the live tables did not have (a page
    of live events with every snapshot at hand costs nothing more)."""
    from audit.archive import ARCHIVE_TABLE

    missing = [key for key in located if key not in fetched]
    priors = [
        key
        for key, row in fetched.items()
        if row[3] is None and json.loads(row[2]).get("pgh_label") == UPDATE
    ]
    if not (missing or priors):
        return
    tables = {label: by_label[label]._meta.db_table for label, _ in [*missing, *priors]}
    # The newest archived event of the same row before this one (index on source_table,
    # pgh_obj_id, pgh_id).
    prior_sql = (
        f"(SELECT p.data::text FROM {ARCHIVE_TABLE} p WHERE p.source_table = {{t}}"
        " AND p.pgh_obj_id = {obj} AND p.pgh_id < {id} ORDER BY p.pgh_id DESC LIMIT 1)"
    )
    with connection.cursor() as cur:
        if missing:
            prior = prior_sql.format(t="a.source_table", obj="a.pgh_obj_id", id="a.pgh_id")
            cur.execute(
                f"SELECT a.model, a.pgh_id, a.data::text, CASE WHEN a.pgh_label = %s"
                f" THEN {prior} END, c.id, c.created_at, c.updated_at, c.metadata::text"
                f" FROM {ARCHIVE_TABLE} a JOIN unnest(%s::text[], %s::bigint[]) AS k(t, id)"
                " ON a.source_table = k.t AND a.pgh_id = k.id"
                " LEFT JOIN pghistory_context c ON c.id = a.pgh_context_id",
                [UPDATE, [tables[label] for label, _ in missing], [i for _, i in missing]],
            )
            for row in cur.fetchall():
                fetched[(row[0], row[1])] = row
        if priors:
            prior = prior_sql.format(
                t="k.t", obj="(k.row::jsonb->>'pgh_obj_id')::bigint", id="k.id"
            )
            cur.execute(
                f"SELECT k.label, k.id, {prior} FROM unnest(%s::text[], %s::text[],"
                " %s::bigint[], %s::text[]) AS k(label, t, id, row)",
                [
                    [label for label, _ in priors],
                    [tables[label] for label, _ in priors],
                    [i for _, i in priors],
                    [fetched[key][2] for key in priors],
                ],
            )
            for label, pgh_id, prior in cur.fetchall():
                if prior is not None:
                    row = fetched[(label, pgh_id)]
                    fetched[(label, pgh_id)] = (*row[:3], prior, *row[4:])


def _changes(
    shape: _Shape,
    operation: str,
    values: dict[str, Any],
    before: dict[str, Any] | None,
    with_values: bool,
) -> list[Change]:
    changes = []
    for name, column, label, secret, convert in shape.compared:
        new = values[column]
        if operation == INSERT:
            old = None
            if new in (None, "") or (new is False and name != "status"):
                continue
        elif operation == DELETE:
            old, new = new, None
            if old in (None, ""):
                continue
        elif before is None:
            old = None
        else:
            # Both sides come from to_jsonb in one statement: equal values are equal JSON.
            old = before[column]
            if old == new:
                continue
        old, new = (convert(old), convert(new)) if with_values else (None, None)
        changes.append(Change(name=name, label=label, old=old, new=new, secret=secret))
    return changes


def _label(event_model: type[models.Model], f: models.Field) -> str:
    try:
        tracked = event_model.pgh_tracked_model._meta.get_field(f.name)  # type: ignore[attr-defined]  # pghistory's
    except Exception:
        return f.name.replace("_", " ").capitalize()
    return str(tracked.verbose_name).capitalize()


def _tracked_field(event: Any, name: str) -> models.Field | None:
    try:
        return event.pgh_tracked_model._meta.get_field(name)
    except Exception:
        return None


def _snapshot_instance(shape: _Shape, event: Any) -> models.Model | None:
    """The tracked row as the event's snapshot had it (unsaved: no queries)."""
    model = event.pgh_tracked_model
    values = [getattr(event, attname) for attname in shape.tracked_attnames]
    try:
        if shape.complete:
            return model(*values)
        # A snapshot without some columns: the others take their defaults.
        return model(**dict(zip(shape.tracked_attnames, values, strict=True)))
    except Exception:
        return None


def _describe_object(shape: _Shape, event: Any) -> tuple[str, str]:
    model = event.pgh_tracked_model
    instance = _snapshot_instance(shape, event)
    try:
        name = _str(instance) if instance is not None else ""
    except Exception:
        instance, name = None, ""
    if not name:
        name = f"{model._meta.verbose_name} #{event.pgh_obj_id}"
    url = ""
    if event.pgh_label != DELETE and instance is not None:
        url = _object_url(instance)
    return name, url


def _str(instance: models.Model) -> str:
    """``str()`` of a row, its content type (a permission's name reads it) from Django's
    cache rather than a query per row."""
    for name, attname in _shape(type(instance)).content_types:
        content_type_id = getattr(instance, attname)
        if content_type_id is not None:
            setattr(instance, name, ContentType.objects.get_for_id(content_type_id))
    return str(instance)


def _object_url(instance: models.Model) -> str:
    if hasattr(instance, "get_absolute_url"):
        try:
            return instance.get_absolute_url()
        except NoReverseMatch:
            return ""
    concrete = instance._meta.concrete_model
    try:
        url_name = admin_urlname(concrete._meta, "change")  # type: ignore[union-attr,arg-type]  # a concrete model; a plain name
        return reverse(url_name, args=[instance.pk])
    except NoReverseMatch:
        return ""


_RELATED: dict[type[models.Model], dict[str, models.Field | None]] = {}


def _tracked_fields_by_name(event_model: type[models.Model]) -> dict[str, models.Field | None]:
    fields = _RELATED.get(event_model)
    if fields is None:
        fields = _RELATED[event_model] = {
            f.name: _tracked_field(event_model, f.name) for f in tracked_fields(event_model)
        }
    return fields


def _naming_keys(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The keys a model's ``audit_name`` reads (its ``audit_name_related``): the trail loads
    those rows for a whole page at once, so that an add-on reads "Daily backups on
    example.com", not "Add-on #1 (catalog #1)"."""
    return tuple(model._meta.get_field(n) for n in getattr(model, "audit_name_related", ()))  # type: ignore[misc]  # concrete keys


def _resolve_related_names(rows: list[FeedRow], *, with_values: bool = True) -> None:
    """Turn raw values into what a reviewer reads: names for keys, labels for choices; name
    each row by its display name where its model has one; drop changes that read the same
    before and after (a time saved again without its microseconds). One query for the page."""
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    naming: list[tuple[FeedRow, models.Model, tuple[models.Field, ...]]] = []
    for row in rows:
        tracked_model = row.event.pgh_tracked_model
        keys = _naming_keys(tracked_model)
        if keys and hasattr(tracked_model, "audit_name"):
            instance = _snapshot_instance(_shape(type(row.event)), row.event)
            if instance is not None:
                naming.append((row, instance, keys))
                for key in keys:
                    value = getattr(instance, key.attname)
                    if value is not None:
                        wanted[key.related_model].add(value)  # type: ignore[index]  # a relation's model
        if not with_values:
            continue
        fields = _tracked_fields_by_name(type(row.event))
        for change in row.changes:
            f = fields.get(change.name)
            if f is not None and f.is_relation and f.many_to_one and not change.secret:
                for value in (change.old, change.new):
                    if value is not None:
                        wanted[f.related_model].add(value)  # type: ignore[index]  # a relation's model
    found = _related_rows(wanted)
    names = {m: {pk: _str(obj) for pk, obj in objs.items()} for m, objs in found.items()}
    for row, instance, keys in naming:
        related = {
            key.name: found.get(key.related_model, {}).get(getattr(instance, key.attname))  # type: ignore[arg-type]  # a relation's model
            for key in keys
        }
        # A name is a courtesy: on any failure the id-based one stays.
        with contextlib.suppress(Exception):
            row.object_repr = instance.audit_name(related) or row.object_repr  # type: ignore[attr-defined]  # checked above
    if not with_values:
        return
    for row in rows:
        fields = _tracked_fields_by_name(type(row.event))
        secrets = secret_fields(row.event.pgh_tracked_model) | getattr(
            type(row.event), "audit_secret_fields", frozenset()
        )
        kept = []
        for change in row.changes:
            f = fields.get(change.name)
            if change.secret or change.name in secrets:
                change.secret = True
                change.old, change.new = _mask(change.old), _mask(change.new)
                if row.operation == UPDATE and change.old == change.new == "set":
                    change.old, change.new = "set", SECRET_CHANGED
                kept.append(change)
                continue
            change.old = display_value(f, change.old, names)
            change.new = display_value(f, change.new, names)
            if row.operation == UPDATE and change.old == change.new:
                continue  # noise: different in the database, the same to anyone reading it
            kept.append(change)
        row.changes = kept


def _related_names(
    wanted: dict[type[models.Model], set[Any]],
) -> dict[type[models.Model], dict[Any, str]]:
    """``str()`` of each wanted row, by model and primary key: one query for every model."""
    found = _related_rows(wanted)
    return {m: {pk: _str(obj) for pk, obj in found.get(m, {}).items()} for m in wanted}


def _related_rows(
    wanted: dict[type[models.Model], set[Any]],
) -> dict[type[models.Model], dict[Any, models.Model]]:
    """Each wanted row as an instance, by model and primary key: one query for every model."""
    rows: dict[type[models.Model], dict[Any, models.Model]] = {m: {} for m in wanted}
    wanted = {m: ids for m, ids in wanted.items() if ids}
    if not wanted:
        return rows
    by_label = {m._meta.label_lower: m for m in wanted}
    branches: list[str] = []
    params: list[Any] = []
    for label, related_model in by_label.items():
        pk = related_model._meta.pk
        branches.append(
            f"(SELECT %s::text, to_jsonb(r)::text FROM {_shape(related_model).table} r "
            f"WHERE r.{connection.ops.quote_name(pk.column)} = "  # type: ignore[arg-type]  # a column
            f"ANY(%s::{pk.db_type(connection)}[]))"
        )
        params.extend([label, list(wanted[related_model])])
    with connection.cursor() as cur:
        # A bare SELECT: pghistory prefixes anything else with the context (a write).
        cur.execute("SELECT * FROM (" + " UNION ALL ".join(branches) + ") AS r", params)
        found = cur.fetchall()
    for label, row_json in found:
        related_model = by_label[label]
        obj = _shape(related_model).instance(_loads(row_json))  # type: ignore[arg-type]  # never null
        rows[related_model][obj.pk] = obj
    return rows


def _mask(value: Any) -> str:
    return EMPTY if value in (None, "") else "set"


_CHOICE_LABELS: dict[models.Field, dict[Any, str]] = {}


def _choice_labels(f: models.Field) -> dict[Any, str]:
    # Computing flatchoices is costly (250 countries); model fields live as long as the process.
    labels = _CHOICE_LABELS.get(f)
    if labels is None:
        labels = _CHOICE_LABELS[f] = {k: str(v) for k, v in f.flatchoices}
    return labels


def display_value(f: models.Field | None, value: Any, names: dict | None = None) -> str:
    if value is None or value == "":
        return EMPTY
    if f is not None:
        if f.is_relation and f.many_to_one:
            related = (names or {}).get(f.related_model, {})
            return related.get(value, f"#{value} (deleted)")
        if f.choices:
            return str(_choice_labels(f).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "DATE_FORMAT")
    return str(value)
