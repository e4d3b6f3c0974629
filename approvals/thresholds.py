"""When an entry needs a second person: ``APPROVAL_THRESHOLDS``, one entry per right.

Each entry says what makes that right's entries wait (``README.md``, "Roles and rights"):

- ``{"above": {"USD": "100", "*": "100"}}``: an amount above the currency's figure (``*`` for a
  currency not listed);
- ``{"always": true}``: every entry;
- ``{"below_catalog": "0.5"}``: a price below that share of the catalog's;
- ``{"days": 7}``: a date more than that many days before today.

A right missing from the setting never waits. ``check`` answers for one entry: ``None`` (go on)
or what the maker and the approver are told.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

ANY_CURRENCY = "*"


@dataclass(frozen=True)
class Needed:
    right: str
    why: str
    amount: Decimal | None = None
    currency: str = ""


def threshold(right: str) -> dict[str, Any] | None:
    return settings.APPROVAL_THRESHOLDS.get(right)


def check(
    right: str,
    *,
    label: str,
    amount: Decimal | None = None,
    currency: str = "",
    ratio: Decimal | None = None,
    date: dt.date | None = None,
) -> Needed | None:
    """Whether an entry of ``right`` (``label`` names it for people: "Refunds") must wait."""
    rule = threshold(right)
    if not rule:
        return None

    def needed(why: str) -> Needed:
        return Needed(right, why, amount=amount, currency=currency)

    if rule.get("always"):
        return needed(f"{label} always need a second person's approval.")
    if "above" in rule and amount is not None:
        limits = rule["above"]
        limit = limits.get(currency, limits.get(ANY_CURRENCY))
        if limit is not None and amount > Decimal(str(limit)):
            return needed(
                f"{label} above {Decimal(str(limit)):.2f} {currency} need a second person's "
                "approval."
            )
    if "below_catalog" in rule and ratio is not None:
        share = Decimal(str(rule["below_catalog"]))
        if ratio < share:
            return needed(
                f"{label} below {share * 100:.0f} % of the catalog price need a second "
                "person's approval."
            )
    if "days" in rule and date is not None:
        days = int(rule["days"])
        if (timezone.localdate() - date).days > days:
            return needed(
                f"{label} dated more than {days} days back need a second person's approval."
            )
    return None


def describe(right: str) -> str:
    """The setting of ``right`` in words (the Roles page and the README say the same)."""
    rule = threshold(right)
    if not rule:
        return "never waits"
    if rule.get("always"):
        return "always waits for a second person"
    parts = []
    if "above" in rule:
        limits = ", ".join(
            f"{v} {'(other currencies)' if k == ANY_CURRENCY else k}"
            for k, v in rule["above"].items()
        )
        parts.append(f"above {limits}")
    if "below_catalog" in rule:
        parts.append(f"below {Decimal(str(rule['below_catalog'])) * 100:.0f} % of the catalog")
    if "days" in rule:
        parts.append(f"dated more than {rule['days']} days back")
    return "waits when " + "; ".join(parts)
