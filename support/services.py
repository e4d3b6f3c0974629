"""Support tickets opened on a client's behalf, their replies and attachments, and the
communication log.

Emails to the requester and CC are queued in the email log (``clients.outbox.queue_email``,
whether or not the requester is a client) and go out after the commit, never when the ticket or
the reply says "do not email". Internal notes are never emailed.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import secrets
import string
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import filetype
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

import audit.context
from audit.edits import refuse_if_changed
from clients.models import Client, Contact, EmailLog
from clients.outbox import Attachment, queue_email
from core.emails import render_text
from core.rules import (
    constraint_name,
    require_known_fields,
    require_reason,
    require_same_client,
    require_same_client_all,
    require_transition,
    same_client_errors,
)
from support.models import (
    Communication,
    Department,
    Ticket,
    TicketAttachment,
    TicketReply,
)

# An opening time further back than this is back-dated: flagged, and it needs a reason.
BACKDATE_TOLERANCE = dt.timedelta(minutes=10)
TEXT_TYPES = {"txt": "text/plain", "log": "text/plain", "csv": "text/csv"}
BINARY_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "zip": "application/zip",
}
NUMBER_ATTEMPTS = 20
# The unique constraint PostgreSQL names for ``Ticket.number`` (``unique=True``).
TICKET_NUMBER_UNIQUE = "support_ticket_number_key"


# Attachments ---------------------------------------------------------------------------------


def check_attachments(files: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str, str]]:
    """Each upload with its clean name and content type, or a refusal naming the file.

    The extension must be allowed and the bytes must be what it says (a "photo.png" that is an
    executable is refused); text files must be UTF-8 without NUL bytes.
    """
    try:
        return _check_attachments(files)
    except ValidationError as exc:
        raise ValidationError({"attachments": exc.error_list}) from exc


def _check_attachments(files: Sequence[UploadedFile]) -> list[tuple[UploadedFile, str, str]]:
    if len(files) > settings.TICKET_ATTACHMENT_MAX_FILES:
        raise ValidationError(
            f"Attach at most {settings.TICKET_ATTACHMENT_MAX_FILES} files to one message.",
            code="too_many_attachments",
        )
    checked = []
    allowed = [t.lower() for t in settings.TICKET_ATTACHMENT_TYPES]
    for upload in files:
        name = PurePath(upload.name or "file").name.strip()[:255] or "file"
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in allowed or extension not in TEXT_TYPES | BINARY_TYPES:
            raise ValidationError(
                f"“{name}”: this type of file is not accepted. Accepted: {', '.join(allowed)}.",
                code="attachment_type",
            )
        if upload.size > settings.TICKET_ATTACHMENT_MAX_BYTES:
            raise ValidationError(
                f"“{name}” is {filesizeformat(upload.size)}; the limit is "  # type: ignore[arg-type]  # uploads are sized
                f"{filesizeformat(settings.TICKET_ATTACHMENT_MAX_BYTES)}.",
                code="attachment_too_large",
            )
        if not upload.size:
            raise ValidationError(f"“{name}” is empty.", code="attachment_empty")
        upload.seek(0)
        head = upload.read(8192)
        upload.seek(0)
        if extension in TEXT_TYPES:
            content_type = TEXT_TYPES[extension]
            try:
                codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            except UnicodeDecodeError:
                ok = False
            else:
                ok = b"\x00" not in head
        else:
            content_type = BINARY_TYPES[extension]
            guess = filetype.guess(head)
            ok = guess is not None and guess.mime == content_type
        if not ok:
            raise ValidationError(
                f"“{name}” is not really a .{extension} file.", code="attachment_content"
            )
        checked.append((upload, name, content_type))
    return checked


def _store_attachments(
    *,
    ticket: Ticket,
    reply: TicketReply | None,
    checked: list[tuple[UploadedFile, str, str]],
    actor: User,
    stored: list[str],
) -> list[TicketAttachment]:
    rows = []
    for upload, name, content_type in checked:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        row = TicketAttachment(
            ticket=ticket,
            reply=reply,
            name=name,
            content_type=content_type,
            size=upload.size,  # type: ignore[misc]  # an upload always has its size
            sha256=digest.hexdigest(),
            uploaded_by=actor,
        )
        row.file.save(name, upload, save=False)
        stored.append(row.file.name)  # type: ignore[arg-type]  # saved just above: named
        row.full_clean()
        row.save()
        rows.append(row)
    return rows


def _discard_files(names: list[str]) -> None:
    # The rows rolled back with the transaction; the files on disk must follow them.
    from support.models import private_storage

    for name in names:
        private_storage.delete(name)


# Tickets -------------------------------------------------------------------------------------


def _new_number() -> str:
    letters = "".join(secrets.choice(string.ascii_uppercase) for _ in range(3))
    return f"{letters}-{secrets.randbelow(10**6):06d}"


def _clean_cc(cc: str) -> str:
    addresses = [a.strip() for a in cc.replace(";", ",").split(",") if a.strip()]
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise ValidationError(
                {"cc": ValidationError(f"“{address}” is not an email address.", code="bad_cc")}
            ) from exc
    return ", ".join(dict.fromkeys(addresses))


def _check_assignee(assignee: User | None) -> None:
    if assignee is not None and not (assignee.is_active and assignee.is_staff):
        raise ValidationError(
            {
                "assignee": ValidationError(
                    "Assign the ticket to an active staff member.", code="bad_assignee"
                )
            }
        )


def _check_links(*, client: Client | None, service: Any, domain: Any) -> None:
    require_same_client_all(client, {"service": service, "domain": domain})


def _department_for(department: Department, actor: User) -> Department:
    if not department.active:
        raise ValidationError(
            {
                "department": ValidationError(
                    "This department takes no new tickets.", code="department_inactive"
                )
            }
        )
    if not Department.objects.visible_to(actor).filter(pk=department.pk).exists():
        raise ValidationError(
            {
                "department": ValidationError(
                    "You cannot see this department's tickets.", code="department_hidden"
                )
            }
        )
    return department


@transaction.atomic
def open_ticket(
    *,
    department: Department,
    subject: str,
    message: str,
    actor: User,
    client: Client | None = None,
    contact: Contact | None = None,
    name: str = "",
    email: str = "",
    priority: str = Ticket.Priority.MEDIUM,
    service: Any = None,
    domain: Any = None,
    assignee: User | None = None,
    cc: str = "",
    private_note: str = "",
    suppress_email: bool = False,
    opened_at: dt.datetime | None = None,
    reason: str = "",
    attachments: Sequence[UploadedFile] = (),
) -> Ticket:
    """Open a ticket for a client (or one of its contacts, or a non-client by name and email),
    with its attachments and an optional internal note; email the requester unless told not to.
    """
    _department_for(department, actor)
    require_same_client(
        client, contact, field="contact", message="This contact belongs to another client."
    )
    if client is not None:
        name = str(contact) if contact is not None else client.full_name
        email = contact.email if contact is not None else client.email
    elif not (name.strip() and email.strip()):
        raise ValidationError(
            {
                "name" if not name.strip() else "email": ValidationError(
                    "Choose a client, or give the requester's name and email.",
                    code="requester_required",
                )
            }
        )
    _check_links(client=client, service=service, domain=domain)
    _check_assignee(assignee)
    now = timezone.now()
    opened_at = opened_at or now
    if opened_at > now + dt.timedelta(minutes=1):
        raise ValidationError(
            {
                "opened_at": ValidationError(
                    "A ticket cannot be opened in the future.", code="opened_in_future"
                )
            }
        )
    backdated = opened_at < now - BACKDATE_TOLERANCE
    if backdated:
        require_reason(
            reason,
            "Say why this ticket is back-dated (e.g. the client called on that day).",
            field="reason",
        )
    checked = check_attachments(attachments)
    stored: list[str] = []
    try:
        with audit.context.context(
            action="support.open_ticket", reason=reason if backdated else "", actor=actor
        ):
            ticket = Ticket(
                department=department,
                client=client,
                contact=contact,
                name=name.strip(),
                email=email.strip(),
                cc=_clean_cc(cc),
                subject=subject.strip(),
                message=message.strip(),
                priority=priority,
                service=service,
                domain=domain,
                assignee=assignee,
                suppress_email=suppress_email,
                opened_at=opened_at,
                backdated=backdated,
                backdate_reason=reason.strip() if backdated else "",
                opened_by=actor,
                last_activity_at=opened_at,
            )
            ticket.number = _new_number()
            ticket.full_clean(exclude=["number"])
            for _attempt in range(NUMBER_ATTEMPTS):
                try:
                    with transaction.atomic():
                        ticket.save()
                    break
                except IntegrityError as exc:
                    if constraint_name(exc) != TICKET_NUMBER_UNIQUE:
                        raise
                    ticket.pk = None
                    ticket.number = _new_number()
            files = _store_attachments(
                ticket=ticket, reply=None, checked=checked, actor=actor, stored=stored
            )
            if private_note.strip():
                note = TicketReply(
                    ticket=ticket,
                    kind=TicketReply.Kind.NOTE,
                    author=actor,
                    message=private_note.strip(),
                )
                note.full_clean()
                note.save()
            if not suppress_email:
                _email_requester(
                    ticket=ticket,
                    subject=f"[Ticket {ticket.number}] {ticket.subject}",
                    body=render_text(
                        "support/emails/ticket_opened.txt",
                        {"ticket": ticket, "files": files, "company": settings.COMPANY_NAME},
                    ),
                    actor=actor,
                    files=files,
                )
    except BaseException:
        _discard_files(stored)
        raise
    return ticket


# The outbox reads a ticket's files when the email goes out (registered in ``integration``).
ATTACHMENT_SOURCE = "support.ticket_file"


def attachment_content(attachment_id: int) -> tuple[bytes, str]:
    row = TicketAttachment.objects.get(pk=attachment_id)
    with row.file.open("rb") as handle:
        return handle.read(), row.content_type


def _email_requester(
    *,
    ticket: Ticket,
    subject: str,
    body: str,
    actor: User,
    files: Sequence[TicketAttachment] = (),
) -> str:
    """Queue for the requester and CC (sent after the commit, files attached at delivery);
    returns the addresses. Someone who is not a client is in the same email log, without a
    client."""
    to = ticket.recipients
    queue_email(
        client=ticket.client,
        kind=EmailLog.Kind.TICKET,
        to=to,
        subject=subject,
        body=body,
        actor=actor,
        from_email=ticket.department.email,
        attachments=[Attachment(ATTACHMENT_SOURCE, row.pk, row.name) for row in files],
    )
    return ", ".join(to)


REPLY_STATUS: dict[str, str] = {
    TicketReply.Kind.STAFF: Ticket.Status.ANSWERED,
    TicketReply.Kind.CLIENT: Ticket.Status.CUSTOMER_REPLY,
}


@transaction.atomic
def add_reply(
    *,
    ticket: Ticket,
    kind: str,
    message: str,
    actor: User,
    attachments: Sequence[UploadedFile] = (),
    new_status: str = "",
    send_email: bool = True,
    reason: str = "",
) -> TicketReply:
    """Add a staff reply (emailed unless suppressed), the client's reply as staff took it
    (status Customer-Reply), or an internal note (never emailed, status unchanged). A note
    that reopens a closed ticket needs the reason ``change_ticket_status`` would ask for."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("client", "department")
        .get(pk=ticket.pk)
    )
    if kind not in TicketReply.Kind.values:
        raise ValidationError({"kind": ValidationError("Unknown kind of reply.", code="bad_kind")})
    if not message.strip():
        raise ValidationError({"message": ValidationError("Write the message.", code="required")})
    if ticket.is_closed and kind != TicketReply.Kind.NOTE:
        raise ValidationError(
            "This ticket is closed: reopen it before replying (internal notes are allowed).",
            code="ticket_closed",
        )
    status = new_status or REPLY_STATUS.get(kind, ticket.status)
    if status != ticket.status:
        require_transition(ticket, status, field="new_status")
    if ticket.is_closed and status != ticket.status:
        require_reason(reason, "Say why the ticket is reopened.", field="reason")
    checked = check_attachments(attachments)
    stored: list[str] = []
    now = timezone.now()
    try:
        with audit.context.context(action=f"support.add_reply_{kind}", reason=reason, actor=actor):
            reply = TicketReply(
                ticket=ticket, kind=kind, author=actor, message=message.strip(), created_at=now
            )
            emailing = kind == TicketReply.Kind.STAFF and send_email and not ticket.suppress_email
            if emailing:
                reply.emailed_to = ", ".join(ticket.recipients)
            reply.full_clean()
            reply.save()
            rows = _store_attachments(
                ticket=ticket, reply=reply, checked=checked, actor=actor, stored=stored
            )
            fields: dict[str, Any] = {"last_activity_at": now, "updated_at": now}
            if kind != TicketReply.Kind.NOTE:
                fields.update(
                    last_reply_at=now,
                    last_replier=ticket.name
                    if kind == TicketReply.Kind.CLIENT
                    else actor.get_username(),
                    reply_count=F("reply_count") + 1,
                )
            if status != ticket.status:
                fields.update(status=status, closed_at=now if status == "closed" else None)
            Ticket.objects.filter(pk=ticket.pk).update(**fields)
            if emailing:
                _email_requester(
                    ticket=ticket,
                    subject=f"Re: [Ticket {ticket.number}] {ticket.subject}",
                    body=render_text(
                        "support/emails/ticket_reply.txt",
                        {
                            "ticket": ticket,
                            "reply": reply,
                            "attachments": rows,
                            "status": Ticket.Status(status).label,
                            "company": settings.COMPANY_NAME,
                        },
                    ),
                    actor=actor,
                    files=rows,
                )
    except BaseException:
        _discard_files(stored)
        raise
    return reply


