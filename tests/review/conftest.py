from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from review.models import FlaggedEntry, ReviewRule
from review.rules import ensure_default_rules
from review.scan import scan_trail

ALL_DAY_EVERY_DAY = {"start_hour": 0, "end_hour": 24, "days": [0, 1, 2, 3, 4, 5, 6]}


@pytest.fixture(autouse=True)
def _usual_hours_all_week(db):
    """The outside-hours rule would flag whatever a test writes at night; its own tests set it."""
    ensure_default_rules()
    ReviewRule.objects.filter(key="outside_hours").update(params=ALL_DAY_EVERY_DAY)


@pytest.fixture
def flags_of() -> Callable[[Callable[[], Any]], list[FlaggedEntry]]:
    """What a write (the callable) gets flagged for: the trail is scanned before and after, and
    only the flags the second scan added are returned."""

    def run(write: Callable[[], Any]) -> list[FlaggedEntry]:
        scan_trail()
        before = set(FlaggedEntry.objects.values_list("pk", flat=True))
        write()
        scan_trail()
        return list(FlaggedEntry.objects.exclude(pk__in=before).select_related("rule"))

    return run


def rule_keys(flags: list[FlaggedEntry]) -> set[str]:
    return {f.rule.key for f in flags}


def set_rule(key: str, **params: Any) -> None:
    rule = ReviewRule.objects.get(key=key)
    ReviewRule.objects.filter(pk=rule.pk).update(params={**rule.params, **params})
