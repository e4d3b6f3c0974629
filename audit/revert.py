"""Undo of a plain field edit: set the fields one update event changed back to the values it
replaced, through the owning app's own update service.

The owning app says how (a ``Reverter`` in ``core/extension_points.py``, registered from its
``extensions.py``), so that the audit app never imports a business app and every rule of the
service still holds (transitions, currency locks, who may set a price). A record kind nobody
registers is not revertible; money rows register a refusal and what to do instead (a refund, a
credit note).

Only the latest change of a record is revertible: an event with a later one on the same record
is stale (someone edited it since, or it was reverted already), and the revert passes the event
as the form's ``version`` so that the service, after locking the row, refuses a change made
meanwhile. The revert's contexts carry ``reverts`` (the undone entry's context id) and
``reverts_event`` (``<model>:<pgh_id>``): the entry pages link both ways (index in ``audit``
migration 0009).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.fields.json import KT
from django.utils import formats, timezone
from pghistory.models import Context

import audit.context
from audit.feed import Change, FeedRow, actor_display, hydrate, model_label, tracked_fields
from audit.tracking import UPDATE, event_models, secret_fields
from core import extension_points
from core.errors import CHANGED_SINCE_OPENED
from core.extension_points import Reverter
from core.rights import require_right
from core.rules import require_reason

ACTION = "audit.revert_entry"
RIGHT = "audit.revert_entry"
NOT_REVERTIBLE = "not_revertible"
STALE = "revert_stale"
DEFAULT_INSTEAD = "Edit the record itself, with a reason."


@dataclass
class Plan:
    """What reverting one event would do, or why it may not."""

    label: str
    event: Any
    record: models.Model | None = None
    reverter: Reverter | None = None
    values: dict[str, Any] = field(default_factory=dict)
    refusal: str = ""
    code: str = NOT_REVERTIBLE
    instead: str = ""
    instead_url: str = ""
    row: FeedRow | None = None

    @property
    def revertible(self) -> bool:
        return not self.refusal

    @property
    def context_id(self) -> uuid.UUID | None:
        return self.event.pgh_context_id

    @property
    def preview(self) -> list[Change]:
        """Each field as it is now → as the revert leaves it, in display values (secrets never
        reach a plan: they are refused)."""
        if self.row is None:
            return []
        shown = [c for c in self.row.changes if c.name in self.values]
        return [Change(name=c.name, label=c.label, old=c.new, new=c.old) for c in shown]


def event_model_by_label(label: str) -> type[models.Model] | None:
    return next((m for m in event_models() if model_label(m) == label), None)


def revertible_labels() -> frozenset[str]:
    """The record kinds an app registered (the entry page's Revert links): money rows too,
    whose page then says what to do instead."""
    return frozenset(r.key for r in extension_points.registered(Reverter))


def plan(*, label: str, pgh_id: int) -> Plan | None:
    """The plan for reverting event ``pgh_id`` of model ``label``; None when there is none."""
    event_model = event_model_by_label(label)
    if event_model is None:
        return None
    manager = event_model.objects  # type: ignore[attr-defined]  # pghistory's manager
    event = manager.filter(pgh_id=pgh_id).first()
    if event is None:
        return None
    found = Plan(label=label, event=event)
    rows = hydrate([(label, pgh_id)], {label: event_model})
    found.row = rows[0] if rows else None
    tracked: type[models.Model] = event_model.pgh_tracked_model  # type: ignore[attr-defined]  # pghistory's
    reverter = extension_points.get(Reverter, label)
    found.reverter = reverter
    found.record = tracked._base_manager.filter(pk=event.pgh_obj_id).first()
    _instead(found)
    if event.pgh_label != UPDATE:
        return _refuse(
            found,
            "Only a field edit can be reverted here: this entry "
            + ("created the record." if event.pgh_label == "insert" else "deleted the record."),
        )
    if found.record is None:
        return _refuse(found, f"The {tracked._meta.verbose_name} no longer exists.")
    if reverter is None or reverter.revert is None:
        why = ""
        if reverter is not None and reverter.refuse is not None:
            why = reverter.refuse(record=found.record, values={})
        return _refuse(
            found,
            why
            or f"Changes of this kind of record ({tracked._meta.verbose_name}) are not "
            "reverted from the trail.",
        )
    later = manager.filter(pgh_obj_id=event.pgh_obj_id, pgh_id__gt=event.pgh_id)
    latest = later.select_related("pgh_context").order_by("-pgh_id").first()
    if latest is not None:
        metadata = latest.pgh_context.metadata if latest.pgh_context_id else {}
        who = actor_display(metadata, attributed=latest.pgh_context_id is not None)
        when = formats.date_format(timezone.localtime(latest.pgh_created_at), "DATETIME_FORMAT")
        return _refuse(
            found,
            f"The {tracked._meta.verbose_name} changed since this entry ({who}, {when}): only "
            "its latest change can be reverted. Edit the record instead.",
            code=STALE,
        )
    before = (
        manager.filter(pgh_obj_id=event.pgh_obj_id, pgh_id__lt=event.pgh_id)
        .order_by("-pgh_id")
        .first()
    )
    if before is None:
        return _refuse(found, "The trail does not hold the values before this edit.")
    changed = _changed_fields(event_model, before, event)
    secrets = secret_fields(tracked) | getattr(event_model, "audit_secret_fields", frozenset())
    if secrets & set(changed):
        return _refuse(
            found,
            "This edit changed a secret (a password, a code): secrets are never set back. "
            "Set a new one on the record's page.",
        )
    allowed = set(reverter.fields) | set(reverter.derived)
    others = [name for name in changed if name not in allowed]
    if others:
        names = ", ".join(_verbose(tracked, n) for n in others)
        return _refuse(found, f"This edit changed fields that are not reverted here: {names}.")
    wanted = [name for name in changed if name in reverter.fields]
    if not wanted:
        return _refuse(found, "This edit changed nothing that can be set back.")
    values, missing = _values(tracked, before, wanted)
    if missing:
        return _refuse(found, f"The earlier {missing} no longer exists.")
    found.values = values
    if reverter.refuse is not None:
        why = reverter.refuse(record=found.record, values=values)
        if why:
            return _refuse(found, why)
    return found


def _refuse(found: Plan, why: str, *, code: str = NOT_REVERTIBLE) -> Plan:
    found.refusal, found.code, found.values = why, code, {}
    return found


def _instead(found: Plan) -> None:
    reverter = found.reverter
    if reverter is not None and reverter.instead is not None and found.record is not None:
        found.instead, found.instead_url = reverter.instead(record=found.record)
        return
    found.instead = DEFAULT_INSTEAD
    if found.record is not None and hasattr(found.record, "get_absolute_url"):
        try:
            found.instead_url = found.record.get_absolute_url()
        except Exception:  # a record without a page of its own
            found.instead_url = ""


def _changed_fields(event_model: type[models.Model], before: Any, after: Any) -> list[str]:
    tracked = event_model.pgh_tracked_model._meta  # type: ignore[attr-defined]  # pghistory's
    changed = []
    for f in tracked_fields(event_model):
        if f.name == tracked.pk.name or getattr(f, "auto_now", False):
            continue
        if getattr(f, "auto_now_add", False):
            continue
        if getattr(before, f.attname) != getattr(after, f.attname):
            changed.append(f.name)
    return changed


def _verbose(model: type[models.Model], name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)  # type: ignore[union-attr]  # a concrete field
    except Exception:
        return name.replace("_", " ")


def _values(
    model: type[models.Model], before: Any, names: Iterable[str]
) -> tuple[dict[str, Any], str]:
    """The values ``before`` held, ready for a service: related rows as instances. The second
    item names a related row that is gone ("" when none is)."""
    values: dict[str, Any] = {}
    for name in names:
        f: Any = model._meta.get_field(name)  # a concrete field: a tracked column
        raw = getattr(before, f.attname)
        if f.is_relation and f.many_to_one and raw is not None:
            related = f.related_model._base_manager.filter(pk=raw).first()
            if related is None:
                return {}, str(f.verbose_name)
            values[name] = related
        else:
            values[name] = raw
    return values, ""


@transaction.atomic
def revert_event(*, label: str, pgh_id: int, actor: Any, reason: str) -> uuid.UUID | None:
    """Set back the fields event ``pgh_id`` changed, through the owning app's service; returns
    the revert's entry (the context its events are filed under)."""
    require_reason(reason, "Say why the edit is reverted.")
    found = plan(label=label, pgh_id=pgh_id)
    if found is None:
        raise ValidationError("There is no such entry.", code=NOT_REVERTIBLE)
    if not found.revertible:
        raise ValidationError(found.refusal, code=STALE if found.code == STALE else NOT_REVERTIBLE)
    reverter, event = found.reverter, found.event
    if reverter is None or reverter.revert is None:  # not reached: a revertible plan has one
        raise ValidationError("Entries of this kind are not reverted.", code=NOT_REVERTIBLE)
    meta = found.record._meta if found.record is not None else found.event.pgh_tracked_model._meta
    # The revert is an edit of the record: whoever reverts must be allowed to edit it.
    require_right(actor, f"{meta.app_label}.change_{meta.model_name}")
    links = {"reverts_event": f"{label}:{pgh_id}"}
    if event.pgh_context_id is not None:
        links["reverts"] = str(event.pgh_context_id)
    try:
        with audit.context.context(action=ACTION, reason=reason, actor=actor, **links):
            record = reverter.revert(
                record=found.record,
                values=found.values,
                actor=actor,
                reason=reason,
                version=event.pgh_id,
            )
    except ValidationError as exc:
        if any(e.code == CHANGED_SINCE_OPENED for e in _errors(exc)):
            raise ValidationError(
                "The record changed while you were reverting it: nothing was saved. Look at "
                "its latest entry first.",
                code=STALE,
            ) from exc
        raise
    manager = type(event).objects
    latest = manager.filter(pgh_obj_id=record.pk).order_by("-pgh_id").first()
    if latest is None or latest.pgh_id == event.pgh_id:
        return None
    return latest.pgh_context_id


def _errors(exc: ValidationError) -> list[ValidationError]:
    if hasattr(exc, "error_dict"):
        return [e for found in exc.error_dict.values() for e in found]
    return list(exc.error_list)


def reverted_by(context_ids: Collection[uuid.UUID]) -> dict[str, list[Context]]:
    """The reverts of these entries, by the undone entry's id (as text): one indexed query."""
    if not context_ids:
        return {}
    found: dict[str, list[Context]] = {}
    rows = (
        Context.objects.annotate(reverts=KT("metadata__reverts"))
        .filter(metadata__has_key="reverts", reverts__in=[str(c) for c in context_ids])
        .order_by("created_at", "id")
    )
    for context in rows:
        found.setdefault(context.metadata["reverts"], []).append(context)
    return found
