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
def status_badge(record: Any) -> SafeString:
    colour = getattr(record, "STATUS_BADGES", {}).get(record.status, "secondary")
    return format_html(
        '<span class="badge text-bg-{}">{}</span>', colour, record.get_status_display()
    )
