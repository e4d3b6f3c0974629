"""Panels other apps add to the dashboard (core does not import them; they register here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
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


def cached_figures(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The panel's counts and totals, computed at most once per ``DASHBOARD_FIGURES_SECONDS``.

    Counting hundreds of thousands of rows on every visit is most of the dashboard's cost; staff
    can live with figures a few seconds old (the page says how old). The lists beside them (the
    most overdue invoices, the pending orders) stay live. 0 turns the cache off (the tests).
    """
    seconds = settings.DASHBOARD_FIGURES_SECONDS
    if not seconds:
        return compute()
    figures = cache.get(f"dashboard:{key}")
    if figures is None:
        figures = compute()
        cache.set(f"dashboard:{key}", figures, seconds)
    return figures
