from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django_countries import countries

from clients import custom_fields
from clients.models import Client, ClientGroup, Contact, CustomField, Note
from clients.note_subjects import note_subject_choices
from clients.services import (
    CONTACT_FIELDS,
    EDITABLE_FIELDS,
    validate_backdating,
    validate_currency_change,
    validate_status_change,
)
from core import inputs
from core.forms import DATE_INPUT, ReasonFormMixin, VersionField, style_widgets


def status_change_errors(form: forms.ModelForm) -> None:
    """Put the service's rules on the form, next to the fields they concern."""
    instance = form.instance
    cleaned = form.cleaned_data
    original = Client.objects.get(pk=instance.pk) if instance.pk else None
    reason = cleaned.get("audit_reason", "")
    checks: list[tuple[str, Callable[[], object]]] = []
    if original is not None and "status" in form.changed_data and "status" in cleaned:
        checks.append(
            (
                "status",
                lambda: validate_status_change(
                    client=original, new_status=cleaned["status"], reason=reason
                ),
            )
        )
    if original is not None and "currency" in form.changed_data and "currency" in cleaned:
        checks.append(
            (
                "currency",
                lambda: validate_currency_change(client=original, new_currency=cleaned["currency"]),
            )
        )
    if "signed_up_on" in form.changed_data and cleaned.get("signed_up_on"):
        checks.append(
            (
                "signed_up_on",
                lambda: validate_backdating(
                    signed_up_on=cleaned["signed_up_on"],
                    previous=original.signed_up_on if original else None,
                    reason=reason,
                ),
            )
        )
    for field, check in checks:
        try:
            check()
        except ValidationError as exc:
            form.add_error("audit_reason" if exc.code == "reason_required" else field, exc)


def custom_field_definitions(*, admin: bool) -> list[CustomField]:
    queryset = CustomField.objects.filter(active=True)
    if not admin:
        queryset = queryset.filter(admin_only=False)
    return list(queryset.order_by("display_order", "name"))


class ClientForm(ReasonFormMixin, forms.ModelForm):
    """Every field staff enter about a client, its custom fields and, when adding, its login."""

    version = VersionField()
    password = forms.CharField(
        label="Client's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to email a set-password link instead. "
        + password_validators_help_text_html(),
    )
    send_password_link = forms.BooleanField(
        label="Email a set-password link", required=False, initial=True
    )
    send_welcome = forms.BooleanField(label="Send the welcome email", required=False, initial=True)

    class Meta:
        model = Client
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"placeholder": "+44 20 7946 0000", "type": "tel"}),
            "signed_up_on": DATE_INPUT,
        }

    def __init__(self, *args: Any, definitions: list[CustomField] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.definitions = definitions or []
        stored = {}
        if self.instance.pk:
            stored = {v.field_id: v.value for v in self.instance.custom_values.all()}
            for name in ("password", "send_password_link", "send_welcome"):
                del self.fields[name]
        else:
            # A new client starts active; other statuses are reached by an edit with a reason.
            del self.fields["status"]
        self.fields["group"].queryset = ClientGroup.objects.order_by("name")
        self.fields["group"].empty_label = "No group"
        for definition in self.definitions:
            field = custom_fields.form_field(definition)
            if definition.pk in stored:
                field.initial = custom_fields.from_storage(definition, stored[definition.pk])
            self.fields[f"{custom_fields.FORM_PREFIX}{definition.pk}"] = field

    @property
    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[f"{custom_fields.FORM_PREFIX}{d.pk}"] for d in self.definitions]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        status_change_errors(self)
        if not self.instance.pk and cleaned.get("password") and cleaned.get("send_password_link"):
            self.add_error(
                "send_password_link",
                ValidationError(
                    "Either set a password or email a link, not both.", code="password_or_link"
                ),
            )
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # a mixin: the form class below has it
        password = self.cleaned_data.get("password")
        if password:
            from django.contrib.auth.password_validation import validate_password

            try:
                validate_password(password, user=self.instance)
            except ValidationError as exc:
                self.add_error("password", exc)

    def service_data(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data
        }

    def custom_values(self) -> dict[CustomField, Any]:
        return {
            d: self.cleaned_data.get(f"{custom_fields.FORM_PREFIX}{d.pk}") for d in self.definitions
        }


class StatusForm(ReasonFormMixin, forms.Form):
    """Close or reactivate: only the reason, which is required."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audit_reason"].required = True
        self.fields["audit_reason"].help_text = "Recorded in the audit trail."


class DeleteClientForm(StatusForm):
    pass


class ContactForm(forms.ModelForm):
    version = VersionField()

    class Meta:
        model = Contact
        fields = list(CONTACT_FIELDS)
        widgets = {"phone": forms.TextInput(attrs={"type": "tel"})}

    def contact_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class NoteForm(forms.ModelForm):
    about_record = forms.ChoiceField(label="About", required=False)

    class Meta:
        model = Note
        fields = ["body", "pinned"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}
        labels = {"body": "Note", "pinned": "Pin to the top of the profile"}

    def __init__(
        self, *args: Any, client: Client | None = None, user: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Only records the user may see are offered (and so accepted).
        choices = note_subject_choices(client, user) if client and user else []
        if choices:
            self.fields["about_record"].choices = [("", "The client in general"), *choices]
        else:
            del self.fields["about_record"]

    def about(self) -> Any:
        """The record chosen in "About", or None."""
        value = self.cleaned_data.get("about_record") or ""
        if not value:
            return None
        label, _, pk = value.partition(":")
        from django.apps import apps

        return apps.get_model(label)._default_manager.get(pk=int(pk))


class NoteEditForm(ReasonFormMixin, forms.Form):
    body = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 5}))
    version = VersionField()


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password2"):
            self.add_error(
                "password2", ValidationError("The two passwords differ.", code="mismatch")
            )
        return cleaned


class EmailForm(forms.Form):
    subject = forms.CharField(max_length=200)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 8}))
    include_contacts = forms.BooleanField(
        label="Also send to contacts who receive general emails", required=False
    )


# Each ordering matches an index exactly (with the primary key as tie-breaker), so deep pages
# stay cheap.
SORTS = {
    "newest": ("Newest first", ("-id",)),
    "oldest": ("Oldest first", ("id",)),
    "name": ("Name (A to Z)", ("last_name", "first_name", "id")),
}


class ClientFilter(django_filters.FilterSet):
    q = inputs.SearchFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=Client.Status.choices, empty_label="Any status")
    group = django_filters.ModelChoiceFilter(
        queryset=ClientGroup.objects.order_by("name"), empty_label="Any group"
    )
    country = django_filters.ChoiceFilter(choices=list(countries), empty_label="Any country")
    source = django_filters.ChoiceFilter(choices=Client.Source.choices, empty_label="Any source")
    sort = django_filters.ChoiceFilter(
        label="Sort by",
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        empty_label=None,
        method="filter_sort",
    )

    class Meta:
        model = Client
        fields = ["q", "status", "group", "country", "source"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self.form)

    def filter_sort(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.order_by(*SORTS.get(value, SORTS["newest"])[1])

    def filter_search(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.search(value)
