from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.widgets import Input


class ReasonFormMixin(forms.Form):
    """Adds the audit reason: optional in general, required when a sensitive field changes.

    ``reason_required_for`` names the fields whose change needs a reason (DOMAIN.md: status
    changes, price overrides, back-dating, ...). The service checks the same rule; the form
    only says it early and next to the field.
    """

    reason_required_for: tuple[str, ...] = ()
    # Named so that it never collides with a model field called ``reason``.

    audit_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "e.g. requested by phone, ticket #1234"}),
        help_text="Recorded in the audit trail. Required for sensitive changes "
        "(status, back-dating).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if getattr(self, "instance", None) is not None and self.instance.pk:
            sensitive = [f for f in self.reason_required_for if f in self.changed_data]
            if sensitive and not (cleaned.get("audit_reason") or "").strip():
                self.add_error(
                    "audit_reason",
                    forms.ValidationError(
                        "Say why the %(fields)s changes.",
                        code="reason_required",
                        params={"fields": ", ".join(sensitive)},
                    ),
                )
        return cleaned


REASON_FIELDS = ("audit_reason", "reason")


# A lost-update refusal (``audit.edits.refuse_if_changed``): the record changed after the form
# was opened. It carries the record's current version.
CHANGED_SINCE_OPENED = "changed_since_opened"


class VersionField(forms.IntegerField):
    """The hidden version of the record an edit form was opened at (``audit.edits``); blank
    means no check (a script, or a form that creates)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(**kwargs)


def _keep_current_version(form: forms.BaseForm, error: ValidationError) -> None:
    """The form comes back with the person's input and the record's current version, so a
    second save, made having seen the other change, goes through."""
    version = (getattr(error, "params", None) or {}).get("version")
    if "version" in form.fields and version is not None:
        data = form.data.copy()
        data[form.add_prefix("version")] = str(version)
        form.data = data


def errors_to_form(form: forms.BaseForm, exc: ValidationError) -> None:
    """A service's refusal onto the form that asked for it, so the page comes back with the input.

    Field errors go to their field (or the top when the form has no such field); "reason
    required" goes next to the form's reason box; anything else to the top.
    """
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return
    reason_field = next((n for n in REASON_FIELDS if n in form.fields), None)
    for error in exc.error_list:
        if error.code == CHANGED_SINCE_OPENED:
            _keep_current_version(form, error)
        form.add_error(reason_field if error.code == "reason_required" else None, error)


def style_widgets(form: forms.BaseForm) -> None:
    """Bootstrap classes on plain inputs and selects (custom widgets style themselves)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        elif isinstance(widget, Input) and not isinstance(widget, forms.FileInput):
            widget.attrs.setdefault("class", "form-control")


class StyledFilterSetMixin:
    """For ``django_filters.FilterSet``: its form's widgets get Bootstrap classes."""

    @property
    def form(self) -> forms.Form:
        form = super().form  # type: ignore[misc]
        style_widgets(form)
        return form
