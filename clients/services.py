"""Every state change of a client and what hangs off it goes through here.

Views, the Django admin, importers and commands call these functions; each one is atomic,
re-reads the rows it changes with ``select_for_update()``, validates with ``full_clean()`` and
raises ``ValidationError`` with a stable ``code``. Emails are queued in the email log and leave
only after the transaction commits (``clients.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower, Trim
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

import audit.context
from audit.edits import refuse_if_changed
from clients import custom_fields
from clients.models import (
    Client,
    ClientGroup,
    Contact,
    CustomField,
    CustomFieldValue,
    EmailLog,
    Note,
)
from clients.outbox import queue_email
from core.emails import render_text
from core.extension_points import CurrencyLock, registered
from core.rules import (
    Refusal,
    integrity_errors,
    require_known_fields,
    require_reason,
    require_same_client,
    require_transition,
)

EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "email",
    "billing_email",
    "phone",
    "language",
    "timezone",
    "address1",
    "address2",
    "city",
    "state",
    "postcode",
    "country",
    "group",
    "currency",
    "tax_id",
    "tax_exempt",
    "late_fee_exempt",
    "overdue_notice_exempt",
    "default_payment_method",
    "status",
    "source",
    "legacy_id",
    "signed_up_on",
)
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "role",
    *Contact.EMAIL_FLAGS,
)
SET_PASSWORD_SALT = "clients.set-password"  # noqa: S105 - a signing namespace, not a secret
SET_PASSWORD_MAX_AGE = 60 * 60 * 72  # three days


SAVE_CONSTRAINTS = {
    "clients_client_email_ci_unique": Refusal(
        "email",
        "Another client already uses this email address.",
        code="duplicate_email",
    )
}


def _save(obj: Any, *, update_fields: list[str] | None = None) -> None:
    obj.full_clean()
    # A lost race on the unique email gives a form error instead of a 500.
    with integrity_errors(SAVE_CONSTRAINTS):
        obj.save(update_fields=update_fields)


# Clients ---------------------------------------------------------------------------------


def validate_status_change(*, client: Client, new_status: str, reason: str) -> None:
    """Raise unless ``client`` may move to ``new_status``; every status change needs a reason.

    Forms call it too, to show the error next to the field before anything is saved.
    """
    if new_status == client.status:
        return
    require_transition(client, new_status, noun="client")
    require_reason(reason, "Say why the status changes.")


def validate_currency_change(*, client: Client, new_currency: str) -> None:
    if client.pk is None or new_currency == client.currency:
        return
    # Other apps forbid it (billing: "the client has invoices"), see ``CurrencyLock``.
    for lock in registered(CurrencyLock):
        why = lock.check(client=client)
        if why:
            raise ValidationError(
                "The currency cannot change: %(why)s.", code="currency_locked", params={"why": why}
            )


def validate_backdating(*, signed_up_on: Any, previous: Any, reason: str) -> bool:
    """True when ``signed_up_on`` back-dates the client; back-dating needs a reason."""
    backdated = signed_up_on is not None and signed_up_on < timezone.localdate()
    if backdated and signed_up_on != previous:
        require_reason(reason, "Say why the sign-up date is in the past.")
    return backdated


@transaction.atomic
def create_client(
    *,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    custom_values: Mapping[CustomField, Any] | None = None,
    password: str = "",
    send_set_password_link: bool = False,
    send_welcome: bool = False,
) -> Client:
    """Add a client from staff-entered ``data`` (keys from ``EDITABLE_FIELDS``)."""
    require_known_fields(data, EDITABLE_FIELDS)
    with audit.context.context(action="clients.create_client", reason=reason, actor=actor):
        client = Client(**data)
        if client.status != Client.Status.ACTIVE:
            require_reason(reason, "Say why a new client does not start active.")
        client.backdated = validate_backdating(
            signed_up_on=client.signed_up_on, previous=None, reason=reason
        )
        if password:
            # The similarity check reads the client's name and email as it would a user's.
            validate_password(password, user=client)  # type: ignore[arg-type]  # name, email
            client.password = make_password(password)
        _save(client)
        if custom_values:
            _store_custom_values(client=client, values=custom_values, actor=actor)
    if send_set_password_link:
        send_password_link(client=client, actor=actor)
    if send_welcome:
        send_welcome_email(client=client, actor=actor)
    return client


@transaction.atomic
def update_client(
    *,
    client: Client,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    custom_values: Mapping[CustomField, Any] | None = None,
    version: int | None = None,
) -> Client:
    """Apply staff edits; status changes and back-dating need a reason, currency may be locked.

    ``version`` is the client's version when the form was opened (``audit.edits``): a change
    made since is refused, never overwritten."""
    require_known_fields(data, EDITABLE_FIELDS)
    client = Client.objects.select_for_update().get(pk=client.pk)
    refuse_if_changed(client, version)
    changed = [name for name, value in data.items() if getattr(client, name) != value]
    with audit.context.context(action="clients.update_client", reason=reason, actor=actor):
        if changed:
            if "status" in changed:
                validate_status_change(client=client, new_status=data["status"], reason=reason)
            if "currency" in changed:
                validate_currency_change(client=client, new_currency=data["currency"])
            if "signed_up_on" in changed:
                backdated = validate_backdating(
                    signed_up_on=data["signed_up_on"], previous=client.signed_up_on, reason=reason
                )
                if backdated != client.backdated:
                    client.backdated = backdated
                    changed.append("backdated")
            for name in changed:
                if name != "backdated":
                    setattr(client, name, data[name])
            _save(client, update_fields=[*changed, "updated_at"])
        if custom_values:
            _store_custom_values(client=client, values=custom_values, actor=actor)
    return client


@transaction.atomic
def close_client(*, client: Client, actor: User | None, reason: str) -> Client:
    """Close a client: everything is kept, nothing is deleted."""
    return update_client(
        client=client, data={"status": Client.Status.CLOSED}, actor=actor, reason=reason
    )


@transaction.atomic
def reactivate_client(*, client: Client, actor: User | None, reason: str) -> Client:
    return update_client(
        client=client, data={"status": Client.Status.ACTIVE}, actor=actor, reason=reason
    )


@transaction.atomic
def change_client_group(
    *, client: Client, group: ClientGroup | None, actor: User | None, reason: str
) -> Client:
    require_reason(reason, "Say why the client changes group.")
    return update_client(client=client, data={"group": group}, actor=actor, reason=reason)


def dependent_records(client: Client) -> list[str]:
    """What keeps a client from being deleted, in words ("2 contacts", "1 note")."""
    found = []
    for relation in Client._meta.related_objects:
        if getattr(relation.related_model, "pgh_tracked_model", None):
            continue  # the audit trail outlives the client by design
        if relation.one_to_many or relation.one_to_one:
            count = relation.related_model._default_manager.filter(
                **{relation.field.name: client}
            ).count()
            if count:
                name = relation.related_model._meta
                found.append(
                    f"{count} {name.verbose_name if count == 1 else name.verbose_name_plural}"
                )
    return found


@transaction.atomic
def delete_client(*, client: Client, actor: User | None, reason: str) -> None:
    """Delete a client entered by mistake: Admins only, with a reason, and only when empty.

    The trail keeps every value it had. Anything that refers to the client (contacts, notes,
    emails, later invoices and services) blocks the delete: close the client instead. The
    database refuses it too, through its foreign keys.
    """
    if actor is not None and not actor.has_perm("clients.delete_client"):
        raise PermissionDenied("Only Admins can delete clients.")
    require_reason(reason, "Say why the client is deleted.")
    client = Client.objects.select_for_update().get(pk=client.pk)
    dependents = dependent_records(client)
    if dependents:
        raise ValidationError(
            "This client cannot be deleted: it has %(what)s. Close it instead.",
            code="has_dependents",
            params={"what": ", ".join(dependents)},
        )
    with audit.context.context(action="clients.delete_client", reason=reason, actor=actor):
        client.delete()


@transaction.atomic
def normalise_emails(*, actor: User | None = None, reason: str = "") -> int:
    """Trim and lower-case every client email (after an import); returns how many changed.

    One bulk ``UPDATE``: the triggers still record one event per changed row.
    """
    with audit.context.context(action="clients.normalise_emails", reason=reason, actor=actor):
        return Client.objects.exclude(email=Lower(Trim(F("email")))).update(
            email=Lower(Trim(F("email")))
        )


# Custom fields ------------------------------------------------------------------------------


def _store_custom_values(
    *, client: Client, values: Mapping[CustomField, Any], actor: User | None
) -> None:
    editable_admin_only = actor is None or actor.has_perm("clients.manage_admin_only_fields")
    existing = {
        v.field_id: v
        for v in CustomFieldValue.objects.select_for_update().filter(
            client=client, field__in=list(values)
        )
    }
    errors: dict[str, list[ValidationError]] = {}
    for definition, raw in values.items():
        if definition.admin_only and not editable_admin_only:
            raise PermissionDenied(f"Only Admins may set {definition.name}.")
        try:
            cleaned = custom_fields.form_field(definition).clean(raw)
        except ValidationError as exc:
            errors[f"{custom_fields.FORM_PREFIX}{definition.pk}"] = exc.error_list
            continue
        text = custom_fields.to_storage(definition, cleaned)
        current = existing.get(definition.pk)
        if current is None:
            if text:
                row = CustomFieldValue(client=client, field=definition, value=text)
                row.full_clean()
                row.save()
        elif current.value != text:
            current.value = text
            current.full_clean()
            current.save(update_fields=["value", "updated_at"])
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def set_custom_values(
    *,
    client: Client,
    values: Mapping[CustomField, Any],
    actor: User | None,
    reason: str = "",
) -> None:
    """Set a client's custom field values, validated as their definitions say."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    with audit.context.context(action="clients.set_custom_values", reason=reason, actor=actor):
        _store_custom_values(client=client, values=values, actor=actor)


