"""Admin-defined client fields: one form field per definition, one validation for every path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from clients.models import CustomField
from core.forms import DATE_INPUT

FORM_PREFIX = "custom_"


def form_field(definition: CustomField) -> forms.Field:
    """The form field for a definition, with its validation (required, pattern, type)."""
    common: dict[str, Any] = {
        "label": definition.name,
        "required": definition.required,
        "help_text": definition.description,
    }
    kind = definition.field_type
    if kind == CustomField.FieldType.TEXTAREA:
        field: forms.Field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    elif kind == CustomField.FieldType.DROPDOWN:
        choices = [(o, o) for o in definition.option_list]
        field = forms.ChoiceField(choices=[("", "—"), *choices], **common)
    elif kind == CustomField.FieldType.CHECKBOX:
        field = forms.BooleanField(**common)
    elif kind == CustomField.FieldType.LINK:
        field = forms.URLField(assume_scheme="https", **common)
    elif kind == CustomField.FieldType.DATE:
        field = forms.DateField(widget=DATE_INPUT, **common)
    else:
        field = forms.CharField(max_length=1000, **common)
    if definition.regex and kind in (CustomField.FieldType.TEXT, CustomField.FieldType.TEXTAREA):
        field.validators.append(
            RegexValidator(
                rf"^(?:{definition.regex})\Z",
                message=f"{definition.name} does not have the expected format.",
                code="pattern_mismatch",
            )
        )
    return field


def to_storage(definition: CustomField, value: Any) -> str:
    """A cleaned value as the text we store."""
    if definition.field_type == CustomField.FieldType.CHECKBOX:
        return "1" if value else ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def from_storage(definition: CustomField, text: str) -> Any:
    """Stored text as the form's initial value."""
    if definition.field_type == CustomField.FieldType.CHECKBOX:
        return text == "1"
    if definition.field_type == CustomField.FieldType.DATE and text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text
    return text


def display(definition: CustomField, text: str) -> str:
    if definition.field_type == CustomField.FieldType.CHECKBOX:
        return "Yes" if text == "1" else "No"
    return text
