"""Which models the audit trail captures, and how their event tables are shaped.

Every concrete model of a business app is tracked the moment its class is created (see
``AuditConfig``), so a model added next year is audited without anyone remembering to decorate
it. Each event table is append-only (UPDATE, DELETE and TRUNCATE are refused by triggers),
indexed for the feed, and stores secrets only as a digest.
"""

from __future__ import annotations

import hashlib

import pghistory
import pgtrigger
from django.db import models

# Apps whose every concrete model is tracked. ``audit`` tracks Django's user through a proxy.
TRACKED_APPS = frozenset(
    {
        "clients",
        "hosting",
        "billing",
        "orders",
        "support",
        "affiliates",
        "kb",
        "audit",
        "accounts",
        "approvals",
        "review",
    }
)

# Field names that are secrets wherever they appear; models add their own with
# ``audit_secret_fields = ("epp_code",)``.
DEFAULT_SECRET_FIELDS = frozenset({"password", "token", "secret", "api_key"})

INSERT = "insert"
UPDATE = "update"
DELETE = "delete"


def secret_fields(model: type[models.Model]) -> frozenset[str]:
    declared = getattr(model, "audit_secret_fields", ())
    names = {f.name for f in model._meta.concrete_fields}
    return frozenset(declared) | (DEFAULT_SECRET_FIELDS & names)


class NoTruncate(pgtrigger.Trigger):
    """Refuse TRUNCATE: pgtrigger's Protect covers UPDATE and DELETE, not this one."""

    when = pgtrigger.Before
    operation = pgtrigger.Truncate
    level = pgtrigger.Statement
    func = (
        "RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE of % is refused', "
        "TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; RETURN NULL;"
    )


class DeleteOnlyIfArchived(pgtrigger.Trigger):
    """Refuse DELETE of an event unless the archive already holds the identical row.

    Events leave a live table only when ``audit.archive`` moves a sealed month into the
    archive, in one transaction: the archive row is written first, and this trigger lets the
    live row go only if that archive row has the same table, id, time and every column
    binary-equal (``audit_archive_holds``, migration ``audit.0011``). Any other DELETE, from
    anyone, is refused as before.
    """

    when = pgtrigger.Before
    operation = pgtrigger.Delete
    level = pgtrigger.Row
    func = (
        "IF NOT public.audit_archive_holds(TG_TABLE_NAME::text, OLD.pgh_id, OLD.pgh_created_at,"
        " OLD) THEN RAISE EXCEPTION 'the audit trail is append-only: % row % may leave it only"
        " as an identical archived copy (audit_archive)', TG_TABLE_NAME, OLD.pgh_id"
        " USING ERRCODE = 'insufficient_privilege'; END IF; RETURN OLD;"
    )


def _short_name(prefix: str, model: type[models.Model]) -> str:
    # Index and trigger names are limited in length; keep them unique and stable.
    digest = hashlib.sha1(model._meta.label_lower.encode(), usedforsecurity=False).hexdigest()
    return f"{prefix}_{digest[:10]}"


def _digest_secrets_trigger(model: type[models.Model], names: frozenset[str]) -> pgtrigger.Trigger:
    """Before an event row is stored, replace each secret by a SHA-256 digest of it.

    The digest keeps "did it change?" answerable while the value itself (a password hash, an
    encrypted EPP code) never lands in the trail.
    """
    assignments, present = [], []
    for name in sorted(names):
        column = model._meta.get_field(name).column  # type: ignore[union-attr]  # concrete fields
        present.append(f"(NEW.{column} IS NOT NULL AND NEW.{column} <> '')")
        assignments.append(
            f"IF NEW.{column} IS NOT NULL AND NEW.{column} <> '' THEN "
            f"NEW.{column} := 'sha256:' || encode(sha256(convert_to(NEW.{column}::text, 'UTF8')),"
            f" 'hex'); END IF;"
        )
    return pgtrigger.Trigger(
        name="digest_secrets",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert,
        # Only rows that hold a secret pay for the trigger call (pgtrigger wraps every trigger
        # function in a check that opens a subtransaction).
        condition=pgtrigger.Condition(" OR ".join(present)),
        func=" ".join(assignments) + " RETURN NEW;",
    )