@transaction.atomic
def save_custom_field(*, field: CustomField, actor: User | None, reason: str = "") -> CustomField:
    """Create or change a custom field definition (Admins, from the Django admin)."""
    if field.pk is not None:
        CustomField.objects.select_for_update().get(pk=field.pk)
    with audit.context.context(action="clients.save_custom_field", reason=reason, actor=actor):
        field.full_clean()
        field.save()
    return field


# Contacts -----------------------------------------------------------------------------------


@transaction.atomic
def add_contact(
    *, client: Client, data: Mapping[str, Any], actor: User | None, reason: str = ""
) -> Contact:
    require_known_fields(data, CONTACT_FIELDS)
    client = Client.objects.select_for_update().get(pk=client.pk)
    with audit.context.context(action="clients.add_contact", reason=reason, actor=actor):
        contact = Contact(client=client, **data)
        contact.full_clean()
        contact.save()
    return contact


@transaction.atomic
def update_contact(
    *,
    contact: Contact,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    version: int | None = None,
) -> Contact:
    require_known_fields(data, CONTACT_FIELDS)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    refuse_if_changed(contact, version)
    changed = [name for name, value in data.items() if getattr(contact, name) != value]
    if not changed:
        return contact
    with audit.context.context(action="clients.update_contact", reason=reason, actor=actor):
        for name in changed:
            setattr(contact, name, data[name])
        contact.full_clean()
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


