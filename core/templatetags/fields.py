"""``quick_field``: crispy's Bootstrap 5 field markup for the plain cases, written in Python.

A filter form of twelve fields costs ~5 ms of crispy templates on every list page it heads.
Inputs, selects and checkboxes without errors or help text come out as crispy writes them (the
same elements, classes and ids; tests compare the two); anything else goes to crispy itself.
"""

from __future__ import annotations

from django import forms, template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_FALLBACK = (forms.HiddenInput, forms.FileInput, forms.RadioSelect, forms.CheckboxSelectMultiple)


def _add_classes(widget: forms.Widget, extra: str) -> None:
    # As crispy's {% crispy_field %}: the widget's own class, its name, then Bootstrap's.
    name = type(widget).__name__.lower()
    css = widget.attrs.get("class", "")
    css = (css + " " + name if name not in css else css) if css else name
    for cls in extra.split():
        if cls not in css.split():
            css += " " + cls
    widget.attrs["class"] = css


@register.filter
def quick_field(field: forms.BoundField) -> SafeString:
    widget = field.field.widget
    if field.errors or field.help_text or field.css_classes() or isinstance(widget, _FALLBACK):
        from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field

        return as_crispy_field(field)
    required = field.field.required
    asterisk = format_html('<span class="asteriskField">*</span>') if required else ""
    if isinstance(widget, forms.CheckboxInput):
        _add_classes(widget, "form-check-input")
        return format_html(
            '<div class="mb-3"><div id="div_{}" class="form-check">{}'
            '<label for="{}" class="form-check-label{}">{}{}</label></div></div>',
            field.auto_id,
            str(field),
            field.id_for_label,
            " requiredField" if required else "",
            field.label,
            asterisk,
        )
    _add_classes(widget, "form-select" if isinstance(widget, forms.Select) else "form-control")
    label = ""
    if field.label:
        label = format_html(
            '<label {}class="form-label{}">{}{}</label>',
            format_html('for="{}" ', field.id_for_label) if field.id_for_label else "",
            " requiredField" if required else "",
            field.label,
            asterisk,
        )
    return format_html('<div id="div_{}" class="mb-3">{}{}</div>', field.auto_id, label, str(field))
