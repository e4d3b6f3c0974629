"""Lost updates: an edit form remembers the version of the record it opened, and the service
refuses to save over a change made since, saying what that change was.

The version is the id of the record's latest audit event. Every real change of a tracked row
writes an event (the capture triggers; no code path can skip them), so the version moves with
every write, whichever screen, service, admin page or shell made it, and it costs one indexed
lookup. A service checks it after locking the row (``select_for_update``), so two saves racing
each other are ordered by the lock and the second sees the first's event.

The refusal carries the current version (``params["version"]``): the form is shown again with
the person's input kept, the other change listed, and the new version in its hidden field, so
saving again is a decision to overwrite it, taken knowingly.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max
from django.utils import formats, timezone

from audit.feed import actor_display, display_value, tracked_fields
from audit.tracking import event_model_for
from core.forms import CHANGED_SINCE_OPENED

SHOWN_FIELDS = 8


def version_of(record: models.Model) -> int:
    """The id of the record's latest audit event (0 when it has none)."""
    event_model = event_model_for(type(record))
    if event_model is None or record.pk is None:
        return 0
    # Event models are made by pghistory at run time: their manager is unknown to the stubs.
    events = event_model.objects.filter(pgh_obj_id=record.pk)  # type: ignore[attr-defined]  # pghistory's manager
    latest = events.aggregate(latest=Max("pgh_id"))
    return latest["latest"] or 0


def refuse_if_changed(record: models.Model, version: int | None) -> None:
    """Refuse (code ``changed_since_opened``) when ``record`` changed after ``version``.

    Call it after locking the row. ``None`` means the caller did not open a form (a script,
    a composed service): no check.
    """
    if version is None:
        return
    current = version_of(record)
    if current <= version:
        return
    event_model = event_model_for(type(record))
    if event_model is None:  # not reached: a record with a version has an event model
        return
    events = list(
        event_model.objects.filter(  # type: ignore[attr-defined]  # pghistory's, see version_of
            pgh_obj_id=record.pk, pgh_id__gt=version
        )
        .select_related("pgh_context")
        .order_by("pgh_id")
    )
    before = (
        event_model.objects.filter(  # type: ignore[attr-defined]  # pghistory's, see version_of
            pgh_obj_id=record.pk, pgh_id__lte=version
        )
        .order_by("-pgh_id")
        .first()
    )
    who = []
    for event in events:
        metadata = event.pgh_context.metadata if event.pgh_context_id else {}
        name = actor_display(metadata, attributed=event.pgh_context_id is not None)
        if name not in who:
            who.append(name)
    last = events[-1]
    raise ValidationError(
        "While you had this form open, %(who)s changed this %(what)s (%(when)s): %(changes)s. "
        "Nothing was saved. Your input is kept below, and their change is filled in where you "
        "had not changed that field; check it and save again.",
        code=CHANGED_SINCE_OPENED,
        params={
            "who": ", ".join(who),
            "what": record._meta.verbose_name,
            "when": formats.date_format(timezone.localtime(last.pgh_created_at), "DATETIME_FORMAT"),
            "changes": _describe(event_model, before, last),
            "version": current,
            "others": _others(event_model, before, last),
        },
    )


def _describe(event_model: type[models.Model], before: Any, after: Any) -> str:
    tracked = event_model.pgh_tracked_model._meta  # type: ignore[attr-defined]  # pghistory's
    secrets: Collection[str] = getattr(event_model, "audit_secret_fields", frozenset())
    parts = []
    for f in tracked_fields(event_model):
        if f.name == tracked.pk.name or getattr(f, "auto_now", False):
            continue
        old = getattr(before, f.attname) if before is not None else None
        new = getattr(after, f.attname)
        if old == new:
            continue
        try:
            label = str(tracked.get_field(f.name).verbose_name)
            field = tracked.get_field(f.name)
        except Exception:
            label, field = f.name.replace("_", " "), None
        if f.name in secrets:
            parts.append(f"{label} (changed)")  # nobody reads old values of a secret
        elif field is not None and field.is_relation:
            parts.append(f"{label} (changed)")
        else:
            old_text, new_text = display_value(field, old), display_value(field, new)
            parts.append(f"{label}: {_short(old_text)} → {_short(new_text)}")
    if not parts:
        return "a change"
    if len(parts) > SHOWN_FIELDS:
        parts = [*parts[:SHOWN_FIELDS], f"and {len(parts) - SHOWN_FIELDS} more"]
    return "; ".join(parts)


def _others(event_model: type[models.Model], before: Any, after: Any) -> dict[str, tuple]:
    """The other change, field by field (name: (value when the form opened, value now)), so
    the form can take it where the person did not type; never secrets."""
    tracked = event_model.pgh_tracked_model._meta  # type: ignore[attr-defined]  # pghistory's
    secrets: Collection[str] = getattr(event_model, "audit_secret_fields", frozenset())
    changed = {}
    for f in tracked_fields(event_model):
        if f.name == tracked.pk.name or f.name in secrets or getattr(f, "auto_now", False):
            continue
        old = getattr(before, f.attname) if before is not None else None
        new = getattr(after, f.attname)
        if old != new:
            changed[f.name] = (old, new)
    return changed


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
