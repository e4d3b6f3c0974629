"""Tabs that other apps add to the client profile (hosting adds Services and Domains...).

Dependencies point one way (clients ← hosting ← billing): the client profile does not import
those apps; each registers its tab here from its ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class ProfileTab:
    key: str
    label: str
    permission: str
    template: str
    context: Callable[[HttpRequest, Any], dict[str, Any]]
    order: int = 100


_TABS: dict[str, ProfileTab] = {}


def register_tab(tab: ProfileTab) -> None:
    _TABS[tab.key] = tab


def extra_tabs() -> list[ProfileTab]:
    return sorted(_TABS.values(), key=lambda t: (t.order, t.key))
