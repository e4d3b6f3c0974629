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


# Records a note can be about: each app offers its kinds for a given client and user.
NoteRecords = Callable[[Any, Any], Any]
_NOTE_SUBJECTS: dict[str, tuple[NoteRecords, int]] = {}


def register_note_subject(label: str, records: NoteRecords, *, limit: int = 50) -> None:
    """``records(client, user)``: a QuerySet of the client's records of that kind that ``user``
    may see, in the order offered; the "About" list offers the first ``limit`` of them."""
    _NOTE_SUBJECTS[label] = (records, limit)


def note_subject_choices(client: Any, user: Any) -> list[tuple[str, str]]:
    choices = []
    for _kind, (records, limit) in sorted(_NOTE_SUBJECTS.items()):
        for record in records(client, user)[:limit]:
            kind = str(record._meta.verbose_name).capitalize()
            choices.append((f"{record._meta.label_lower}:{record.pk}", f"{kind}: {record}"))
    return choices


def mark_hidden_subjects(notes: list[Any], client: Any, user: Any) -> None:
    """Set ``about_hidden`` on each note whose record ``user`` may not see (a ticket of a
    restricted department...), by the same ``records`` rule that builds the "About" list: one
    query per kind present. A kind no app registers is hidden too."""
    by_label: dict[str, list[Any]] = {}
    for note in notes:
        note.about_hidden = False
        if note.about_type_id is not None:
            label = f"{note.about_type.app_label}.{note.about_type.model}"
            by_label.setdefault(label, []).append(note)
    for label, about in by_label.items():
        visible: set[int] = set()
        if label in _NOTE_SUBJECTS:
            records, _limit = _NOTE_SUBJECTS[label]
            ids = {n.about_id for n in about}
            visible = set(records(client, user).filter(pk__in=ids).values_list("pk", flat=True))
        for note in about:
            note.about_hidden = note.about_id not in visible
