from collections.abc import Callable
from typing import Any, TypedDict

from django.db import models


class DecimalShape(TypedDict):
    """A decimal field's size, spread into fields as ``**MONEY``; typed so mypy checks it."""

    max_digits: int
    decimal_places: int


class CheckedDecimalShape(DecimalShape):
    """A decimal field's size and its checks (``**RATE``)."""

    validators: list[Callable[[Any], None]]


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        abstract = True
