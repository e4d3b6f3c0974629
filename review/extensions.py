"""What the review queue adds: its sidebar section and the dashboard's count waiting
(reviewers: ``review.review_entry``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.extension_points import DashboardPanel, NavSection, cached_figures, register
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


register(
    NavSection("review-queue", "Review queue", "review:queue", REVIEW, heading="Audit"),
    DashboardPanel("review", REVIEW, "review/includes/_dashboard.html", _waiting),
)
