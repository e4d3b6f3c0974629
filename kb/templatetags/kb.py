from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def highlight(snippet: str) -> SafeString:
    """A search snippet: everything escaped, then only the match markers become ``<mark>``."""
    escaped = escape(snippet)
    return mark_safe(escaped.replace("\x02", "<mark>").replace("\x03", "</mark>"))  # noqa: S308 - escaped first
