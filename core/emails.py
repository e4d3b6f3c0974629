"""Plain-text email bodies, rendered one way for every app."""

from __future__ import annotations

from typing import Any

from django.template import Context
from django.template.loader import get_template


def render_text(template_name: str, context: dict[str, Any]) -> str:
    """An email's text body from a ``.txt`` template, with autoescaping off: a text body is not
    HTML, and an escaped "O'Brien & Co" would arrive as "O&#x27;Brien &amp; Co"."""
    # The Django backend's template wraps the engine's own (``.template``); the stubs know only
    # the backend-neutral protocol.
    return get_template(template_name).template.render(  # type: ignore[attr-defined]  # the backend's own
        Context(context, autoescape=False)
    )
