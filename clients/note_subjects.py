"""What a note can be about: the records other apps offer through ``NoteSubject``
(``core/extension_points.py``), each filtered for the user who reads or writes the note."""

from __future__ import annotations

from typing import Any

from core import extension_points
from core.extension_points import NoteSubject, registered


def note_subject_choices(client: Any, user: Any) -> list[tuple[str, str]]:
    choices = []
    for subject in sorted(registered(NoteSubject), key=lambda s: s.key):
        for record in subject.records(client=client, user=user)[: subject.limit]:
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
        subject = extension_points.get(NoteSubject, label)
        if subject is not None:
            ids = {n.about_id for n in about}
            rows = subject.records(client=client, user=user).filter(pk__in=ids)
            visible = set(rows.values_list("pk", flat=True))
        for note in about:
            note.about_hidden = note.about_id not in visible
