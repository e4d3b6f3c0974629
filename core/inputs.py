"""Input typed by whoever holds the URL, cleaned one way everywhere.

A query string can carry NUL bytes (PostgreSQL text cannot hold them), pages of text, "²"
(``str.isdigit()`` says yes, ``int()`` says no), ids past bigint and dates at the end of the
calendar. The rule for every GET parameter: a bad value is ignored, or shown as a form error;
never a 500. Filter forms and FilterSets declare the fields and filters below; a view that
reads a parameter by hand goes through ``text`` or ``record_id``. Forms that write use the same
date bounds, so date arithmetic in the services (+1 day, +10 years) never leaves the calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

MAX_SEARCH = 200  # characters: longer than any real search, short enough to stay cheap
MAX_ID = 2**63 - 1  # bigint, the widest primary key
# Far enough either way for any business date (a 1990s sign-up, a domain paid ten years
# ahead), near enough that adding a cycle or a period stays a valid date.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
DATE_RANGE_MESSAGE = "Enter a date between 1900 and 2999."

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")  # "²".isdigit() is True, and int("²") fails


def text(value: Any, *, max_length: int = MAX_SEARCH) -> str:
    """The value as text without NUL bytes, cut at ``max_length`` characters, stripped."""
    return str(value if value is not None else "").replace("\x00", "")[:max_length].strip()


def record_id(value: Any) -> int | None:
    """A positive database id, or None for anything else ("abc", "-1", "²", 10**30, "")."""
    raw = str(value if value is not None else "").strip()
    if not _ASCII_DIGITS.fullmatch(raw):
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ID else None


class SearchField(forms.CharField):
    """A search box: NUL bytes are a form error (``CharField`` refuses them), and so is more
    than ``MAX_SEARCH`` characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_SEARCH)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class DateField(forms.DateField):
    """A date between ``EARLIEST_DATE`` and ``LATEST_DATE``; outside them, a form error."""

    default_validators = [
        MinValueValidator(EARLIEST_DATE, message=DATE_RANGE_MESSAGE),
        MaxValueValidator(LATEST_DATE, message=DATE_RANGE_MESSAGE),
    ]

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.DateInput):
            attrs.update(min=EARLIEST_DATE.isoformat(), max=LATEST_DATE.isoformat())
        return attrs


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


class DateFilter(django_filters.DateFilter):
    field_class = DateField
