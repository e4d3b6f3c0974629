"""Panels other apps add to the dashboard (core does not import them; they register here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    key: str
    permission: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]
    order: int = 100


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _PANELS[panel.key] = panel


def panels_for(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"template": p.template, **p.context(request)}
        for p in sorted(_PANELS.values(), key=lambda p: (p.order, p.key))
        if request.user.has_perm(p.permission)
    ]