@transaction.atomic
def change_ticket_status(*, ticket: Ticket, status: str, actor: User, reason: str = "") -> Ticket:
    """Move a ticket to another status; reopening a closed ticket needs a reason."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if status == ticket.status:
        return ticket
    require_transition(ticket, status, field="status")
    if ticket.is_closed:
        require_reason(reason, "Say why the ticket is reopened.", field="reason")
    now = timezone.now()
    with audit.context.context(action=f"support.ticket_{status}", reason=reason, actor=actor):
        ticket.status = status
        ticket.closed_at = now if status == Ticket.Status.CLOSED else None
        ticket.last_activity_at = now
        ticket.full_clean()
        ticket.save(update_fields=["status", "closed_at", "last_activity_at", "updated_at"])
    return ticket


EDITABLE_FIELDS = (
    "department",
    "priority",
    "assignee",
    "cc",
    "service",
    "domain",
    "suppress_email",
    "subject",
)


@transaction.atomic
def update_ticket(
    *,
    ticket: Ticket,
    data: dict[str, Any],
    actor: User,
    reason: str = "",
    version: int | None = None,
) -> Ticket:
    """Change a ticket's department, priority, assignee, CC, related records or subject."""
    ticket = (
        Ticket.objects.select_for_update(of=("self",)).select_related("client").get(pk=ticket.pk)
    )
    refuse_if_changed(ticket, version)
    require_known_fields(data, EDITABLE_FIELDS)
    changed = [name for name, value in data.items() if getattr(ticket, name) != value]
    if not changed:
        return ticket
    if "department" in changed:
        _department_for(data["department"], actor)
    _check_links(
        client=ticket.client,
        service=data.get("service", ticket.service),
        domain=data.get("domain", ticket.domain),
    )
    if "assignee" in changed:
        _check_assignee(data["assignee"])
    if "cc" in data:
        data = {**data, "cc": _clean_cc(data["cc"])}
    with audit.context.context(action="support.update_ticket", reason=reason, actor=actor):
        for name in changed:
            setattr(ticket, name, data[name])
        ticket.full_clean()
        ticket.save(update_fields=[*changed, "updated_at"])
    return ticket


