"""Record-wide history: which events belong to a record and everything under it.

A client's history is the client's own events plus those of every row that belongs to it:
its contacts, notes, services, invoices… and, one step further, the add-ons of those services,
the items of those invoices, the replies of those tickets. Nobody lists these: the tree is read
from the foreign keys of the tracked models, breadth first from the root, each model at the
depth of its shortest path (a domain points at both its client and its account: it belongs to
the client directly).

Each event table gets one condition on its own snapshot columns: ``e.client_id = 42`` for a
direct child, ``e.invoice_id IN (SELECT p.pgh_obj_id FROM <invoice events> p WHERE
p.client_id = 42)`` one step down. Reading the parents' *event* tables, not the live ones, keeps
the children of a deleted draft invoice in the history, and a row moved from one client to
another shows under each client for the events written while it was theirs. Every condition is
served by the foreign-key index each event table has (pghistory indexes every key).

Which events a user may read is the view's business: models the user may not view are left out,
and apps narrow their own rows through ``HistoryFilter`` (a restricted department's tickets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from audit.tracking import event_model_for, event_models
from core.extension_points import HistoryFilter, get

# How far down the tree reaches from the root: a client's invoice items are two steps down,
# an attachment of a reply to one of its tickets three.
DEFAULT_DEPTH = 3
# Stands for the event row's alias while conditions nest (the root's is ``e``).
E = "{e}"


@dataclass(frozen=True)
class Branch:
    """The events of one tracked model that belong to the root: ``sql`` over the event row
    ``e``, with its parameters."""

    event_model: type[models.Model]
    depth: int
    sql: str
    params: tuple[Any, ...]


def _tracked(event_model: type[models.Model]) -> type[models.Model]:
    return event_model.pgh_tracked_model._meta.concrete_model  # type: ignore[attr-defined]  # pghistory's


def _event_column(event_model: type[models.Model], f: models.Field) -> str | None:
    """The event table's column holding the tracked key ``f`` (None: not in the snapshot)."""
    try:
        own = event_model._meta.get_field(f.name)
    except Exception:
        return None
    return getattr(own, "column", None)


_TREES: dict[tuple[type[models.Model], int], list[tuple[type[models.Model], int, list[Any]]]] = {}


def tree(
    root: type[models.Model], depth: int = DEFAULT_DEPTH
) -> list[tuple[type[models.Model], int, list[Any]]]:
    """(event model, depth, [(key column, parent event model or None for the root)…]) for the
    root and every tracked model under it, the root first. Built once per process."""
    root = root._meta.concrete_model  # type: ignore[assignment]  # a concrete model
    key = (root, depth)
    if key in _TREES:
        return _TREES[key]
    root_events = event_model_for(root)
    if root_events is None:
        return []
    found: list[tuple[type[models.Model], int, list[Any]]] = [(root_events, 0, [])]
    level: dict[type[models.Model], type[models.Model]] = {root: root_events}
    placed = {root}
    candidates = [e for e in event_models() if _tracked(e) is not root]
    for d in range(1, depth + 1):
        next_level: dict[type[models.Model], type[models.Model]] = {}
        for event_model in candidates:
            tracked = _tracked(event_model)
            if tracked in placed:
                continue
            links: list[tuple[str, Any, str | None]] = []
            for f in tracked._meta.concrete_fields:
                parent = f.related_model if (f.many_to_one or f.one_to_one) else None
                parent = parent._meta.concrete_model if parent is not None else None
                if parent in level:
                    column = _event_column(event_model, f)
                    if column is not None:
                        links.append((column, None if parent is root else level[parent], None))
            if d == 1:
                # A row "about" any record (a note about a hosting account): a generic key.
                for generic in tracked._meta.private_fields:
                    if isinstance(generic, GenericForeignKey):
                        ct_field = tracked._meta.get_field(generic.ct_field)
                        id_field = tracked._meta.get_field(generic.fk_field)
                        ct_column = _event_column(event_model, ct_field)  # type: ignore[arg-type]  # concrete
                        id_column = _event_column(event_model, id_field)  # type: ignore[arg-type]  # concrete
                        if ct_column and id_column:
                            links.append((id_column, None, ct_column))
            if links:
                found.append((event_model, d, links))
                next_level[tracked] = event_model
        placed.update(next_level)
        level = next_level
        if not level:
            break
    _TREES[key] = found
    return found


def branches(
    root: models.Model | type[models.Model], root_id: Any, depth: int = DEFAULT_DEPTH
) -> list[Branch]:
    """The condition of each event table under ``root`` (a model, or a row of it) #root_id."""
    root_model = root if isinstance(root, type) else type(root)
    shape = tree(root_model, depth)
    conditions: dict[type[models.Model], tuple[str, tuple[Any, ...]]] = {}
    out: list[Branch] = []
    for event_model, d, links in shape:
        if d == 0:
            sql, params = f"{E}.pgh_obj_id = %s", (root_id,)
        else:
            parts, collected = [], []
            for column, parent, ct_column in links:
                quoted = connection.ops.quote_name(column)
                if ct_column is not None:
                    content_type = ContentType.objects.get_for_model(root_model)
                    parts.append(
                        f"({E}.{connection.ops.quote_name(ct_column)} = %s AND {E}.{quoted} = %s)"
                    )
                    collected.extend([content_type.pk, root_id])
                elif parent is None:
                    parts.append(f"{E}.{quoted} = %s")
                    collected.append(root_id)
                else:
                    parent_sql, parent_params = conditions[parent]
                    table = connection.ops.quote_name(parent._meta.db_table)
                    # The parent's condition over its own events, as alias p<depth>.
                    alias = f"p{d}"
                    inner = parent_sql.replace(E, alias)
                    parts.append(
                        f"{E}.{quoted} IN (SELECT {alias}.pgh_obj_id FROM {table} {alias} "
                        f"WHERE {inner})"
                    )
                    collected.extend(parent_params)
            if len(parts) == 1:
                sql = parts[0]
            else:
                # An OR of key conditions reads the whole table (no index serves an OR of
                # subqueries); a UNION of one index lookup per key, by event id, does not.
                table = connection.ops.quote_name(event_model._meta.db_table)
                alias = f"u{d}"
                lookups = " UNION ".join(
                    f"SELECT {alias}.pgh_id FROM {table} {alias} WHERE {part.replace(E, alias)}"
                    for part in parts
                )
                sql = f"{E}.pgh_id IN ({lookups})"
            params = tuple(collected)
        conditions[event_model] = (sql, params)
        out.append(Branch(event_model=event_model, depth=d, sql=sql.replace(E, "e"), params=params))
    return out


def for_user(found: Sequence[Branch], user: Any) -> list[Branch]:
    """The branches ``user`` may read: models they may view, each narrowed by the owning app's
    ``HistoryFilter`` (its rows the user may see)."""
    out = []
    for branch in found:
        tracked = _tracked(branch.event_model)
        meta = tracked._meta
        if not user.has_perm(f"{meta.app_label}.view_{meta.model_name}"):
            continue
        narrowing = get(HistoryFilter, meta.label_lower)
        if narrowing is not None:
            extra = narrowing.where(user=user)
            if extra is not None:
                sql, params = extra
                branch = Branch(
                    event_model=branch.event_model,
                    depth=branch.depth,
                    sql=f"({branch.sql}) AND ({sql})",
                    params=(*branch.params, *params),
                )
        out.append(branch)
    return out
