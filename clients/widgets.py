from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy

from core.inputs import record_id


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
        # A value typed into the URL (``?client=abc``) is not an id: the picker starts empty.
        pk = record_id(value)
        client = None
        if pk is not None:
            from clients.models import Client

            client = Client.objects.filter(pk=pk).first()
        context["widget"].update(
            value=client.pk if client else "",
            label=f"{client} (#{client.pk})" if client else "",
            url=reverse_lazy("clients:client-autocomplete"),
            navigate=self.navigate,
        )
        return context
