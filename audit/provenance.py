"""Provenance: who last changed a record, and each of its fields, when and why.

A detail page shows "last changed by bea, 1 Dec 2026 17:04, customer loyalty" for the record and
a marker beside every field that has changed since the row was created. All of it comes from
one query over the record's event table (the events of one row, by the ``pgh_obj_id`` index):
consecutive snapshots are compared in SQL (``lag`` over the row's events, ``jsonb_each`` of
each snapshot) and the newest change of each column is kept (``DISTINCT ON``), with its
context. A second query names the rows an old key pointed at (a product, a server), all of
them at once. Secrets never show a value, old or new: only "changed".
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models

from audit.feed import (
    SECRET_CHANGED,
    _is_noise,
    _loads,
    _related_names,
    _shape,
    actor_display,
    display_value,
    tracked_fields,
)
from audit.tracking import event_model_for, secret_fields


@dataclass(frozen=True)
class Mark:
    """The newest event that touched the record (``field`` empty) or one of its fields."""

    actor: str
    at: dt.datetime
    reason: str
    action: str
    operation: str
    label: str = ""  # the field's label
    old: str = ""  # what the field held before (secrets: "changed")
    secret: bool = False
    context_id: Any = None

    @property
    def summary(self) -> str:
        """One line for a tooltip: who, when, why."""
        when = display_value(None, self.at)
        text = f"Last changed by {self.actor}, {when}"
        return text + (f", {self.reason}" if self.reason else " (no reason given)")


@dataclass
class Provenance:
    record: Mark | None = None
    fields: dict[str, Mark] = field(default_factory=dict)
    history_url: str = ""

    def __getitem__(self, name: str) -> Mark | None:
        return self.fields.get(name)


_SQL = """
WITH ev AS (
    SELECT e.pgh_id, e.pgh_label, e.pgh_created_at, e.pgh_context_id,
           to_jsonb(e) - ARRAY['pgh_id', 'pgh_created_at', 'pgh_label', 'pgh_obj_id',
                               'pgh_context_id'] AS snap
    FROM {table} e WHERE e.pgh_obj_id = %(id)s
), d AS (
    SELECT ev.*, lag(ev.snap) OVER (ORDER BY ev.pgh_id) AS prev FROM ev
), newest AS (
    SELECT NULL::text AS name, d.pgh_id, d.pgh_label, d.pgh_created_at, d.pgh_context_id,
           NULL::jsonb AS old
    FROM d ORDER BY d.pgh_id DESC LIMIT 1
), per_field AS (
    SELECT DISTINCT ON (k.key) k.key AS name, d.pgh_id, d.pgh_label, d.pgh_created_at,
           d.pgh_context_id, d.prev -> k.key AS old
    FROM d CROSS JOIN LATERAL jsonb_each(d.snap) AS k
    WHERE d.pgh_label = 'update' AND d.prev IS NOT NULL
      AND (d.prev -> k.key) IS DISTINCT FROM k.value
    ORDER BY k.key, d.pgh_id DESC
)
SELECT x.name, x.pgh_label, x.pgh_created_at, x.old::text, c.id, c.metadata::text
FROM (SELECT * FROM newest UNION ALL SELECT * FROM per_field) AS x
LEFT JOIN pghistory_context c ON c.id = x.pgh_context_id
"""


def of(record: models.Model, *, history_url: str = "") -> Provenance:
    """The provenance of ``record``: two queries at most, whatever its fields and events."""
    result = Provenance(history_url=history_url)
    event_model = event_model_for(type(record))
    if event_model is None or record.pk is None:
        return result
    shape = _shape(event_model)
    by_column = {f.column: f for f in tracked_fields(event_model) if not _is_noise(event_model, f)}
    secrets = secret_fields(event_model.pgh_tracked_model) | set(  # type: ignore[attr-defined]  # pghistory's
        getattr(event_model, "audit_secret_fields", ())
    )
    converters = {column: convert for column, _, convert in shape.columns}
    with connection.cursor() as cur:
        cur.execute(_SQL.format(table=shape.table), {"id": record.pk})
        found = cur.fetchall()
    tracked = {f.name: _tracked_field(record, f.name) for f in by_column.values()}
    raw: list[tuple[str | None, str, dt.datetime, Any, Any, dict[str, Any]]] = []
    wanted: dict[type[models.Model], set[Any]] = {}
    for name, operation, at, old_json, context_id, metadata_json in found:
        metadata = json.loads(metadata_json) if metadata_json else {}
        old = None
        if name is not None:
            f = by_column.get(name)
            if f is None:
                continue  # the primary key, a timestamp: never a staff change
            if old_json is not None:
                # ``_loads`` keeps a money column's digits; it reads objects, so wrap the value.
                wrapped = _loads('{"v": ' + old_json + "}") or {}
                old = converters[name](wrapped["v"])
            related = tracked.get(f.name)
            if related is not None and related.many_to_one and old is not None:
                wanted.setdefault(related.related_model, set()).add(old)
        raw.append((name, operation, at, old, context_id, metadata))
    names = _related_names(wanted) if wanted else {}
    for name, operation, at, old, context_id, metadata in raw:
        mark = {
            "actor": actor_display(metadata, attributed=context_id is not None),
            "at": at,
            "reason": metadata.get("reason", ""),
            "action": metadata.get("action", ""),
            "operation": operation,
            "context_id": context_id,
        }
        if name is None:
            result.record = Mark(**mark)
            continue
        f = by_column[name]
        secret = f.name in secrets
        related = tracked.get(f.name)
        shown = SECRET_CHANGED if secret else display_value(related, old, names)
        label = str(related.verbose_name).capitalize() if related is not None else f.name
        result.fields[f.name] = Mark(**mark, label=label, old=shown, secret=secret)
        if related is not None and f.name != related.attname:
            result.fields.setdefault(related.attname, result.fields[f.name])
    return result


def _tracked_field(record: models.Model, name: str) -> Any:
    try:
        return type(record)._meta.get_field(name)
    except Exception:
        return None
