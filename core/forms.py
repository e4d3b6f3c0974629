from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.widgets import Input
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from core import errors
from core.models import DecimalShape


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
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        instance = getattr(self, "instance", None)
        if instance is not None and instance.pk:
            sensitive = [f for f in self.reason_required_for if f in self.changed_data]
            if sensitive and not (cleaned.get("audit_reason") or "").strip():
                self.add_error(
                    "audit_reason",
                    forms.ValidationError(
                        "Say why the %(fields)s changes.",
                        code=errors.REASON_REQUIRED,
                        params={"fields": ", ".join(sensitive)},
                    ),
                )
        return cleaned


REASON_FIELDS = ("audit_reason", "reason")


# Dates and money, one way in every form: the browser's own pickers, ISO values.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MONEY: DecimalShape = {"max_digits": 12, "decimal_places": 2}


class MoneyField(forms.DecimalField):
    """An amount of money: two decimals, at most 12 digits, a decimal keypad on phones."""

    def __init__(self, **kwargs: Any) -> None:
        for name, value in MONEY.items():
            kwargs.setdefault(name, value)
        kwargs.setdefault(
            "widget", forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"})
        )
        super().__init__(**kwargs)


# A lost-update refusal carries the record's current version (``audit.edits``).
CHANGED_SINCE_OPENED = errors.CHANGED_SINCE_OPENED


class VersionField(forms.IntegerField):
    """The hidden version of the record an edit form was opened at (``audit.edits``); blank
    means no check (a script, or a form that creates)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        """A hidden field nobody types into: a blank means no check; anything that is not a
        version (tampered, out of range) counts as "opened before every change", so the
        form comes back listing the record's changes instead of failing on an invisible
        field."""
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            return 0
        return int(text)


def _keep_current_version(form: forms.BaseForm, error: ValidationError) -> None:
    """The form comes back with the person's input and the record's current version, so a
    second save, made having seen the other change, goes through."""
    params = getattr(error, "params", None) or {}
    version = params.get("version")
    if "version" not in form.fields or version is None:
        return
    data = form.data.copy()  # type: ignore[attr-defined]  # a bound form's data: QueryDict or dict
    data[form.add_prefix("version")] = str(version)
    # Three-way: a field the person left as it was when the form opened takes the other
    # change; a field they changed keeps what they typed.
    cleaned = getattr(form, "cleaned_data", {})
    for name, (old, new) in (params.get("others") or {}).items():
        field = form.fields.get(name)
        if field is None or name not in cleaned or isinstance(new, list | dict):
            continue
        typed = getattr(cleaned[name], "pk", cleaned[name])
        if typed != old and not (typed in (None, "") and old in (None, "")):
            continue
        key = form.add_prefix(name)
        if isinstance(field.widget, forms.CheckboxInput):
            if new:
                data[key] = "on"
            else:
                data.pop(key, None)
            continue
        shown = field.widget.format_value(new)
        data[key] = "" if shown is None else str(shown)
    form.data = data


def errors_to_form(form: forms.BaseForm, exc: ValidationError) -> None:
    """A service's refusal onto the form that asked for it, so the page comes back with the input.

    Field errors go to their field (or the top when the form has no such field); "reason
    required" goes next to the form's reason box; anything else to the top.
    """
    if hasattr(exc, "error_dict"):
        for name, found in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, found)
        return
    reason_field = next((n for n in REASON_FIELDS if n in form.fields), None)
    for error in exc.error_list:
        if error.code == CHANGED_SINCE_OPENED:
            _keep_current_version(form, error)
        form.add_error(reason_field if error.code == errors.REASON_REQUIRED else None, error)


def style_widgets(form: forms.BaseForm) -> None:
    """Bootstrap classes on plain inputs and selects (custom widgets style themselves)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
            if type(widget) is forms.Select:
                # The same select, rendered in Python: a country list is 250 option templates.
                # Each form has its own copy of the widget, so only this form's changes.
                widget.__class__ = QuickSelect
        elif isinstance(widget, Input) and not isinstance(widget, forms.FileInput):
            widget.attrs.setdefault("class", "form-control")


class StyledFilterSetMixin:
    """For ``django_filters.FilterSet``: its form's widgets get Bootstrap classes."""

    @property
    def form(self) -> forms.Form:
        form = super().form  # type: ignore[misc]  # a mixin: the FilterSet has it
        style_widgets(form)
        return form


def _html_attrs(attrs: dict[str, Any]) -> str:
    # As django/forms/widgets/attrs.html writes them: False leaves out, True is a bare name.
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


class QuickSelect(forms.Select):
    """A ``Select`` written in Python: the same HTML as Django's templates, without a template
    render per option (50 record types cost ~9 ms that way, on every filter form)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        # Select.get_context and optgroups, without a dict per option.
        attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        values = self.format_value(value)
        parts = [format_html('<select name="{}"', name), _html_attrs(attrs), ">"]
        has_selected = False
        for option_value, option_label in self.choices:
            if isinstance(option_label, (list, tuple)):
                group, options = option_value, option_label
            else:
                group, options = (
                    None,
                    [("" if option_value is None else option_value, option_label)],
                )
            if group:
                parts.append(format_html('\n  <optgroup label="{}">', group))
            for subvalue, sublabel in options:
                selected = (not has_selected or self.allow_multiple_selected) and str(
                    subvalue
                ) in values
                has_selected |= selected
                parts.append(
                    format_html(
                        '\n  <option value="{}"{}>{}</option>\n',
                        str(subvalue),
                        " selected" if selected else "",
                        sublabel,
                    )
                )
            if group:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
