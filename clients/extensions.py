"""What the clients app registers (``core/extension_points.py``): its own profile tabs, the
timeline's notes, emails and audit entries, the dashboard's Clients panel, the sidebar's Clients
section, and the set-password email body written at delivery."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Count, Q
from django.http import HttpRequest

from audit.feed import hydrate, model_label
from audit.tracking import event_model_for
from clients import custom_fields, services, timeline
from clients.forms import NoteForm, custom_field_definitions
from clients.models import Client, Contact, EmailLog, Note
from clients.note_subjects import mark_hidden_subjects
from clients.timeline import in_bulk
from clients.widgets import ClientPickerWidget
from core.extension_points import (
    ApprovalAction,
    DashboardPanel,
    EmailBodySource,
    NavSection,
    ProfileTab,
    Reverter,
    TimelineSource,
    cached_figures,
    register,
)
from core.rights import require_right

VIEW = "clients.view_client"
TAB_PAGE_SIZE = 25

# The profile's own tabs ----------------------------------------------------------------------


def _summary(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    return {"contact_count": client.contacts.count()}


def _timeline(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    sources = timeline.sources_for(user)
    kinds = [k for k in request.GET.getlist("kind") if k in {s.kind for s in sources}]
    cursor = request.GET.get("after") or None
    return {
        "timeline": timeline.timeline_page(client=client, user=user, kinds=kinds, cursor=cursor),
        "timeline_sources": sources,
        "timeline_kinds": kinds,
        "timeline_cursor": cursor,
        "timeline_kind_query": "".join(f"&kind={k}" for k in kinds),
    }


def _contacts(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    return {"contacts": list(client.contacts.all()[:200])}


def _notes(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    notes = list(
        client.notes.select_related("author", "about_type")
        .prefetch_related("about")
        .pinned_first()[: TAB_PAGE_SIZE * 4]
    )
    mark_hidden_subjects(notes, client, user)
    return {"notes": notes, "note_form": NoteForm(client=client, user=user)}


def _custom(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    admin = user.has_perm("clients.manage_admin_only_fields")
    values = {v.field_id: v.value for v in client.custom_values.all()}
    return {
        "custom_rows": [
            (d, custom_fields.display(d, values.get(d.pk, "")))
            for d in custom_field_definitions(admin=admin)
        ]
    }


def _emails(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    return {"emails": list(client.emails.select_related("triggered_by")[: TAB_PAGE_SIZE * 4])}


register(
    ProfileTab("summary", "Summary", VIEW, "clients/includes/_tab_summary.html", _summary),
    ProfileTab("timeline", "Timeline", VIEW, "clients/includes/_timeline.html", _timeline),
    ProfileTab("contacts", "Contacts", VIEW, "clients/includes/_tab_contacts.html", _contacts),
    ProfileTab("notes", "Notes", VIEW, "clients/includes/_tab_notes.html", _notes),
    ProfileTab("custom", "Custom fields", VIEW, "clients/includes/_tab_custom.html", _custom),
    ProfileTab("emails", "Emails", VIEW, "clients/includes/_tab_emails.html", _emails),
)

# The client timeline: notes, emails sent, and the client record's audit trail (Admins only,
# like the History tab) ------------------------------------------------------------------------


def _client_events() -> Any:
    """The client record's event model (the client model is always tracked)."""
    event_model = event_model_for(Client)
    if event_model is None:
        raise LookupError("the client model is not tracked")
    return event_model


def _audit_load(pks: list[int]) -> dict[int, Any]:
    event_model = _client_events()
    label = model_label(event_model)
    rows = hydrate([(label, pk) for pk in pks], {label: event_model})
    return {row.event.pgh_id: row for row in rows}


def _audit_rows(*, client: Client, user: Any) -> Any:
    return _client_events().objects.filter(pgh_obj_id=client.pk)


register(
    TimelineSource(
        "note",
        "Notes",
        "clients.view_note",
        lambda *, client, user: Note.objects.filter(client=client),
        "created_at",
        in_bulk(Note.objects.select_related("author")),
        "clients/timeline/_note.html",
    ),
    TimelineSource(
        "email",
        "Emails sent",
        "clients.view_emaillog",
        lambda *, client, user: EmailLog.objects.filter(client=client),
        "created_at",
        in_bulk(EmailLog.objects.select_related("triggered_by")),
        "clients/timeline/_email.html",
    ),
    TimelineSource(
        "audit",
        "Audit entries",
        "audit.review_audit",
        _audit_rows,
        "pgh_created_at",
        _audit_load,
        "clients/timeline/_audit.html",
    ),
)

# The dashboard and the sidebar ---------------------------------------------------------------


class ClientFinderForm(forms.Form):
    client = forms.IntegerField(
        label="Find a client",
        required=False,
        widget=ClientPickerWidget(attrs={"id": "find-client"}, navigate=True),
    )


def _dashboard(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    counts = cached_figures(
        "clients",
        lambda: Client.objects.aggregate(
            total=Count("pk"),
            **{
                status.value: Count("pk", filter=Q(status=status.value)) for status in Client.Status
            },
        ),
    )
    return {
        "client_counts": counts,
        "recent_clients": Client.objects.order_by("-id")[:5],
        "finder": ClientFinderForm(),
    }


register(
    DashboardPanel("clients", VIEW, "clients/includes/_dashboard.html", _dashboard),
    NavSection("clients", "Clients", "clients:client-list", VIEW),
    # The set-password link is made when the email goes out, never stored.
    EmailBodySource(services.LINK_BODY_SOURCE, services._password_link_at_delivery),
)


# Deleting a client can wait for a second person (approvals).
register(ApprovalAction("clients.delete_client", "Delete a client", services.delete_client))


# Undo of a plain edit from the audit trail (``audit/revert.py``): through the same services as
# the edit forms, so that transitions, the currency lock and uniqueness still hold.


def _revert_client(
    *, record: Client, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Client:
    if "currency" in values:
        require_right(actor, "clients.change_client_currency")
    return services.update_client(
        client=record, data=values, actor=actor, reason=reason, version=version
    )


def _revert_contact(
    *, record: Contact, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Contact:
    return services.update_contact(
        contact=record, data=values, actor=actor, reason=reason, version=version
    )


def _revert_note(
    *, record: Note, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Note:
    return services.edit_note(
        note=record, body=values["body"], actor=actor, reason=reason, version=version
    )


def _edit_client(*, record: Any) -> tuple[str, str]:
    client = getattr(record, "client", record)
    return "Edit the client's record, with a reason.", client.get_absolute_url()


register(
    Reverter(
        "clients.client",
        fields=services.EDITABLE_FIELDS,
        derived=("backdated",),
        revert=_revert_client,
        instead=_edit_client,
    ),
    Reverter(
        "clients.contact",
        fields=services.CONTACT_FIELDS,
        revert=_revert_contact,
        instead=_edit_client,
    ),
    Reverter("clients.note", fields=("body",), revert=_revert_note, instead=_edit_client),
)
