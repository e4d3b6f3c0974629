from collections.abc import Callable
from typing import Any, TypedDict

from django.db import models


class DecimalShape(TypedDict, total=False):
    """A decimal field's size (and checks), spread into fields as ``**MONEY``; typed for mypy."""

    max_digits: int
    decimal_places: int
    validators: list[Callable[[Any], None]]


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        abstract = True
