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


# Records a note can be about: each app offers its kinds for a given client.
_NOTE_SUBJECTS: dict[str, Callable[[Any], list[Any]]] = {}


def register_note_subject(label: str, records_for_client: Callable[[Any], list[Any]]) -> None:
    """``records_for_client(client)`` returns the client's records of that kind (bounded)."""
    _NOTE_SUBJECTS[label] = records_for_client


def note_subject_choices(client: Any) -> list[tuple[str, str]]:
    choices = []
    for _kind, records in sorted(_NOTE_SUBJECTS.items()):
        for record in records(client):
            kind = str(record._meta.verbose_name).capitalize()
            choices.append((f"{record._meta.label_lower}:{record.pk}", f"{kind}: {record}"))
    return choices
