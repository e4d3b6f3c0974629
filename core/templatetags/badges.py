"""``{% status_badge record %}``: the record's status as a coloured badge.

The colours are declared once per model, next to its statuses (``STATUS_BADGES``, a map of
status to Bootstrap colour); a status not listed is grey. Built in (``TEMPLATES``
``builtins``): no ``{% load %}``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def status_badge(record: Any, field: str = "status") -> SafeString:
    """``{% status_badge ticket %}``, or another choice field's: ``{% status_badge ticket
    "priority" %}`` (colours from ``PRIORITY_BADGES``)."""
    colours = getattr(record, f"{field.upper()}_BADGES", {})
    colour = colours.get(getattr(record, field), "secondary")
    label = getattr(record, f"get_{field}_display")()
    return format_html('<span class="badge text-bg-{}">{}</span>', colour, label)
