"""Reason codes: the short, countable reasons of the sensitive actions (issue 19 §2).

A page whose action has a list (``ReasonCodeMixin.reason_codes`` names it) shows a required
"Reason code" choice above its free-text reason; a code marked ``needs_text`` ("other") needs
the text too. The code goes into the audit context of everything the service writes
(``reason_code``, with the ``amount`` and ``currency`` the entry moves when it moves money), so
the feed filters on it and ``report`` counts it: per month, action, code and staff member, with
the sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.db import connection

import audit.context
from audit.models import ReasonCode
from audit.reason_defaults import DEFAULTS

OTHER_NEEDS_TEXT = "Say what it was: this reason needs the text."


def ship_defaults() -> int:
    """Create the shipped codes that do not exist yet (after every ``migrate`` and ``flush``).

    A code is never deleted, only switched off, so what an Admin switched off or renamed stays
    as they left it; a code added to ``DEFAULTS`` later appears once."""
    existing = set(ReasonCode.objects.values_list("action", "code"))
    missing = [
        ReasonCode(action=action, code=code, label=label, position=position, needs_text=needs)
        for action, codes in DEFAULTS.items()
        for position, (code, label, needs) in enumerate(codes)
        if (action, code) not in existing
    ]
    if missing:
        # Under the caller's context (``migrate``'s command run); a frame of its own would add
        # a context row to every ``flush``.
        ReasonCode.objects.bulk_create(missing)
    return len(missing)


def codes_for(action: str) -> list[ReasonCode]:
    return list(ReasonCode.objects.filter(action=action, active=True).order_by("position", "code"))


def label_of(action: str, code: str) -> str:
    found = ReasonCode.objects.filter(action=action, code=code).values_list("label", flat=True)
    return next(iter(found), code)


class ReasonCodeMixin:
    """For a write view of a sensitive action: ``reason_codes`` (the list's action) adds the
    required choice to the form; ``reason_field`` is the form's free-text reason, which a code
    like "other" requires; ``reason_amount(form)`` / ``reason_currency(form)`` say what money
    the entry moves (None: none). The service then runs inside a frame carrying the code."""

    reason_codes = ""
    reason_field = "reason"

    def get_form(self, data: Any = None, files: Any = None) -> forms.BaseForm:
        form = super().get_form(data, files)  # type: ignore[misc]  # a WriteView
        codes = codes_for(self.reason_codes)
        if codes:
            self._codes = {c.code: c for c in codes}
            field = forms.ChoiceField(
                label="Reason code",
                required=self.reason_codes not in settings.REASON_CODES_OPTIONAL,
                choices=[("", "Choose a reason"), *((c.code, c.label) for c in codes)],
                help_text="Counted on the reasons report; the text below says more.",
            )
            # Above the free text, so the page reads code, then words.
            fields = list(form.fields.items())
            at = next(
                (i for i, (n, _f) in enumerate(fields) if n == self.reason_field), len(fields)
            )
            fields.insert(at, ("reason_code", field))
            form.fields = dict(fields)
        return form

    def is_valid(self, form: Any) -> bool:
        valid = super().is_valid(form)  # type: ignore[misc]  # a WriteView
        code = form.cleaned_data.get("reason_code") if hasattr(form, "cleaned_data") else None
        chosen = getattr(self, "_codes", {}).get(code or "")
        if chosen is not None and chosen.needs_text:
            text = (form.cleaned_data.get(self.reason_field) or "").strip()
            if not text and self.reason_field not in form.errors:
                form.add_error(
                    self.reason_field,
                    forms.ValidationError(OTHER_NEEDS_TEXT, code="reason_required"),
                )
                return False
        return valid

    def reason_amount(self, form: Any) -> Decimal | None:
        return None

    def reason_currency(self, form: Any) -> str:
        return ""

    def reason_metadata(self, form: Any) -> dict[str, Any]:
        code = form.cleaned_data.get("reason_code") or ""
        if not code:
            return {}
        amount = self.reason_amount(form)
        return {
            "reason_code": code,
            "amount": str(amount) if amount is not None else None,
            "currency": self.reason_currency(form) if amount is not None else None,
        }

    def act(self, form: Any) -> Any:
        metadata = self.reason_metadata(form)
        if not metadata:
            return super().act(form)  # type: ignore[misc]  # a WriteView
        with audit.context.context(**metadata):
            return super().act(form)  # type: ignore[misc]  # a WriteView


# The report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    month: dt.date
    action: str
    code: str
    label: str
    username: str
    count: int
    currency: str
    amount: Decimal | None


def report(
    *, since: dt.date | None = None, until: dt.date | None = None, action: str = ""
) -> list[ReportRow]:
    """Entries with a reason code, counted per month, action, code, staff member and currency.

    Only the service call the page made carries the code (``audit.context.REASON_KEYS``), so
    each entry counts once; read through the partial index on ``reason_code``."""
    conds = ["metadata ? 'reason_code'"]
    params: list[Any] = []
    if action:
        conds.append("metadata->>'action' = %s")
        params.append(action)
    if since:
        conds.append("created_at >= %s")
        params.append(since)
    if until:
        conds.append("created_at < %s")
        params.append(until + dt.timedelta(days=1))
    sql = f"""
        SELECT date_trunc('month', created_at)::date AS month,
               metadata->>'action', metadata->>'reason_code',
               coalesce(metadata->>'username', ''), count(*),
               coalesce(metadata->>'currency', ''),
               sum(nullif(metadata->>'amount', '')::numeric)
          FROM pghistory_context
         WHERE {" AND ".join(conds)}
         GROUP BY 1, 2, 3, 4, 6
         ORDER BY 1 DESC, 2, 3, 4, 6
    """  # noqa: S608 - the conditions are ours; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    # The list's own label (its active, newest row); a code counted under an action that shares
    # another's list (removing credit) takes that code's label from any list.
    labels: dict[tuple[str, str], str] = {}
    by_code: dict[str, str] = {}
    for c in ReasonCode.objects.order_by("-active", "-id"):
        labels.setdefault((c.action, c.code), c.label)
        by_code.setdefault(c.code, c.label)

    def label(act: str, code: str) -> str:
        return labels.get((act, code)) or by_code.get(code, code)

    return [
        ReportRow(month, act, code, label(act, code), user, count, cur, amount)
        for month, act, code, user, count, cur, amount in found
    ]


def csv_lines(rows: list[ReportRow]) -> Iterator[list[str]]:
    yield [
        "month",
        "action",
        "reason code",
        "reason",
        "staff member",
        "entries",
        "currency",
        "amount",
    ]
    for r in rows:
        yield [
            f"{r.month:%Y-%m}",
            r.action,
            r.code,
            r.label,
            r.username,
            str(r.count),
            r.currency,
            "" if r.amount is None else f"{r.amount:.2f}",
        ]
