"""Build the POST data of a Django admin change form from its GET response, as a browser would
send it unchanged (the form's and its inlines' current values, with the management forms)."""

from __future__ import annotations

from typing import Any


def _put(data: dict[str, Any], form: Any) -> None:
    for name in form.fields:
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
        elif value is not None:
            data[key] = str(value)


def change_form_data(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _put(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _put(data, formset.management_form)
        for form in formset.forms:
            _put(data, form)
    return data
