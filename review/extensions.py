"""What the review queue adds: its sidebar section and the dashboard's count waiting
(reviewers: ``review.review_entry``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.extension_points import (
    DashboardPanel,
    FeedFilter,
    NavSection,
    cached_figures,
    register,
)
from review.models import FlaggedEntry

REVIEW = "review.review_entry"


def _figures() -> dict[str, Any]:
    open_entries = FlaggedEntry.objects.open()
    return {
        "waiting": open_entries.filter(status=FlaggedEntry.Status.WAITING).count(),
        "escalated": open_entries.filter(status=FlaggedEntry.Status.ESCALATED).count(),
    }


def _waiting(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    return cached_figures("review", _figures)


# The feed's "review state": the contexts of the newest flagged entries in that state (an
# ``ANY`` over each event table's context index, so bounded).
FEED_CONTEXTS_LIMIT = 2_000
FEED_STATES = [
    ("open", "Flagged, to decide"),
    (FlaggedEntry.Status.WAITING, "Flagged, waiting"),
    (FlaggedEntry.Status.ESCALATED, "Flagged, escalated"),
    (FlaggedEntry.Status.REVIEWED, "Flagged, reviewed"),
    ("any", "Flagged, any state"),
]


def _flagged_contexts(*, value: str) -> list[Any]:
    flagged = FlaggedEntry.objects.exclude(context_id=None)
    if value == "open":
        flagged = flagged.open()
    elif value != "any":
        flagged = flagged.filter(status=value)
    return list(flagged.newest_first().values_list("context_id", flat=True)[:FEED_CONTEXTS_LIMIT])


register(
    FeedFilter("review_state", "Review state", FEED_STATES, _flagged_contexts),
    NavSection("review-queue", "Review queue", "review:queue", REVIEW, heading="Audit"),
    DashboardPanel("review", REVIEW, "review/includes/_dashboard.html", _waiting),
)
