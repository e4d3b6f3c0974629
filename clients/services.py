"""Every state change of a client goes through here (views, admin, importers, commands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower, Trim

import audit.context
from clients.models import Client

EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "postcode",
    "country",
    "status",
    "source",
)


def _save(client: Client, *, update_fields: list[str] | None = None) -> None:
    client.full_clean()
    try:
        # A savepoint, so that a lost race on the unique email leaves the outer transaction
        # usable and the caller gets a form error instead of a 500.
        with transaction.atomic():
            client.save(update_fields=update_fields)
    except IntegrityError as exc:
        if "clients_client_email_ci_unique" in str(exc):
            raise ValidationError(
                {
                    "email": ValidationError(
                        "Another client already uses this email address.", code="duplicate_email"
                    )
                }
            ) from exc
        raise


def validate_status_change(*, client: Client, new_status: str, reason: str) -> None:
    """Raise unless ``client`` may move to ``new_status``; every status change needs a reason.

    Forms call it too, to show the error next to the field before anything is saved.
    """
    if new_status == client.status:
        return
    if new_status not in Client.STATUS_TRANSITIONS[Client.Status(client.status)]:
        raise ValidationError(
            "A %(old)s client cannot become %(new)s.",
            code="invalid_transition",
            params={
                "old": client.get_status_display().lower(),
                "new": Client.Status(new_status).label.lower(),
            },
        )
    if not reason.strip():
        raise ValidationError("Say why the status changes.", code="reason_required")


@transaction.atomic
def create_client(
    *, data: Mapping[str, Any], actor: AbstractBaseUser | None, reason: str = ""
) -> Client:
    """Add a client from staff-entered ``data`` (keys from ``EDITABLE_FIELDS``)."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown client fields: {sorted(unknown)}", code="unknown_field")
    with audit.context.context(action="clients.create_client", reason=reason, actor=actor):
        client = Client(**data)
        _save(client)
    return client


@transaction.atomic
def update_client(
    *,
    client: Client,
    data: Mapping[str, Any],
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Client:
    """Apply staff edits to a client; a status change must follow the map and give a reason."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown client fields: {sorted(unknown)}", code="unknown_field")
    client = Client.objects.select_for_update().get(pk=client.pk)
    changed = [name for name, value in data.items() if getattr(client, name) != value]
    if not changed:
        return client
    if "status" in changed:
        validate_status_change(client=client, new_status=data["status"], reason=reason)
    with audit.context.context(action="clients.update_client", reason=reason, actor=actor):
        for name in changed:
            setattr(client, name, data[name])
        _save(client, update_fields=[*changed, "updated_at"])
    return client


@transaction.atomic
def delete_client(*, client: Client, actor: AbstractBaseUser | None, reason: str) -> None:
    """Remove a client entered by mistake. The trail keeps every value it had."""
    if not reason.strip():
        raise ValidationError("Say why the client is deleted.", code="reason_required")
    client = Client.objects.select_for_update().get(pk=client.pk)
    with audit.context.context(action="clients.delete_client", reason=reason, actor=actor):
        client.delete()


@transaction.atomic
def normalise_emails(*, actor: AbstractBaseUser | None = None, reason: str = "") -> int:
    """Trim and lower-case every client email (after an import); returns how many changed.

    One bulk ``UPDATE``: the triggers still record one event per changed row.
    """
    with audit.context.context(action="clients.normalise_emails", reason=reason, actor=actor):
        return Client.objects.exclude(email=Lower(Trim(F("email")))).update(
            email=Lower(Trim(F("email")))
        )
