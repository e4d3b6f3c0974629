"""The client app's own timeline entries: notes, emails sent, and the audit trail of the client
record (Admins only, like the History tab)."""

from __future__ import annotations

from typing import Any

from audit.feed import hydrate, model_label
from audit.tracking import event_model_for
from clients.models import Client, EmailLog, Note
from clients.timeline import TimelineSource, in_bulk, register_source


def _audit_load(pks: list[int]) -> dict[int, Any]:
    event_model = event_model_for(Client)
    label = model_label(event_model)
    rows = hydrate([(label, pk) for pk in pks], {label: event_model})
    return {row.event.pgh_id: row for row in rows}


def _audit_rows(client: Client, user: Any) -> Any:
    return event_model_for(Client).objects.filter(pgh_obj_id=client.pk)


register_source(
    TimelineSource(
        "note",
        "Notes",
        "clients.view_note",
        lambda client, user: Note.objects.filter(client=client),
        "created_at",
        in_bulk(Note.objects.select_related("author")),
        "clients/timeline/_note.html",
        order=10,
    )
)
register_source(
    TimelineSource(
        "email",
        "Emails sent",
        "clients.view_emaillog",
        lambda client, user: EmailLog.objects.filter(client=client),
        "created_at",
        in_bulk(EmailLog.objects.select_related("triggered_by")),
        "clients/timeline/_email.html",
        order=80,
    )
)
register_source(
    TimelineSource(
        "audit",
        "Audit entries",
        "audit.review_audit",
        _audit_rows,
        "pgh_created_at",
        _audit_load,
        "clients/timeline/_audit.html",
        order=90,
    )
)
