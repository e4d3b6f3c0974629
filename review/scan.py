"""The scanner: reads the trail since its watermark and files what the rules flag.

Each scan locks the one ``ScanState`` row (``select_for_update``), so scans from several
workers, the command and the queue page's button take turns; the second finds the first's
flags and adds nothing (one flag per entry and rule: a unique constraint, and the keys already
filed are skipped).

Why a look-back: an event is dated by its transaction's start (``NOW()``), and a transaction
may commit minutes after it started, behind a watermark already moved past its time. Every scan
therefore re-reads ``AUDIT_SEAL_HORIZON_SECONDS`` (10 minutes, longer than any transaction may
last, see the README's seals) before the watermark; what it had filed already is skipped.

The events are read in ``(time, model, id)`` order with a keyset, in batches, every event table
at once (one ``UNION ALL`` whose branches each walk their ``(pgh_created_at, pgh_id)`` index);
the rows themselves (``to_jsonb``) only for the models an enabled rule reads. A first scan of
a large trail stops after ``MAX_BATCHES`` and the next one goes on from there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from audit.context import context as audit_context
from audit.feed import actor_display
from audit.models import StaffSession
from audit.tracking import UPDATE, event_models
from review.models import FlaggedEntry, ReviewRule, ScanState
from review.rules import (
    KINDS,
    RESET_KINDS,
    Batch,
    ContextInfo,
    Event,
    Hit,
    ensure_default_rules,
    params_of,
)

BATCH_SIZE = 5_000
MAX_BATCHES = 20
EVENTS_KEPT = 50  # of one flagged entry, for the queue's diff (the entry page has them all)
ACTION = "review.scan_trail"


@dataclass
class ScanResult:
    events: int
    flagged: int
    scanned_through: dt.datetime | None


def _label(event_model: type[models.Model]) -> str:
    return event_model.pgh_tracked_model._meta.label_lower  # type: ignore[attr-defined]  # pghistory's


def _scanned_models() -> list[tuple[str, str]]:
    """(label, table) of every event table but the queue's own (its flags are no entries to
    flag), in label order."""
    return sorted(
        (_label(m), connection.ops.quote_name(m._meta.db_table))
        for m in event_models()
        if m.pgh_tracked_model._meta.app_label != "review"  # type: ignore[attr-defined]  # pghistory's
    )


def _read_events(
    since: dt.datetime | None,
    after: tuple[dt.datetime, str, int] | None,
    reads: set[str],
    limit: int,
) -> list[Event]:
    branches: list[str] = []
    params: list[Any] = []
    for label, table in _scanned_models():
        conds: list[str] = []
        where_params: list[Any] = []
        if since is not None:
            conds.append("e.pgh_created_at >= %s")
            where_params.append(since)
        if after is not None:
            at, after_label, after_id = after
            # Ascending (time, model, id): core/cursor.py explains the descending twin.
            if label < after_label:
                conds.append("e.pgh_created_at > %s")
                where_params.append(at)
            elif label == after_label:
                conds.append("(e.pgh_created_at, e.pgh_id) > (%s, %s)")
                where_params.extend([at, after_id])
            else:
                conds.append("e.pgh_created_at >= %s")
                where_params.append(at)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        if label in reads:
            row = "to_jsonb(e)::text"
            # The snapshot an update replaced, found by id first (as audit.feed.hydrate does).
            prior = (
                f"CASE WHEN e.pgh_label = '{UPDATE}' THEN (SELECT to_jsonb(p)::text FROM {table} p "
                f"WHERE p.pgh_id = (SELECT max(q.pgh_id) FROM {table} q "
                "WHERE q.pgh_obj_id = e.pgh_obj_id AND q.pgh_id < e.pgh_id)) END"
            )
        else:
            row = prior = "NULL::text"
        branches.append(
            "(SELECT %s::text AS model, e.pgh_id, e.pgh_context_id, e.pgh_label, "
            f"e.pgh_created_at, e.pgh_obj_id::text AS obj, {row} AS row, {prior} AS prior "
            f"FROM {table} e {where} ORDER BY e.pgh_created_at, e.pgh_id LIMIT %s)"
        )
        params.extend([label, *where_params, limit])
    sql = (
        "SELECT * FROM (" + " UNION ALL ".join(branches) + ") AS u "
        "ORDER BY pgh_created_at, model, pgh_id LIMIT %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*params, limit])
        found = cur.fetchall()
    return [
        Event(
            label=label,
            pgh_id=pgh_id,
            context_id=context_id,
            operation=operation,
            created_at=created_at,
            object_id=obj,
            row=_loads(row),
            prior=_loads(prior),
        )
        for label, pgh_id, context_id, operation, created_at, obj, row, prior in found
    ]


def _read_contexts(ids: set[Any]) -> dict[Any, ContextInfo]:
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, created_at, metadata::text FROM pghistory_context "
            "WHERE id = ANY(%s::uuid[])",
            [list(ids)],
        )
        return {
            pk: ContextInfo(id=pk, created_at=created_at, metadata=json.loads(metadata or "{}"))
            for pk, created_at, metadata in cur.fetchall()
        }


def _resets_loader(until: dt.datetime) -> Any:
    cache: dict[dt.datetime, list[tuple[int | None, str, str, dt.datetime]]] = {}

    def load(since: dt.datetime) -> list[tuple[int | None, str, str, dt.datetime]]:
        if since not in cache:
            cache[since] = list(
                StaffSession.objects.filter(
                    kind__in=RESET_KINDS, created_at__gte=since, created_at__lte=until
                ).values_list("user_id", "username", "kind", "created_at")
            )
        return cache[since]

    return load


def _merge(rule: ReviewRule, hits: Sequence[Hit]) -> FlaggedEntry:
    """One flag for the hits of one rule on one entry."""
    first = hits[0]
    events: list[list[Any]] = []
    for h in hits:
        for ref in h.events:
            if ref not in events and len(events) < EVENTS_KEPT:
                events.append(ref)
    amounts = [h.amount for h in hits if h.amount is not None]
    currencies = {h.currency for h in hits if h.amount is not None}
    amount = None
    if amounts and len(currencies) <= 1:
        amount = sum(amounts, Decimal("0"))
    summary = first.summary if len(hits) == 1 else f"{first.summary} (and {len(hits) - 1} more)"
    metadata = first.context.metadata if first.context is not None else {}
    maker_id = first.context.user_id if first.context is not None else None
    return FlaggedEntry(
        rule=rule,
        entry_key=first.entry_key[:80],
        context_id=first.context.id if first.context is not None else None,
        maker_id=maker_id,
        maker_name=actor_display(metadata, attributed=first.context is not None)[:150],
        action=str(metadata.get("action", ""))[:100],
        channel=str(metadata.get("channel", ""))[:20],
        reason=str(metadata.get("reason", ""))[:500],
        occurred_at=min(h.occurred_at for h in hits if h.occurred_at is not None),
        amount=amount,
        currency=(currencies.pop() if amount is not None and currencies else ""),
        summary=summary[:300],
        event_refs=events,
    )


def _flag(batch: Batch, rules: Sequence[ReviewRule]) -> int:
    """File the flags of one batch; returns how many were new."""
    wanted: list[FlaggedEntry] = []
    for rule in rules:
        grouped: dict[str, list[Hit]] = {}
        for h in KINDS[rule.key].check(batch, params_of(rule)):
            grouped.setdefault(h.entry_key[:80], []).append(h)
        wanted.extend(_merge(rule, hits) for hits in grouped.values())
    if not wanted:
        return 0
    keys = {(f.rule_id, f.entry_key) for f in wanted}
    filed = set(
        FlaggedEntry.objects.filter(
            rule_id__in={k[0] for k in keys}, entry_key__in={k[1] for k in keys}
        ).values_list("rule_id", "entry_key")
    )
    new = [f for f in wanted if (f.rule_id, f.entry_key) not in filed]
    # ignore_conflicts: a belt to the lock's braces (one flag per entry and rule).
    FlaggedEntry.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def locked_state() -> ScanState:
    """The watermark row, locked until the transaction ends (created on first use: two first
    callers racing, one inserts and the other waits for it, then finds it)."""
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {ScanState._meta.db_table} (id) VALUES (1) ON CONFLICT (id) DO NOTHING"
        )
    return ScanState.objects.select_for_update().get(pk=1)


@transaction.atomic
def scan_trail(*, max_batches: int = MAX_BATCHES, batch_size: int = BATCH_SIZE) -> ScanResult:
    """Read the trail since the watermark (less the look-back) and flag what the enabled rules
    match. Idempotent; concurrent calls take turns on the watermark row."""
    with audit_context(action=ACTION):
        ensure_default_rules()
        state = locked_state()
        with connection.cursor() as cur:
            cur.execute("SELECT now()")
            started = cur.fetchone()[0]
        rules = [
            r for r in ReviewRule.objects.filter(enabled=True).order_by("key") if r.key in KINDS
        ]
        reads = {label for r in rules for label in KINDS[r.key].reads}
        lookback = dt.timedelta(seconds=settings.AUDIT_SEAL_HORIZON_SECONDS)
        since = None if state.scanned_through is None else state.scanned_through - lookback
        after: tuple[dt.datetime, str, int] | None = None
        seen = flagged = 0
        through: dt.datetime = started
        load_resets = _resets_loader(started)
        for _ in range(max_batches):
            events = _read_events(since, after, reads, batch_size)
            if not events:
                break
            seen += len(events)
            batch = Batch(
                events=events,
                contexts=_read_contexts({e.context_id for e in events if e.context_id}),
                load_resets=load_resets,
            )
            flagged += _flag(batch, rules)
            last = events[-1]
            after = (last.created_at, last.label, last.pgh_id)
            if len(events) < batch_size:
                break
        else:
            # Stopped with more to read (a first scan of a long trail): on from here next time.
            if after is not None:
                through = after[0]
        if state.scanned_through is None or through > state.scanned_through:
            state.scanned_through = through
        state.last_scan_at = started
        state.save(update_fields=["scanned_through", "last_scan_at"])
    return ScanResult(events=seen, flagged=flagged, scanned_through=state.scanned_through)


def _loads(text: str | None) -> dict[str, Any] | None:
    # Decimal keeps a money column's digits ("12.50"); json would read a float.
    return None if text is None else json.loads(text, parse_float=Decimal)