@transaction.atomic
def remove_contact(*, contact: Contact, actor: User | None, reason: str) -> None:
    require_reason(reason, "Say why the contact is removed.")
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    with audit.context.context(action="clients.remove_contact", reason=reason, actor=actor):
        contact.delete()


# Notes --------------------------------------------------------------------------------------


@transaction.atomic
def add_note(
    *,
    client: Client,
    body: str,
    actor: User,
    pinned: bool = False,
    about: Any = None,
) -> Note:
    """A note on a client, optionally about one of the client's records."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    require_same_client(
        client, about, message="A note can only be about this client's own records."
    )
    with audit.context.context(action="clients.add_note", actor=actor):
        note = Note(client=client, author=actor, body=body.strip(), pinned=pinned, about=about)
        note.full_clean()
        note.save()
    return note


@transaction.atomic
def edit_note(
    *,
    note: Note,
    body: str,
    actor: User,
    reason: str = "",
    version: int | None = None,
) -> Note:
    """Change a note's text. The earlier text stays readable in the note's history."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    refuse_if_changed(note, version)
    if body.strip() == note.body:
        return note
    with audit.context.context(action="clients.edit_note", reason=reason, actor=actor):
        note.body = body.strip()
        note.full_clean()
        note.save(update_fields=["body", "updated_at"])
    return note


@transaction.atomic
def set_note_pinned(*, note: Note, pinned: bool, actor: User) -> Note:
    """Pin or unpin a note; each is its own event in the trail."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    if note.pinned == pinned:
        return note
    action = "clients.pin_note" if pinned else "clients.unpin_note"
    with audit.context.context(action=action, actor=actor):
        note.pinned = pinned
        note.save(update_fields=["pinned", "updated_at"])
    return note


# Login and emails -----------------------------------------------------------------------------


@transaction.atomic
def set_client_password(
    *, client: Client, password: str, actor: User | None, reason: str = ""
) -> Client:
    """Set the client's own login password (strength-checked, stored hashed)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    validate_password(password, user=client)  # type: ignore[arg-type]  # name, email
    with audit.context.context(action="clients.set_client_password", reason=reason, actor=actor):
        client.password = make_password(password)
        client.save(update_fields=["password", "updated_at"])
    return client


