from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from core.extension_points import NavSection, visible


def _sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """The sections the user may open, grouped by heading (the main list first, heading "")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    items = []
    for section in visible(NavSection, request.user):
        url = reverse(section.url_name)
        item = {"label": section.label, "url": url, "active": False}
        items.append(item)
        groups.setdefault(section.heading, []).append(item)
    # The one section the page is under: the longest URL it starts with (/audit/reasons/ is
    # "Reason codes", not also "Audit trail" at /audit/).
    under = [
        i
        for i in items
        if request.path == i["url"] or (i["url"] != "/" and request.path.startswith(i["url"]))
    ]
    if under:
        max(under, key=lambda i: len(i["url"]))["active"] = True
    return [{"heading": heading, "items": items} for heading, items in groups.items()]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_groups": _sidebar(request),
        "nav_roles": list(user.groups.order_by("name").values_list("name", flat=True)),
    }