# Communication log ---------------------------------------------------------------------------

COMMUNICATION_FIELDS = (
    "contact",
    "channel",
    "direction",
    "occurred_at",
    "duration_minutes",
    "summary",
    "outcome",
    "follow_up_on",
    "follow_up_owner",
    "service",
    "domain",
    "invoice",
    "ticket",
)


def _check_communication(client: Client, data: dict[str, Any]) -> None:
    errors = same_client_errors(
        client,
        {name: data.get(name) for name in ("contact", "service", "domain", "invoice", "ticket")},
    )
    if (data.get("follow_up_on") is None) != (data.get("follow_up_owner") is None):
        missing = "follow_up_owner" if data.get("follow_up_on") else "follow_up_on"
        errors[missing] = ValidationError(
            "A follow-up needs both a date and an owner.", code="follow_up_incomplete"
        )
    occurred = data.get("occurred_at")
    if occurred is not None and occurred > timezone.now() + dt.timedelta(minutes=1):
        errors["occurred_at"] = ValidationError(
            "Record what already happened: this time is in the future.", code="in_future"
        )
    owner = data.get("follow_up_owner")
    if owner is not None and not (owner.is_active and owner.is_staff):
        errors["follow_up_owner"] = ValidationError(
            "The owner must be an active staff member.", code="bad_owner"
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def log_communication(
    *, client: Client, data: dict[str, Any], actor: User, reason: str = ""
) -> Communication:
    """Record a call, email, chat, meeting or letter with a client."""
    require_known_fields(data, COMMUNICATION_FIELDS)
    _check_communication(client, data)
    with audit.context.context(action="support.log_communication", reason=reason, actor=actor):
        entry = Communication(client=client, logged_by=actor, **data)
        entry.full_clean()
        entry.save()
    return entry


@transaction.atomic
def update_communication(
    *,
    communication: Communication,
    data: dict[str, Any],
    actor: User,
    reason: str,
    version: int | None = None,
) -> Communication:
    """Correct a logged communication; the reason and old → new go to the audit trail."""
    entry = (
        Communication.objects.select_for_update(of=("self",))
        .select_related("client")
        .get(pk=communication.pk)
    )
    refuse_if_changed(entry, version)
    require_known_fields(data, COMMUNICATION_FIELDS)
    changed = [name for name, value in data.items() if getattr(entry, name) != value]
    if not changed:
        return entry
    require_reason(reason, "Say why this entry is corrected.", field="audit_reason")
    _check_communication(entry.client, {**{n: getattr(entry, n) for n in data}, **data})
    with audit.context.context(action="support.update_communication", reason=reason, actor=actor):
        for name in changed:
            setattr(entry, name, data[name])
        entry.full_clean()
        entry.save(update_fields=[*changed, "updated_at"])
    return entry


@transaction.atomic
def complete_follow_up(
    *, communication: Communication, actor: User, result: str = ""
) -> Communication:
    """Mark a follow-up done, with what came of it."""
    entry = Communication.objects.select_for_update().get(pk=communication.pk)
    if entry.follow_up_on is None:
        raise ValidationError("This entry has no follow-up.", code="no_follow_up")
    if entry.follow_up_done_at is not None:
        raise ValidationError("This follow-up is already done.", code="follow_up_done")
    with audit.context.context(action="support.complete_follow_up", actor=actor):
        entry.follow_up_done_at = timezone.now()
        entry.follow_up_done_by = actor
        entry.follow_up_result = result.strip()[:500]
        entry.full_clean()
        entry.save(
            update_fields=[
                "follow_up_done_at",
                "follow_up_done_by",
                "follow_up_result",
                "updated_at",
            ]
        )
    return entry
