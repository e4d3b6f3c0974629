"""A service call's keyword arguments as JSON, to run the call later (``approvals``).

Records are kept by label and key and read again when the call runs (a record deleted in the
meantime refuses the approval with ``gone``); decimals, dates and times keep their type. The
arguments an action declares secret travel apart, encrypted with the project's Fernet.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from core.crypto import fernet

MODEL, DECIMAL, DATE, DATETIME, TUPLE, DICT = (
    "$model",
    "$decimal",
    "$date",
    "$datetime",
    "$tuple",
    "$dict",
)


def encode(value: Any) -> Any:
    if isinstance(value, models.Model):
        return {MODEL: value._meta.label_lower, "pk": value.pk}
    if isinstance(value, Decimal):
        return {DECIMAL: str(value)}
    if isinstance(value, dt.datetime):
        return {DATETIME: value.isoformat()}
    if isinstance(value, dt.date):
        return {DATE: value.isoformat()}
    if isinstance(value, tuple):
        return {TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {DICT: {str(k): encode(v) for k, v in value.items()}}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} cannot wait in an approval request")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if MODEL in value:
        model = apps.get_model(value[MODEL])
        try:
            return model._default_manager.get(pk=value["pk"])
        except model.DoesNotExist as exc:
            raise ValidationError(
                "%(what)s #%(pk)s no longer exists.",
                code="gone",
                params={"what": model._meta.verbose_name.capitalize(), "pk": value["pk"]},
            ) from exc
    if DECIMAL in value:
        return Decimal(value[DECIMAL])
    if DATETIME in value:
        return dt.datetime.fromisoformat(value[DATETIME])
    if DATE in value:
        return dt.date.fromisoformat(value[DATE])
    if TUPLE in value:
        return tuple(decode(v) for v in value[TUPLE])
    if DICT in value:
        return {k: decode(v) for k, v in value[DICT].items()}
    raise ValueError(f"Unknown value in an approval request: {value!r}")


def seal_secrets(secrets: dict[str, str]) -> str:
    kept = {k: v for k, v in secrets.items() if v}
    return fernet().encrypt(json.dumps(kept).encode()).decode() if kept else ""


def open_secrets(token: str) -> dict[str, str]:
    return json.loads(fernet().decrypt(token.encode())) if token else {}
