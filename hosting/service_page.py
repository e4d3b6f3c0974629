"""Tabs that other apps add to a hosting account's page (orders adds "Changes": upgrades,
downgrades and cancellations). Registered from each app's ``AppConfig.ready`` so hosting never
imports them; ``context(request, service)`` returns the tab's template variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clients.profile import ProfileTab

_TABS: dict[str, ProfileTab] = {}


def register_service_tab(tab: ProfileTab) -> None:
    _TABS[tab.key] = tab


def service_tabs() -> list[ProfileTab]:
    return sorted(_TABS.values(), key=lambda t: (t.order, t.key))


# Short notices at the top of the page (a pending upgrade, a cancellation due on a date...).
NoticeSource = Callable[[Any], list[str]]
_NOTICES: list[NoticeSource] = []


def register_service_notice(source: NoticeSource) -> None:
    """``source(service)`` returns zero or more sentences shown above the tabs."""
    if source not in _NOTICES:
        _NOTICES.append(source)


def service_notices(service: Any) -> list[str]:
    return [text for source in _NOTICES for text in source(service)]
