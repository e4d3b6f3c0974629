"""What each review rule flags, its parameters and their defaults.

A rule reads a ``Batch`` of the trail (events with their rows, their contexts; see
``review.scan``) and returns ``Hit``s: the entry it flags, the events that made it, and an
amount where money moved. Rules read business rows by model label (``"billing.creditentry"``)
from the event tables' snapshots, never by importing the business apps: the queue sits beside
the trail, not on top of billing.

The rows of ``ReviewRule`` (one per key below) hold what Admins may change: on/off and the
parameters. ``ensure_default_rules`` creates the missing ones with the defaults and never
touches an existing row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

import audit.context
from audit.context import COMMAND, OTHER
from audit.tracking import DELETE, INSERT, UPDATE

# Second-factor resets and lockouts, as the staff sessions log records them.
RESET_KINDS = ("otp_reset", "locked")
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


@dataclass
class Event:
    label: str  # the tracked model, "billing.creditentry"
    pgh_id: int
    context_id: Any  # uuid.UUID | None
    operation: str  # insert, update, delete
    created_at: dt.datetime
    object_id: Any
    row: dict[str, Any] | None = None  # the snapshot, for the models a rule reads
    prior: dict[str, Any] | None = None  # the snapshot an update replaced

    @property
    def ref(self) -> list[Any]:
        return [self.label, self.pgh_id]


@dataclass
class ContextInfo:
    id: Any
    created_at: dt.datetime
    metadata: dict[str, Any]

    @property
    def user_id(self) -> int | None:
        try:
            return int(self.metadata["user"])
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class Hit:
    """One entry a rule flags. Hits of one rule on one entry are merged by the scanner."""

    entry_key: str
    summary: str
    events: list[list[Any]]
    context: ContextInfo | None = None
    occurred_at: dt.datetime | None = None
    amount: Decimal | None = None
    currency: str = ""


@dataclass
class Batch:
    """The slice of the trail one scan step reads."""

    events: list[Event]
    contexts: dict[Any, ContextInfo]
    # (user id or None, username, kind, time) of resets and lockouts, loaded on demand.
    load_resets: Callable[[dt.datetime], list[tuple[int | None, str, str, dt.datetime]]] = (
        lambda since: []
    )
    _by_context: dict[Any, list[Event]] | None = field(default=None, repr=False)

    def by_context(self) -> dict[Any, list[Event]]:
        if self._by_context is None:
            grouped: dict[Any, list[Event]] = {}
            for event in self.events:
                if event.context_id is not None:
                    grouped.setdefault(event.context_id, []).append(event)
            self._by_context = grouped
        return self._by_context

    def of(self, *labels: str) -> Iterator[Event]:
        return (e for e in self.events if e.label in labels)


def entry_key(event: Event, context: ContextInfo | None) -> str:
    """An entry is a request or command run (its request id groups its service calls on the
    entry page); writes without a context are grouped by transaction (they share its time)."""
    if context is None:
        return "unattributed:" + event.created_at.isoformat()
    return str(context.metadata.get("request_id") or context.id)


def hit(batch: Batch, event: Event, summary: str, **extra: Any) -> Hit:
    context = batch.contexts.get(event.context_id)
    return Hit(
        entry_key=entry_key(event, context),
        summary=summary,
        events=[event.ref],
        context=context,
        occurred_at=event.created_at,
        **extra,
    )


def money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return None


def _currencies() -> list[str]:
    return [code for code, _name in settings.CURRENCIES]


# The rules -----------------------------------------------------------------------------------


def _price_overrides(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    for event in batch.of("hosting.service"):
        row, prior = event.row or {}, event.prior
        if not row.get("price_overridden") or event.operation == DELETE:
            continue
        newly = event.operation == INSERT or prior is None or not prior.get("price_overridden")
        repriced = prior is not None and any(
            prior.get(k) != row.get(k) for k in ("first_payment_amount", "recurring_amount")
        )
        if newly or repriced:
            yield hit(
                batch,
                event,
                f"Hosting account #{event.object_id}: price other than the catalog's "
                f"({row.get('recurring_amount')} recurring)",
                amount=money(row.get("recurring_amount")),
            )
    for event in batch.of("orders.order"):
        row = event.row or {}
        if event.operation == INSERT and row.get("price_override_reason"):
            yield hit(batch, event, f"Order #{event.object_id} placed with a custom price")


def _backdated(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    names = {
        "billing.transaction": "Transaction",
        "support.ticket": "Ticket",
        "clients.client": "Client sign-up date",
    }
    for event in batch.of(*names):
        row, prior = event.row or {}, event.prior
        if not row.get("backdated") or event.operation == DELETE:
            continue
        if event.operation == UPDATE and prior is not None and prior.get("backdated"):
            continue  # already back-dated before this change
        amount = currency = None
        if event.label == "billing.transaction":
            amount = money(row.get("amount_in")) or money(row.get("amount_out"))
            currency = row.get("currency") or ""
        yield hit(
            batch,
            event,
            f"{names[event.label]} #{event.object_id} back-dated",
            amount=amount,
            currency=currency or "",
        )


def _threshold(params: dict[str, Any], currency: str) -> Decimal | None:
    value = (params.get("thresholds") or {}).get(currency)
    return money(value) if value not in (None, "") else None


def _large_credit(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    for event in batch.of("billing.creditentry"):
        row = event.row or {}
        if event.operation != INSERT or row.get("kind") != "added":
            continue
        amount, currency = money(row.get("amount")), row.get("currency", "")
        limit = _threshold(params, currency)
        if amount is not None and limit is not None and amount >= limit:
            yield hit(
                batch,
                event,
                f"Credit of {amount} {currency} added",
                amount=amount,
                currency=currency,
            )


def _large_refund(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    for event in batch.of("billing.transaction"):
        row = event.row or {}
        if event.operation != INSERT or row.get("kind") != "refund":
            continue
        amount, currency = money(row.get("amount_out")), row.get("currency", "")
        limit = _threshold(params, currency)
        if amount is not None and limit is not None and amount >= limit:
            yield hit(
                batch, event, f"Refund of {amount} {currency}", amount=amount, currency=currency
            )


def _mark_paid(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    for event in batch.of("billing.invoice"):
        context = batch.contexts.get(event.context_id)
        row = event.row or {}
        if (
            context is not None
            and context.metadata.get("action") == "billing.mark_invoice_paid"
            and event.operation == UPDATE
            and row.get("status") == "paid"
        ):
            yield hit(
                batch,
                event,
                f"Invoice #{event.object_id} marked paid without a payment",
                amount=money(row.get("total")),
                currency=row.get("currency", ""),
            )


def _deletes(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    ignored = set(params.get("ignore_models") or ())
    for event in batch.events:
        if event.operation == DELETE and event.label not in ignored:
            name = event.label.split(".")[1]
            yield hit(batch, event, f"Deleted {name} #{event.object_id}")


def _secret_reveals(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    for event in batch.of("hosting.secretreveal"):
        if event.operation == INSERT:
            row = event.row or {}
            what = "EPP code" if row.get("field") == "epp_code" else "password"
            target = (
                f"domain #{row['domain_id']}"
                if row.get("domain_id")
                else f"hosting account #{row.get('service_id')}"
            )
            yield hit(batch, event, f"Revealed the {what} of {target}")


def _outside_hours(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    start, end = int(params.get("start_hour", 7)), int(params.get("end_hour", 20))
    days = {int(d) for d in params.get("days", range(5))}
    for context_id, events in batch.by_context().items():
        context = batch.contexts.get(context_id)
        if context is None or context.user_id is None:
            continue
        local = timezone.localtime(context.created_at)
        if local.weekday() in days and start <= local.hour < end:
            continue
        yield Hit(
            entry_key=entry_key(events[0], context),
            summary=f"Written by {context.metadata.get('username', 'a user')} at "
            f"{local:%a %H:%M}, outside {start:02d}:00 to {end:02d}:00",
            events=[e.ref for e in events],
            context=context,
            occurred_at=context.created_at,
        )


def _unattributed(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    channels = set(params.get("channels") or ())
    commands = set(params.get("commands") or ())
    for event in batch.events:
        if event.context_id is None:
            yield hit(batch, event, "Written outside the app (no audit context: psql?)")
    for context_id, events in batch.by_context().items():
        context = batch.contexts.get(context_id)
        if context is None or context.user_id is not None:
            continue
        channel = context.metadata.get("channel", OTHER)
        command = context.metadata.get("command", "")
        if channel in channels or (channel == COMMAND and command in commands):
            where = f"manage.py {command}" if channel == COMMAND else f"channel {channel}"
            yield Hit(
                entry_key=entry_key(events[0], context),
                summary=f"No staff member in the context ({where})",
                events=[e.ref for e in events],
                context=context,
                occurred_at=context.created_at,
            )


def _after_reset(batch: Batch, params: dict[str, Any]) -> Iterable[Hit]:
    window = dt.timedelta(hours=int(params.get("hours", 24)))
    attributed = {
        cid: c
        for cid, c in batch.contexts.items()
        if c.user_id is not None or c.metadata.get("username")
    }
    if not attributed:
        return
    since = min(c.created_at for c in attributed.values()) - window
    resets = batch.load_resets(since)
    if not resets:
        return
    for context_id, events in batch.by_context().items():
        context = attributed.get(context_id)
        if context is None:
            continue
        for user_id, username, kind, at in resets:
            same = (user_id is not None and user_id == context.user_id) or (
                username and username == context.metadata.get("username")
            )
            if same and at <= context.created_at <= at + window:
                what = "second-factor reset" if kind == "otp_reset" else "lockout"
                yield Hit(
                    entry_key=entry_key(events[0], context),
                    summary=f"Written by {context.metadata.get('username', 'a user')} within "
                    f"{window.total_seconds() / 3600:g} h of their {what} "
                    f"({timezone.localtime(at):%Y-%m-%d %H:%M})",
                    events=[e.ref for e in events],
                    context=context,
                    occurred_at=context.created_at,
                )
                break


# The kinds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    check: Callable[[Batch, dict[str, Any]], Iterable[Hit]]
    defaults: Callable[[], dict[str, Any]]
    # Models whose rows (and prior rows) the check reads; events of others come bare.
    reads: tuple[str, ...] = ()
    describe: Callable[[dict[str, Any]], str] = lambda params: ""


def _thresholds_text(params: dict[str, Any]) -> str:
    parts = [f"{v} {k}" for k, v in sorted((params.get("thresholds") or {}).items()) if v]
    return "at or above " + ", ".join(parts) if parts else "no threshold set: nothing flagged"


def _amounts() -> dict[str, Any]:
    return {"thresholds": dict.fromkeys(_currencies(), "500.00")}


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind(
            "price_override",
            "Price overrides",
            _price_overrides,
            dict,
            reads=("hosting.service", "orders.order"),
            describe=lambda p: "A hosting account or order priced other than the catalog.",
        ),
        Kind(
            "backdated",
            "Back-dated entries",
            _backdated,
            dict,
            reads=("billing.transaction", "support.ticket", "clients.client"),
            describe=lambda p: "Transactions, tickets and sign-up dates entered in the past.",
        ),
        Kind(
            "large_credit",
            "Large credit",
            _large_credit,
            _amounts,
            reads=("billing.creditentry",),
            describe=lambda p: "Credit added " + _thresholds_text(p) + ".",
        ),
        Kind(
            "large_refund",
            "Large refunds",
            _large_refund,
            _amounts,
            reads=("billing.transaction",),
            describe=lambda p: "Refunds " + _thresholds_text(p) + ".",
        ),
        Kind(
            "mark_paid",
            "Marked paid without money",
            _mark_paid,
            dict,
            reads=("billing.invoice",),
            describe=lambda p: "Invoices marked paid with no payment (write-off, settlement).",
        ),
        Kind(
            "deletes",
            "Deletes",
            _deletes,
            # Django-axes clears a user's failure count at each successful sign-in: not a
            # staff decision.
            lambda: {"ignore_models": ["accounts.failedsignins"]},
            describe=lambda p: (
                "Any record deleted"
                + (f" (except {', '.join(p['ignore_models'])})" if p.get("ignore_models") else "")
                + "."
            ),
        ),
        Kind(
            "secret_reveal",
            "Secret reveals",
            _secret_reveals,
            dict,
            reads=("hosting.secretreveal",),
            describe=lambda p: "A hosting password or EPP code revealed.",
        ),
        Kind(
            "outside_hours",
            "Outside usual hours",
            _outside_hours,
            lambda: {"start_hour": 7, "end_hour": 20, "days": [0, 1, 2, 3, 4]},
            describe=lambda p: (
                f"Writes by staff outside {int(p.get('start_hour', 7)):02d}:00 to "
                f"{int(p.get('end_hour', 20)):02d}:00 on "
                + ", ".join(n[:3] for d, n in WEEKDAYS if d in p.get("days", []))
                + f" ({settings.TIME_ZONE})."
            ),
        ),
        Kind(
            "unattributed",
            "Unattributed writes",
            _unattributed,
            lambda: {"channels": [OTHER], "commands": ["shell", "dbshell"]},
            describe=lambda p: (
                "Writes without any context (psql), and contexts with no staff "
                "member on channel "
                + (", ".join(p.get("channels") or []) or "—")
                + " or from manage.py "
                + (", ".join(p.get("commands") or []) or "—")
                + "."
            ),
        ),
        Kind(
            "after_reset",
            "After a second-factor reset or lockout",
            _after_reset,
            lambda: {"hours": 24},
            describe=lambda p: (
                f"Anything a user writes within {p.get('hours', 24)} hours "
                "after their second factor was reset or they were locked out."
            ),
        ),
    )
}


def describe(kind: Kind, params: dict[str, Any]) -> str:
    return kind.describe({**kind.defaults(), **params})


def params_of(rule: Any) -> dict[str, Any]:
    """The rule's parameters, a default filling any the row lacks (a parameter added later)."""
    kind = KINDS[rule.key]
    return {**kind.defaults(), **(rule.params or {})}


