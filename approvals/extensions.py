"""Four eyes on the shared screens (core/extension_points.py): the Approvals link for every
staff member (makers follow their own requests there) and a dashboard panel with what waits for
the current user's decision and their own requests still waiting."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from approvals import services
from core.extension_points import DashboardPanel, NavSection, register

VIEW = "approvals.view_approvalrequest"
PANEL_LIMIT = 5


def _panel(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    waiting = services.waiting_for(user).select_related("maker").order_by("created_at", "id")
    mine = services.mine_waiting(user).order_by("-created_at", "-id")
    return {
        "waiting": list(waiting[:PANEL_LIMIT]),
        "waiting_count": waiting.count(),
        "mine": list(mine[:PANEL_LIMIT]),
        "mine_count": mine.count(),
    }


register(
    NavSection("approvals", "Approvals", "approvals:request-list", VIEW),
    DashboardPanel("approvals", VIEW, "approvals/includes/_dashboard.html", _panel),
)
