"""What audit adds: the Audit sections of the sidebar and the dashboard's latest manual entries
(Admins: ``audit.review_audit``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from audit.feed import Feed, FeedFilters
from core.extension_points import DashboardPanel, NavSection, register

REVIEW = "audit.review_audit"


def _latest_entries(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    return {"recent_events": Feed(FeedFilters()).page(per_page=8).rows}


register(
    NavSection("audit-feed", "Audit trail", "audit:feed", REVIEW, heading="Audit"),
    NavSection("reasons", "Reason codes", "audit:reasons", REVIEW, heading="Audit"),
    NavSection("staff-sessions", "Staff sessions", "audit:staff-sessions", REVIEW, heading="Audit"),
    NavSection("roles", "Roles", "audit:roles", "auth.change_group", heading="Audit"),
    DashboardPanel("audit", REVIEW, "audit/includes/_dashboard.html", _latest_entries),
)