def track_model(model: type[models.Model], *, app_label: str | None = None) -> None:
    """Attach insert/update/delete event tracking to ``model``, and refuse TRUNCATE of it.

    TRUNCATE fires no row trigger, so it would empty a business table without a single event:
    the tracked table refuses it (``TRUNCATE ... CASCADE`` reaches every table it empties).
    """
    if not model._meta.proxy:
        pgtrigger.register(NoTruncate(name="refuse_truncate"))(model)
    secrets = secret_fields(model)
    triggers: list[pgtrigger.Trigger] = [
        # pghistory's ``append_only`` would refuse UPDATE and DELETE alike; a DELETE is allowed
        # only for a row already archived unchanged (moved by ``audit.archive``).
        pgtrigger.Protect(name="append_only", operation=pgtrigger.Update),
        DeleteOnlyIfArchived(name="delete_if_archived"),
        NoTruncate(name="no_truncate"),
    ]
    if secrets:
        triggers.append(_digest_secrets_trigger(model, secrets))
    pghistory.track(
        pghistory.InsertEvent(label=INSERT),
        # Only real changes: an UPDATE that leaves every column as it was writes no event.
        # auto_now timestamps alone do not make a change worth an event.
        pghistory.UpdateEvent(label=UPDATE, condition=pgtrigger.AnyChange(exclude_auto=True)),
        pghistory.DeleteEvent(label=DELETE),
        exclude=[
            *getattr(model, "audit_exclude_fields", ()),
            # Generated columns are derived data the database computes; nothing to audit.
            *(f.name for f in model._meta.local_fields if isinstance(f, models.GeneratedField)),
        ],
        append_only=False,  # our own triggers above
        model_name=f"{model.__name__}Event",
        app_label=app_label,
        meta={
            "triggers": triggers,
            "indexes": [
                models.Index(
                    fields=["-pgh_created_at", "-pgh_id"], name=_short_name("feed", model)
                ),
            ],
            "verbose_name": f"{model._meta.verbose_name} event",
        },
        attrs={"audit_secret_fields": secrets},
        # One trigger run per statement, reading the transition tables: a bulk UPDATE of
        # 100,000 rows attaches its context once instead of once per row (each attach opens a
        # subtransaction, and thousands of them in one transaction slow everything down).
        level=pgtrigger.Statement,
    )(model)


def should_track(model: type[models.Model]) -> bool:
    from django.apps import apps

    meta = model._meta
    return (
        meta.apps is apps  # not a historical model rebuilt by migrations
        and meta.app_label in TRACKED_APPS
        and not meta.abstract
        and not meta.auto_created
        and not meta.swapped
        and not getattr(model, "pgh_tracked_model", None)  # an event model itself
        and getattr(model, "audit_track", True)
        and (not meta.proxy or getattr(model, "audit_track_proxy", False))
    )


def on_class_prepared(sender: type[models.Model], **kwargs: object) -> None:
    if should_track(sender):
        track_model(sender)


def tracked_models() -> list[type[models.Model]]:
    """Every model that has an event model, in a stable order."""
    tracked = {e.pgh_tracked_model for e in event_models()}  # type: ignore[attr-defined]  # pghistory's
    return sorted(tracked, key=lambda m: m._meta.label)


def event_models() -> list[type[models.Model]]:
    """Every event model of the trail (one per tracked model), in a stable order."""
    from django.apps import apps

    return sorted(
        (m for m in apps.get_models() if getattr(m, "pgh_tracked_model", None) is not None),
        key=lambda m: m._meta.label,
    )


def event_model_for(model: type[models.Model]) -> type[models.Model] | None:
    concrete = model._meta.concrete_model
    for event_model in event_models():
        tracked = event_model.pgh_tracked_model  # type: ignore[attr-defined]  # set by pghistory
        if tracked is model or tracked._meta.concrete_model is concrete:
            return event_model
    return None
