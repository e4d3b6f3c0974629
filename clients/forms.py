from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_countries import countries

from clients.models import Client
from clients.services import EDITABLE_FIELDS, validate_status_change
from core.forms import ReasonFormMixin


def status_change_errors(form: forms.ModelForm) -> None:
    """Put the service's status rules on the form, next to the fields they concern."""
    if not form.instance.pk or "status" not in form.changed_data:
        return
    original = Client.objects.only("status").get(pk=form.instance.pk)
    try:
        validate_status_change(
            client=original,
            new_status=form.cleaned_data.get("status", original.status),
            reason=form.cleaned_data.get("audit_reason", ""),
        )
    except ValidationError as exc:
        field = "audit_reason" if exc.code == "reason_required" else "status"
        form.add_error(field, exc)


class ClientForm(ReasonFormMixin, forms.ModelForm):
    """Identity, address and status of a client; a status change needs a reason."""

    class Meta:
        model = Client
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"placeholder": "+44 20 7946 0000", "type": "tel"}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        status_change_errors(self)
        return cleaned

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            # A new client starts active; other statuses are reached by an edit with a reason.
            del self.fields["status"]


# Each ordering matches an index exactly (with the primary key as tie-breaker), so deep pages
# stay cheap.
SORTS = {
    "newest": ("Newest first", ("-id",)),
    "oldest": ("Oldest first", ("id",)),
    "name": ("Name (A to Z)", ("last_name", "first_name", "id")),
}


class ClientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=Client.Status.choices, empty_label="Any status")
    country = django_filters.ChoiceFilter(choices=list(countries), empty_label="Any country")
    sort = django_filters.ChoiceFilter(
        label="Sort by",
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        empty_label=None,
        method="filter_sort",
    )

    class Meta:
        model = Client
        fields = ["q", "status", "country"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("status", "country", "sort"):
            self.form.fields[name].widget.attrs["class"] = "form-select"

    def filter_sort(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.order_by(*SORTS.get(value, SORTS["newest"])[1])

    def filter_search(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.search(value)
