"""Keep user-entered text from reordering the text around it (a right-to-left override in a
name would turn "Client #26" into "62# tneilC").

``{{ value|bdi }}`` wraps it in ``<bdi>`` for HTML; ``{{ value|isolate }}`` wraps it in
FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE for plain text (page titles, text emails),
where there is no markup. Both are built in (``TEMPLATES`` ``builtins``): no ``{% load %}``.
App CSS isolates links, spans and badges too, so a name that is alone in one of those needs
nothing more.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()

FSI, PDI = "\u2068", "\u2069"


@register.filter
def bdi(value: Any) -> str:
    if value in (None, ""):
        return ""
    return format_html("<bdi>{}</bdi>", value)


@register.filter(is_safe=True)
def isolate(value: Any) -> str:
    """Plain-text isolation; escaping is left to autoescape (the marks are not HTML)."""
    if value in (None, ""):
        return ""
    return f"{FSI}{value}{PDI}"
