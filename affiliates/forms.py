from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q

from affiliates.models import Affiliate, Payout
from billing.models import Invoice
from billing.services import gateway_choices
from clients.models import Client
from clients.widgets import ClientPickerWidget
from core import inputs
from core.forms import DATE_INPUT, MoneyField, ReasonFormMixin, VersionField, style_widgets
from hosting.models import Service


def _money(label: str, **kwargs: Any) -> forms.DecimalField:
    return MoneyField(label=label, min_value=Decimal("0.00"), **kwargs)


class AffiliateTermsForm(forms.Form):
    code = forms.CharField(
        label="Referral code",
        max_length=30,
        required=False,
        help_text="Capital letters, digits and dashes; blank: made from the client's name.",
    )
    commission_type = forms.ChoiceField(choices=Affiliate.CommissionType.choices)
    commission_value = _money(
        "Commission", required=False, help_text="Percent, or an amount per referral."
    )
    payout_threshold = _money("Payout threshold", required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class AffiliateUpdateForm(ReasonFormMixin, AffiliateTermsForm):
    version = VersionField()
    active = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].required = True
        self.fields["payout_threshold"].required = True


class ReferralForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(), widget=ClientPickerWidget(), required=False
    )
    service = forms.IntegerField(
        label="or hosting account number",
        required=False,
        min_value=1,
        help_text="The number shown on the account's page (Service #…).",
    )
    reason = forms.CharField(
        max_length=500,
        required=False,
        help_text="Required when another affiliate had this referral.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        if cleaned.get("service"):
            service = Service.objects.filter(pk=cleaned["service"]).first()
            if service is None:
                self.add_error("service", "No hosting account has this number.")
            cleaned["service"] = service
        if not self.errors and bool(cleaned.get("client")) == bool(cleaned.get("service")):
            raise forms.ValidationError("Choose a client or a hosting account (one of them).")
        return cleaned


class CommissionForm(forms.Form):
    invoice = forms.CharField(
        label="Related invoice",
        max_length=60,
        required=False,
        help_text="Its number (or draft id). Blank amount: the affiliate's terms on its subtotal.",
    )
    amount = _money("Amount", required=False)
    reason = forms.CharField(label="Note", max_length=500, required=False)
    clears_on = forms.DateField(
        label="Clears on",
        required=False,
        widget=DATE_INPUT,
        help_text="Blank: after the clearing period.",
    )

    def clean_invoice(self) -> Invoice | None:
        value = self.cleaned_data["invoice"].strip()
        if not value:
            return None
        match = Q(number=value)
        if (pk := inputs.record_id(value.lstrip("#"))) is not None:
            match |= Q(pk=pk)
        invoice = Invoice.objects.filter(match).select_related("client").first()
        if invoice is None:
            raise forms.ValidationError("No invoice has this number.")
        return invoice


class ReverseForm(forms.Form):
    reason = forms.CharField(max_length=500)


class PayoutForm(forms.Form):
    amount = _money("Amount")
    method = forms.ChoiceField(choices=Payout.Method.choices, widget=forms.RadioSelect)
    gateway = forms.ChoiceField(
        choices=[], required=False, help_text="For money out: how it was sent."
    )
    reference = forms.CharField(max_length=100, required=False, label="Reference")
    reason = forms.CharField(label="Note", max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = gateway_choices()


class AffiliateFilter(forms.Form):
    q = inputs.SearchField(label="Code or client")
    active = forms.ChoiceField(
        choices=[("", "All"), ("yes", "Active"), ("no", "Inactive")], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)
