"""Reading the trail: the feed, one entry, one record's history.

pghistory keeps one event table per tracked model. The feed reads them all at once with a
``UNION ALL`` in which every branch is already ordered and limited by the ``(pgh_created_at,
pgh_id)`` index, so the first page costs a handful of index probes whatever the table sizes.
Pages follow a keyset cursor, never ``OFFSET``, and nothing ever counts the events.

Rows are then hydrated in a constant number of queries per event model on the page: the events,
the snapshot each update replaced (for old → new), the contexts, and the names of related rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.db import connection, models
from django.db.models import OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from pghistory.models import Context

from audit.context import COMMAND
from audit.tracking import DELETE, INSERT, UPDATE, event_models, secret_fields

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
    unattributed: bool = False
    context_id: uuid.UUID | None = None
    context_ids: tuple[uuid.UUID, ...] | None = None


@dataclass
class Change:
    name: str
    label: str
    old: str
    new: str
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
    raw = f"{created_at.isoformat()}|{model_label}|{pgh_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str, int] | None:
    """The position after which the next page starts, or None for a malformed cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, label, pgh_id = base64.urlsafe_b64decode(padded).decode().split("|")
        created_at = dt.datetime.fromisoformat(created)
        if timezone.is_naive(created_at):
            return None
        return created_at, label, int(pgh_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def model_label(event_model: type[models.Model]) -> str:
    return event_model.pgh_tracked_model._meta.label_lower


def tracked_fields(event_model: type[models.Model]) -> list[models.Field]:
    """The snapshot columns of an event model, in the tracked model's field order."""
    return [f for f in event_model._meta.concrete_fields if f.name not in PGH_FIELDS]


def _is_noise(event_model: type[models.Model], f: models.Field) -> bool:
    """The primary key and automatic timestamps: shown elsewhere, never a staff change."""
    tracked = event_model.pgh_tracked_model._meta
    if f.name == tracked.pk.name:
        return True
    return bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))


