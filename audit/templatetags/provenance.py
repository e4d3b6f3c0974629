"""Provenance markers on detail pages (``audit/provenance.py``): who last changed the record,
and beside a field that changed since creation, who changed that field, when and why."""

from __future__ import annotations

from typing import Any

from django import template

from audit.provenance import Provenance

register = template.Library()


@register.inclusion_tag("audit/includes/_marker.html")
def changed_marker(provenance: Any, name: str) -> dict[str, Any]:
    """A small marker beside a field's value, if the field changed since the row was created;
    a click opens who, when, why (and what it was, unless it is a secret)."""
    # A page rendered without provenance (a history tab, a form sent back): no marker.
    if not isinstance(provenance, Provenance):
        return {"mark": None}
    return {"mark": provenance[name], "name": name, "history_url": provenance.history_url}


@register.inclusion_tag("audit/includes/_last_changed.html")
def last_changed(provenance: Any) -> dict[str, Any]:
    """The record's line: last changed by <name>, <when>, <reason>."""
    if not isinstance(provenance, Provenance):
        return {"mark": None}
    return {"mark": provenance.record, "history_url": provenance.history_url}
