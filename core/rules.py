"""The rules every service shares, written once: each raises a ``ValidationError`` with a code
from ``core.errors``.

- ``require_reason``: a reason was given (the one name for the why, see ``audit.context``);
- ``require_transition``: a status may follow the current one (the model's transition map);
- ``require_same_client`` / ``same_client_errors``: a chosen record belongs to the client;
- ``require_known_fields``: a field dict names only fields the service changes;
- ``integrity_errors``: a unique or check constraint the database enforced becomes a form
  error, matched on the constraint's name (never on the message's wording).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core import errors


def _raise(error: ValidationError, field: str | None) -> None:
    raise ValidationError({field: error}) if field else error


def require_reason(reason: str, message: str, *, field: str | None = None) -> str:
    """The one check that a reason was given; returns it stripped.

    Raises ``ValidationError`` with code ``reason_required`` (on ``field`` when given, so a form
    shows it next to the reason box).
    """
    cleaned = (reason or "").strip()
    if not cleaned:
        _raise(ValidationError(message, code=errors.REASON_REQUIRED), field)
    return cleaned


def allowed_transitions(obj: Any, allowed: Mapping[str, Iterable[str]] | None = None) -> set[str]:
    """The statuses that may follow ``obj``'s current one (``allowed`` defaults to the model's
    ``STATUS_TRANSITIONS``)."""
    table = type(obj).STATUS_TRANSITIONS if allowed is None else allowed
    return set(table.get(obj.status, ()))


def can_transition(obj: Any, to: str, allowed: Mapping[str, Iterable[str]] | None = None) -> bool:
    return to in allowed_transitions(obj, allowed)


def require_transition(
    obj: Any,
    to: str,
    allowed: Mapping[str, Iterable[str]] | None = None,
    *,
    noun: str | None = None,
    field: str | None = None,
) -> None:
    """Raise ``invalid_transition`` unless ``to`` may follow ``obj``'s status.

    Staying in the same status is the caller's decision (a no-op for some services, a
    ``same_status`` refusal for others), so it is not answered here.
    """
    if can_transition(obj, to, allowed):
        return
    status = type(obj).Status
    old = obj.get_status_display().lower()
    _raise(
        ValidationError(
            "%(article)s %(old)s %(noun)s cannot become %(new)s.",
            code=errors.INVALID_TRANSITION,
            params={
                "article": "An" if old[:1] in "aeiou" else "A",
                "old": old,
                "new": status(to).label.lower() if to in status.values else to,
                "noun": noun or str(obj._meta.verbose_name),
            },
        ),
        field,
    )


def belongs_to_client(record: Any, client: Any) -> bool:
    """Whether ``record`` (anything with a ``client_id``) is ``client``'s; no record (nothing
    chosen) belongs to everyone, and no client owns nothing."""
    return record is None or getattr(record, "client_id", None) == getattr(client, "pk", None)


def require_same_client(
    client: Any,
    record: Any,
    *,
    field: str | None = None,
    message: str = "This record belongs to another client.",
    params: Mapping[str, Any] | None = None,
) -> None:
    """Raise ``wrong_client`` (on ``field`` when given) unless ``record`` is ``client``'s."""
    if not belongs_to_client(record, client):
        _raise(
            ValidationError(
                message, code=errors.WRONG_CLIENT, params=dict(params) if params else None
            ),
            field,
        )


def same_client_errors(
    client: Any,
    records: Mapping[str, Any],
    *,
    message: str = "This %(name)s belongs to another client.",
) -> dict[str, ValidationError]:
    """One ``wrong_client`` error per field whose record is not ``client``'s, for a service
    that reports every field at once; ``%(name)s`` is the field's name with spaces."""
    return {
        name: ValidationError(
            message, code=errors.WRONG_CLIENT, params={"name": name.replace("_", " ")}
        )
        for name, record in records.items()
        if not belongs_to_client(record, client)
    }


def require_same_client_all(client: Any, records: Mapping[str, Any], **kwargs: Any) -> None:
    """``same_client_errors`` raised together, when there are any."""
    found = same_client_errors(client, records, **kwargs)
    if found:
        raise ValidationError(found)


def require_known_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """A service that takes a dict of fields refuses a name it does not change (a typo in a
    caller, or a field that has its own service), with code ``unknown_field``."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(
            "Unknown fields: %(fields)s",
            code=errors.UNKNOWN_FIELD,
            params={"fields": ", ".join(unknown)},
        )


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint (or unique index) behind an ``IntegrityError``, as
    PostgreSQL reports it (psycopg's ``diag``); None when the database named none."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


class Refusal(NamedTuple):
    """What a constraint's refusal becomes: the field (None: the top of the form), the
    message and the code."""

    field: str | None
    message: str
    code: str


ConstraintErrors = Mapping[str, Refusal]


def translate_integrity_error(exc: IntegrityError, known: ConstraintErrors) -> ValidationError:
    """The ``ValidationError`` for a constraint in ``known``; re-raises ``exc`` otherwise."""
    name = constraint_name(exc)
    if name is None or name not in known:
        raise exc
    refusal = known[name]
    error = ValidationError(refusal.message, code=refusal.code)
    return ValidationError({refusal.field: error}) if refusal.field else error


@contextmanager
def integrity_errors(known: ConstraintErrors) -> Iterator[None]:
    """Run the block in a savepoint; a refusal by a constraint in ``known`` (a lost race on a
    unique index, say) becomes its form error, and the outer transaction stays usable."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise translate_integrity_error(exc, known) from exc
