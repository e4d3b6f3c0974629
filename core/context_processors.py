from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from core.extension_points import NavSection, visible


def _sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """The sections the user may open, grouped by heading (the main list first, heading "")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    items: list[tuple[str, dict[str, Any]]] = []
    for section in visible(NavSection, request.user):
        url = reverse(section.url_name)
        item = {"label": section.label, "url": url, "active": False}
        items.append((url, item))
        groups.setdefault(section.heading, []).append(item)
    # The one section the page is under: the longest URL it starts with (/audit/reasons/ is
    # "Reason codes", not also "Audit trail" at /audit/).
    path = request.path
    under = [(u, i) for u, i in items if path == u or (u != "/" and path.startswith(u))]
    if under:
        max(under, key=lambda pair: len(pair[0]))[1]["active"] = True
    return [{"heading": heading, "items": items} for heading, items in groups.items()]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_groups": _sidebar(request),
        "nav_roles": list(user.groups.order_by("name").values_list("name", flat=True)),
    }