def ensure_default_rules() -> int:
    """Create the rules that do not exist yet, switched on with their defaults; returns how
    many. An existing row (an Admin's edits) is never changed."""
    from review.models import ReviewRule

    existing = set(ReviewRule.objects.values_list("key", flat=True))
    missing = [key for key in KINDS if key not in existing]
    if not missing:
        return 0
    # Under the caller's context: migrate's (channel command) or the scan's.
    ReviewRule.objects.bulk_create(
        [ReviewRule(key=key, params=KINDS[key].defaults()) for key in missing],
        ignore_conflicts=True,
    )
    return len(missing)


# Parameter forms -----------------------------------------------------------------------------


def param_fields(key: str) -> dict[str, forms.Field]:
    """The form fields of a rule's parameters (``review.forms.RuleForm`` adds them)."""
    if key in ("large_credit", "large_refund"):
        return {
            f"threshold_{code}": forms.DecimalField(
                label=f"Threshold in {code}",
                required=False,
                min_value=Decimal("0.01"),
                max_digits=12,
                decimal_places=2,
                help_text="Blank: nothing in this currency is flagged.",
            )
            for code in _currencies()
        }
    if key == "outside_hours":
        return {
            "start_hour": forms.IntegerField(
                label="Usual hours start (hour)", min_value=0, max_value=24
            ),
            "end_hour": forms.IntegerField(
                label="Usual hours end (hour)", min_value=0, max_value=24
            ),
            "days": forms.TypedMultipleChoiceField(
                label="Usual days",
                choices=WEEKDAYS,
                coerce=int,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            ),
        }
    if key == "unattributed":
        return {
            "channels": forms.MultipleChoiceField(
                label="Channels where a context without a staff member counts",
                choices=[(c, c) for c in audit.context.CHANNELS],
                required=False,
                widget=forms.CheckboxSelectMultiple,
            ),
            "commands": forms.CharField(
                label="Commands whose writes count (comma-separated)",
                required=False,
                max_length=300,
            ),
        }
    if key == "after_reset":
        return {"hours": forms.IntegerField(label="Hours after", min_value=1, max_value=720)}
    if key == "deletes":
        return {
            "ignore_models": forms.CharField(
                label="Record types not flagged (comma-separated labels)",
                required=False,
                max_length=500,
            )
        }
    return {}


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def params_from_form(key: str, cleaned: dict[str, Any]) -> dict[str, Any]:
    if key in ("large_credit", "large_refund"):
        return {
            "thresholds": {
                code: str(cleaned[f"threshold_{code}"])
                for code in _currencies()
                if cleaned.get(f"threshold_{code}") is not None
            }
        }
    if key == "outside_hours":
        return {
            "start_hour": cleaned["start_hour"],
            "end_hour": cleaned["end_hour"],
            "days": sorted(cleaned["days"]),
        }
    if key == "unattributed":
        return {"channels": list(cleaned["channels"]), "commands": _split(cleaned["commands"])}
    if key == "after_reset":
        return {"hours": cleaned["hours"]}
    if key == "deletes":
        return {"ignore_models": _split(cleaned["ignore_models"])}
    return {}


def form_initial(key: str, params: dict[str, Any]) -> dict[str, Any]:
    if key in ("large_credit", "large_refund"):
        return {f"threshold_{k}": v for k, v in (params.get("thresholds") or {}).items()}
    if key == "unattributed":
        return {
            "channels": params.get("channels"),
            "commands": ", ".join(params.get("commands") or []),
        }
    if key == "deletes":
        return {"ignore_models": ", ".join(params.get("ignore_models") or [])}
    return dict(params)
