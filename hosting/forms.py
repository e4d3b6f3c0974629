from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import ValidationError

from core import inputs
from core.forms import DATE_INPUT, ReasonFormMixin, StyledFilterSetMixin, VersionField
from hosting import crypto, services
from hosting.domains import to_ascii, to_unicode
from hosting.models import (
    Addon,
    AddonDefinition,
    Domain,
    Product,
    Server,
    Service,
    Tld,
)


def secret_field(
    label: str, *, widget: forms.Widget | type[forms.Widget], **kwargs: Any
) -> forms.CharField:
    """A password or EPP code: short enough that its encrypted token fits the column."""
    return forms.CharField(
        label=label,
        max_length=crypto.MAX_SECRET_LENGTH,
        validators=[crypto.validate_secret_length],
        strip=False,
        widget=widget,
        **kwargs,
    )


class ServiceForm(ReasonFormMixin, forms.ModelForm):
    version = VersionField()
    password = secret_field(
        "Account password",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current one.",
    )
    initial_status = forms.ChoiceField(
        label="Status",
        choices=[
            (Service.Status.ACTIVE, "Active (already running)"),
            (Service.Status.PENDING, "Pending (still to set up)"),
        ],
        initial=Service.Status.ACTIVE,
    )
    recalculate = forms.BooleanField(
        label="Recalculate the amounts from the product's catalog price", required=False
    )
    assigned_ips = SimpleArrayField(
        forms.GenericIPAddressField(),
        label="Assigned IPs",
        required=False,
        delimiter=",",
        help_text="Comma-separated.",
    )

    class Meta:
        model = Service
        fields = list(services.SERVICE_FIELDS)
        widgets = {
            "registration_date": DATE_INPUT,
            "next_due_date": DATE_INPUT,
            "termination_date": DATE_INPUT,
            "override_autosuspend_until": DATE_INPUT,
            "admin_notes": forms.Textarea(attrs={"rows": 3}),
        }
        field_classes = dict.fromkeys(
            (
                "registration_date",
                "next_due_date",
                "termination_date",
                "override_autosuspend_until",
            ),
            inputs.DateField,
        )
        help_texts = {
            "first_payment_amount": "Leave empty to use the catalog price (setup fee included).",
            "recurring_amount": "Leave empty to use the catalog price. A different price needs "
            "a reason.",
            "next_due_date": "Leave empty to count one billing cycle from registration.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        products = Product.objects.select_related("group").order_by("group__name", "name")
        if not self.instance.pk:
            products = products.filter(retired=False)
            del self.fields["recalculate"]
            del self.fields["termination_date"]
        else:
            del self.fields["initial_status"]
        self.fields["product"].queryset = products
        self.fields["server"].queryset = Server.objects.filter(active=True) | Server.objects.filter(
            pk=self.instance.server_id or 0
        )
        for name in ("first_payment_amount", "recurring_amount"):
            self.fields[name].required = False
        if self.instance.domain:
            self.initial["domain"] = to_unicode(self.instance.domain)

    def clean_domain(self) -> str:
        value = self.cleaned_data.get("domain", "")
        return to_ascii(value) if value else ""

    def service_data(self) -> dict[str, Any]:
        return {n: self.cleaned_data[n] for n in self.Meta.fields if n in self.cleaned_data}


class ServiceStatusForm(ReasonFormMixin, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audit_reason"].required = True
        self.fields["audit_reason"].help_text = "Recorded in the audit trail."


class RevealForm(ServiceStatusForm):
    pass


class SecretForm(forms.Form):
    secret = secret_field("New value", widget=forms.PasswordInput(attrs={"autocomplete": "off"}))


class DomainForm(ReasonFormMixin, forms.ModelForm):
    version = VersionField()
    name = forms.CharField(label="Domain name", max_length=300, help_text="Unicode or ASCII.")
    ns1 = forms.CharField(label="Name server 1", max_length=253)
    ns2 = forms.CharField(label="Name server 2", max_length=253)
    ns3 = forms.CharField(label="Name server 3", max_length=253, required=False)
    ns4 = forms.CharField(label="Name server 4", max_length=253, required=False)
    ns5 = forms.CharField(label="Name server 5", max_length=253, required=False)
    epp_code = secret_field(
        "EPP code",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Needed for a transfer. Stored encrypted.",
    )

    class Meta:
        model = Domain
        fields = [f for f in services.DOMAIN_FIELDS if f not in ("name", "nameservers")]
        widgets = {
            "registration_date": DATE_INPUT,
            "expiry_date": DATE_INPUT,
            "next_due_date": DATE_INPUT,
            "admin_notes": forms.Textarea(attrs={"rows": 3}),
        }
        field_classes = dict.fromkeys(
            ("registration_date", "expiry_date", "next_due_date"), inputs.DateField
        )
        help_texts = {
            "expiry_date": "Leave empty to derive it from the period; a different date needs "
            "a reason.",
            "first_payment_amount": "Leave empty to use the TLD price.",
            "recurring_amount": "Leave empty to use the TLD renewal price.",
        }

    def __init__(self, *args: Any, client: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("expiry_date", "first_payment_amount", "recurring_amount"):
            self.fields[name].required = False
        owner = client or getattr(self.instance, "client", None)
        self.fields["service"].queryset = (
            Service.objects.filter(client=owner) if owner else (Service.objects.none())
        )
        if self.instance.pk:
            self.initial["name"] = to_unicode(self.instance.name)
            for i, ns in enumerate(self.instance.nameservers[:5], start=1):
                self.initial[f"ns{i}"] = ns
            del self.fields["epp_code"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        names = [cleaned.get(f"ns{i}", "") for i in range(1, 6)]
        try:
            services.clean_nameservers(names)
        except ValidationError as exc:
            self.add_error("ns1", exc)
        return cleaned

    def domain_data(self) -> dict[str, Any]:
        data = {n: self.cleaned_data[n] for n in self.Meta.fields if n in self.cleaned_data}
        data["name"] = self.cleaned_data["name"]
        data["nameservers"] = [self.cleaned_data.get(f"ns{i}", "") for i in range(1, 6)]
        return data


class AddonForm(ReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Addon
        fields = list(services.ADDON_FIELDS)
        widgets = {"next_due_date": DATE_INPUT, "admin_notes": forms.Textarea(attrs={"rows": 2})}
        field_classes = {"next_due_date": inputs.DateField}

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["definition"].queryset = AddonDefinition.objects.filter(
            active=True, products=service.product_id
        )
        self.fields["definition"].empty_label = "Custom add-on (name below)"
        for name in ("setup_fee", "recurring_price"):
            self.fields[name].required = False
            self.fields[name].help_text = "Leave empty to use the catalog price."
            if self.instance.pk is None:
                # Not the model's 0.00 default: an empty box is what "use the catalog" means.
                self.initial.pop(name, None)
                self.fields[name].initial = None


class ServiceFilter(StyledFilterSetMixin, django_filters.FilterSet):
    q = inputs.SearchFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=Service.Status.choices, empty_label="Any status")
    product = django_filters.ModelChoiceFilter(
        queryset=Product.objects.order_by("name"), empty_label="Any product"
    )
    server = django_filters.ModelChoiceFilter(
        queryset=Server.objects.order_by("name"), empty_label="Any server"
    )
    due_after = inputs.DateFilter(
        field_name="next_due_date", lookup_expr="gte", label="Due from", widget=DATE_INPUT
    )
    due_before = inputs.DateFilter(
        field_name="next_due_date", lookup_expr="lte", label="Due until", widget=DATE_INPUT
    )

    class Meta:
        model = Service
        fields = ["q", "status", "product", "server"]

    def filter_search(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.search(value)


class DomainFilter(StyledFilterSetMixin, django_filters.FilterSet):
    q = inputs.SearchFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=Domain.Status.choices, empty_label="Any status")
    tld = django_filters.ModelChoiceFilter(
        queryset=Tld.objects.order_by("name"), empty_label="Any TLD", label="TLD"
    )
    expires_after = inputs.DateFilter(
        field_name="expiry_date", lookup_expr="gte", label="Expires from", widget=DATE_INPUT
    )
    expires_before = inputs.DateFilter(
        field_name="expiry_date", lookup_expr="lte", label="Expires until", widget=DATE_INPUT
    )
    registrar = inputs.SearchFilter(label="Registrar", lookup_expr="exact")

    class Meta:
        model = Domain
        fields = ["q", "status", "tld", "registrar"]

    def filter_search(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.search(value)