class Feed:
    """Newest-first events across every event table, filtered."""

    def __init__(self, filters: FeedFilters, *, models: Sequence[type[models.Model]] | None = None):
        self.filters = filters
        all_models = list(models if models is not None else event_models())
        if filters.model:
            all_models = [m for m in all_models if model_label(m) == filters.model]
        self.event_models = all_models
        self.by_label = {model_label(m): m for m in all_models}

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
        batch: list[uuid.UUID] | None = None,
        subquery: tuple[list[str], list[Any]] | None = None,
    ) -> tuple[str, list[Any]]:
        f = self.filters
        label = model_label(event_model)
        table = connection.ops.quote_name(event_model._meta.db_table)
        conds: list[str] = []
        params: list[Any] = [label]
        if after is not None:
            created_at, after_label, after_id = after
            # Rows are ordered by (created_at, model label, pgh_id), all descending.
            if label < after_label:
                conds.append("e.pgh_created_at <= %s")
                params.append(created_at)
            elif label == after_label:
                conds.append("(e.pgh_created_at, e.pgh_id) < (%s, %s)")
                params.extend([created_at, after_id])
            else:
                conds.append("e.pgh_created_at < %s")
                params.append(created_at)
        if f.since:
            conds.append("e.pgh_created_at >= %s")
            params.append(_start_of(f.since))
        if f.until:
            conds.append("e.pgh_created_at < %s")
            params.append(_start_of(f.until + dt.timedelta(days=1)))
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
            params.append(list(f.context_ids))
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
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        params.append(limit)
        sql = (
            f"(SELECT %s::text AS model, e.pgh_id, e.pgh_created_at FROM {table} e {where} "
            "ORDER BY e.pgh_created_at DESC, e.pgh_id DESC LIMIT %s)"
        )
        return sql, params

    def _union(
        self,
        after: tuple[dt.datetime, str, int] | None,
        limit: int,
        batch: list[uuid.UUID] | None = None,
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
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

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
            found.extend(self._union(after, limit, [c[0] for c in contexts]))
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
        if self._context_conditions()[0]:
            return self._locate_by_contexts(after, limit)
        return [(label, pgh_id) for label, pgh_id, _ in self._union(after, limit)]

    # Pages ---------------------------------------------------------------------------------

    def page(self, *, cursor: str | None = None, per_page: int = 50) -> FeedPage:
        located = self._locate(cursor, per_page + 1)
        has_more = len(located) > per_page
        rows = hydrate(located[:per_page], self.by_label)
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


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# Hydration ---------------------------------------------------------------------------------


def hydrate(located: Sequence[tuple[str, int]], by_label: dict[str, type[models.Model]]) -> list:
    ids_by_label: dict[str, list[int]] = defaultdict(list)
    for label, pgh_id in located:
        ids_by_label[label].append(pgh_id)

    events: dict[tuple[str, int], Any] = {}
    previous: dict[tuple[str, int], Any] = {}
    for label, ids in ids_by_label.items():
        event_model = by_label[label]
        prior = (
            event_model.objects.filter(
                pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id")
            )
            .order_by("-pgh_id")
            .values("pgh_id")[:1]
        )
        fetched = list(
            event_model.objects.filter(pgh_id__in=ids).annotate(prior_id=Subquery(prior))
        )
        prior_ids = [e.prior_id for e in fetched if e.pgh_label == UPDATE and e.prior_id]
        priors = event_model.objects.in_bulk(prior_ids) if prior_ids else {}
        for event in fetched:
            events[(label, event.pgh_id)] = event
            if event.pgh_label == UPDATE and event.prior_id in priors:
                previous[(label, event.pgh_id)] = priors[event.prior_id]

    context_ids = {e.pgh_context_id for e in events.values() if e.pgh_context_id}
    contexts = Context.objects.in_bulk(list(context_ids)) if context_ids else {}

    rows: list[FeedRow] = []
    for label, pgh_id in located:
        event = events.get((label, pgh_id))
        if event is None:
            continue
        row = FeedRow(model_label=label, event=event, context=contexts.get(event.pgh_context_id))
        row.changes = _changes(event, previous.get((label, pgh_id)))
        row.object_repr, row.object_url = _describe_object(event)
        rows.append(row)
    _resolve_related_names(rows)
    return rows


def _changes(event: Any, before: Any | None) -> list[Change]:
    event_model = type(event)
    secrets = getattr(event_model, "audit_secret_fields", frozenset())
    changes = []
    for f in tracked_fields(event_model):
        if _is_noise(event_model, f):
            continue
        new = getattr(event, f.attname)
        if event.pgh_label == INSERT:
            old = None
            if new in (None, "") or (isinstance(new, bool) and not new and f.name != "status"):
                continue
        elif event.pgh_label == DELETE:
            old, new = new, None
            if old in (None, ""):
                continue
        else:
            if before is None:
                old = None
            else:
                old = getattr(before, f.attname)
                if old == new:
                    continue
        changes.append(
            Change(
                name=f.name,
                label=_label(event_model, f),
                old=old,
                new=new,
                secret=f.name in secrets,
            )
        )
    return changes


def _label(event_model: type[models.Model], f: models.Field) -> str:
    try:
        tracked = event_model.pgh_tracked_model._meta.get_field(f.name)
    except Exception:
        return f.name.replace("_", " ").capitalize()
    return str(tracked.verbose_name).capitalize()


def _tracked_field(event: Any, name: str) -> models.Field | None:
    try:
        return event.pgh_tracked_model._meta.get_field(name)
    except Exception:
        return None


def _describe_object(event: Any) -> tuple[str, str]:
    model = event.pgh_tracked_model
    values = {f.attname: getattr(event, f.attname) for f in tracked_fields(type(event))}
    try:
        instance = model(**{k: v for k, v in values.items() if k in _attnames(model)})
        name = str(instance)
    except Exception:
        instance, name = None, f"{model._meta.verbose_name} #{event.pgh_obj_id}"
    url = ""
    if event.pgh_label != DELETE and instance is not None:
        url = _object_url(instance)
    return name, url


def _attnames(model: type[models.Model]) -> set[str]:
    return {f.attname for f in model._meta.concrete_fields}


def _object_url(instance: models.Model) -> str:
    if hasattr(instance, "get_absolute_url"):
        try:
            return instance.get_absolute_url()
        except NoReverseMatch:
            return ""
    concrete = instance._meta.concrete_model
    try:
        return reverse(admin_urlname(concrete._meta, "change"), args=[instance.pk])
    except NoReverseMatch:
        return ""


def _resolve_related_names(rows: list[FeedRow]) -> None:
    """Turn raw values into what a reviewer reads: names for keys, labels for choices."""
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for row in rows:
        for change in row.changes:
            f = _tracked_field(row.event, change.name)
            if f is not None and f.is_relation and f.many_to_one and not change.secret:
                for value in (change.old, change.new):
                    if value is not None:
                        wanted[f.related_model].add(value)
    names: dict[type[models.Model], dict[Any, str]] = {}
    for related_model, pks in wanted.items():
        names[related_model] = {
            obj.pk: str(obj) for obj in related_model._default_manager.filter(pk__in=pks)
        }
    for row in rows:
        secrets = secret_fields(row.event.pgh_tracked_model) | getattr(
            type(row.event), "audit_secret_fields", frozenset()
        )
        for change in row.changes:
            f = _tracked_field(row.event, change.name)
            if change.secret or change.name in secrets:
                change.secret = True
                change.old, change.new = _mask(change.old), _mask(change.new)
                if row.operation == UPDATE and change.old == change.new == "set":
                    change.old, change.new = "set", SECRET_CHANGED
                continue
            change.old = display_value(f, change.old, names)
            change.new = display_value(f, change.new, names)


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
