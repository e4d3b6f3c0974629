from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from core.extension_points import NavSection, visible


def _sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """The sections the user may open, grouped by heading (the main list first, heading "")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for section in visible(NavSection, request.user):
        url = reverse(section.url_name)
        active = request.path == url or (url != "/" and request.path.startswith(url))
        item = {"label": section.label, "url": url, "active": active}
        groups.setdefault(section.heading, []).append(item)
    return [{"heading": heading, "items": items} for heading, items in groups.items()]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_groups": _sidebar(request),
        "nav_roles": list(user.groups.order_by("name").values_list("name", flat=True)),
    }
