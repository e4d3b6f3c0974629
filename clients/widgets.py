from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy


class ClientPickerWidget(forms.Widget):
    """Choose a client by typing: a search box with htmx suggestions and a hidden id.

    Every form that needs a client uses this (with a ``ModelChoiceField``), never a ``<select>``
    of all clients. ``navigate=True`` makes picking a client open its profile instead.
    """

    template_name = "clients/widgets/client_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None, *, navigate: bool = False) -> None:
        super().__init__(attrs)
        self.navigate = navigate

    class Media:
        js = ("js/client-picker.js",)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        label = ""
        if value not in (None, ""):
            from clients.models import Client

            client = Client.objects.filter(pk=value).first()
            label = f"{client} (#{client.pk})" if client else ""
        context["widget"].update(
            label=label,
            url=reverse_lazy("clients:client-autocomplete"),
            navigate=self.navigate,
        )
        return context