def _password_fingerprint(client: Client) -> str:
    # Changes whenever the password does, so a link works once.
    return salted_hmac(SET_PASSWORD_SALT, client.password or "unset").hexdigest()[:16]


def make_set_password_token(client: Client) -> str:
    return signing.dumps(
        {"c": client.pk, "f": _password_fingerprint(client)}, salt=SET_PASSWORD_SALT
    )


@transaction.atomic
def set_password_from_link(*, token: str, password: str) -> Client:
    """The client chooses its password through the emailed link, which works once.

    The link is checked again under the client's row lock: two submissions at once both pass
    the page's check, but only the first still matches the password fingerprint here.
    """
    client = client_for_set_password_token(token, lock=True)
    return set_client_password(
        client=client,
        password=password,
        actor=None,
        reason="chosen by the client through the emailed link",
    )


def client_for_set_password_token(token: str, *, lock: bool = False) -> Client:
    """The client a set-password link was made for; ValidationError when invalid or used.

    ``lock`` (inside a transaction) holds the client's row until the link has been used.
    """
    try:
        data = signing.loads(token, salt=SET_PASSWORD_SALT, max_age=SET_PASSWORD_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError("This link has expired.", code="link_expired") from exc
    except signing.BadSignature as exc:
        raise ValidationError("This link is not valid.", code="link_invalid") from exc
    clients = Client.objects.select_for_update() if lock else Client.objects
    client = clients.filter(pk=data.get("c")).first()
    if client is None or data.get("f") != _password_fingerprint(client):
        raise ValidationError("This link has already been used.", code="link_used")
    if client.status == Client.Status.CLOSED:
        raise ValidationError("This account is closed.", code="client_closed")
    return client


def _recipients(client: Client, flag: str = "receives_general") -> list[str]:
    to = [client.email]
    to += [c.email for c in client.contacts.filter(**{flag: True}) if c.email not in to]
    return to


@transaction.atomic
def send_welcome_email(*, client: Client, actor: User | None) -> EmailLog:
    with audit.context.context(action="clients.send_welcome_email", actor=actor):
        body = render_text("clients/emails/welcome.txt", {"client": client})
        return queue_email(
            client=client,
            kind=EmailLog.Kind.WELCOME,
            to=_recipients(client),
            subject=f"Welcome, {client.first_name}",
            body=body,
            actor=actor,
        )


LINK_BODY_SOURCE = "clients.set_password_link"


def _password_link_body(client: Client, *, link: str) -> str:
    context = {"client": client, "hours": SET_PASSWORD_MAX_AGE // 3600, "link": link}
    return render_text("clients/emails/set_password.txt", context)


def _password_link_at_delivery(log: EmailLog) -> str:
    # The link is made when the email goes out, so it is never stored and its three days run
    # from the sending (a queued email may wait for the mail server).
    link = settings.SITE_URL.rstrip("/") + reverse(
        "clients:set-password",
        args=[make_set_password_token(log.client)],  # type: ignore[arg-type]  # a client's email
    )
    return _password_link_body(log.client, link=link)  # type: ignore[arg-type]  # a client's email


@transaction.atomic
def send_password_link(*, client: Client, actor: User | None) -> EmailLog:
    """Email the client a link to choose their own password (valid three days, once)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.status == Client.Status.CLOSED:
        raise ValidationError("A closed client cannot log in.", code="client_closed")
    with audit.context.context(action="clients.send_password_link", actor=actor):
        return queue_email(
            client=client,
            kind=EmailLog.Kind.SET_PASSWORD,
            to=[client.email],
            subject="Choose your password",
            body=_password_link_body(client, link="[personal link, not kept]"),
            body_source=LINK_BODY_SOURCE,
            actor=actor,
        )


@transaction.atomic
def send_client_email(
    *,
    client: Client,
    subject: str,
    body: str,
    actor: User | None,
    include_contacts: bool = False,
) -> EmailLog:
    """A one-off email from staff to the client (and the contacts who get general emails)."""
    if not subject.strip() or not body.strip():
        raise ValidationError("An email needs a subject and a message.", code="empty_email")
    to = _recipients(client) if include_contacts else [client.email]
    with audit.context.context(action="clients.send_client_email", actor=actor):
        return queue_email(
            client=client,
            kind=EmailLog.Kind.ONE_OFF,
            to=to,
            subject=subject.strip(),
            body=body.strip(),
            actor=actor,
        )
