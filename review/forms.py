from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.forms import QuickSelect, StyledFilterSetMixin, style_widgets
from review.models import FlaggedEntry, ReviewDecision, ReviewRule
from review.rules import form_initial, param_fields, params_from_form

STATUS_CHOICES = [
    ("open", "Open (to decide)"),
    (FlaggedEntry.Status.WAITING, "Waiting"),
    (FlaggedEntry.Status.ESCALATED, "Escalated to Admins"),
    (FlaggedEntry.Status.REVIEWED, "Reviewed"),
    ("all", "Any state"),
]
# Age of the entry (when it was written), in days: (value, label, newer than, older than).
AGES = {
    "day": ("Last 24 hours", None, 1),
    "week": ("1 to 7 days old", 1, 7),
    "month": ("7 to 30 days old", 7, 30),
    "older": ("More than 30 days old", 30, None),
}


# Bounded like the column (12 digits, 2 decimals): 1e999999 is refused, not sent to PostgreSQL.
AMOUNT: dict[str, Any] = {
    "min_value": 0,
    "max_value": Decimal("9999999999.99"),
    "max_digits": 12,
    "decimal_places": 2,
}


class FlaggedEntryFilter(StyledFilterSetMixin, django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None, label="State"
    )
    rule = django_filters.ModelChoiceFilter(
        queryset=ReviewRule.objects.order_by("key"), empty_label="Any rule", widget=QuickSelect
    )
    maker = django_filters.ModelChoiceFilter(
        label="Staff member",
        queryset=get_user_model().objects.order_by("username"),
        empty_label="Anyone",
        widget=QuickSelect,
    )
    age = django_filters.ChoiceFilter(
        choices=[(k, v[0]) for k, v in AGES.items()],
        method="filter_age",
        empty_label="Any age",
        label="Age",
    )
    amount_min = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", label="Amount ≥", **AMOUNT
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", label="Amount ≤", **AMOUNT
    )
    entry = django_filters.NumberFilter(
        field_name="pk",
        widget=forms.HiddenInput,
        min_value=1,
        max_value=2**31 - 1,
        decimal_places=0,
    )

    class Meta:
        model = FlaggedEntry
        fields = ["status", "rule", "maker", "age", "amount_min", "amount_max"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # Waiting or escalated unless asked otherwise: the queue is what is left to do.
        data = data.copy() if data is not None else {}
        data.setdefault("status", "open")
        super().__init__(data, *args, **kwargs)

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.filter(status__in=FlaggedEntry.OPEN)
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        _label, newer, older = AGES[value]
        now = timezone.now()
        where = Q()
        if newer is not None:
            where &= Q(occurred_at__lte=now - dt.timedelta(days=newer))
        if older is not None:
            where &= Q(occurred_at__gt=now - dt.timedelta(days=older))
        return queryset.filter(where)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision", choices=ReviewDecision.Decision.choices, widget=forms.RadioSelect
    )
    # Required by the service (reason_required), so the refusal carries the shared code.
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you checked (reviewed), or what Admins should look at (escalated).",
    )


class RuleForm(forms.Form):
    """A rule's switch and parameters (the fields its kind declares), with the reason."""

    enabled = forms.BooleanField(label="Switched on", required=False)
    reason = forms.CharField(label="Reason", required=False, max_length=500)

    def __init__(self, *args: Any, rule: ReviewRule, **kwargs: Any) -> None:
        self.rule = rule
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {
            "enabled": rule.enabled,
            **form_initial(rule.key, rule.params or {}),
            **kwargs["initial"],
        }
        super().__init__(*args, **kwargs)
        reason = self.fields.pop("reason")
        self.fields.update(param_fields(rule.key))
        self.fields["reason"] = reason  # last, below the parameters
        style_widgets(self)

    def params(self) -> dict[str, Any]:
        return params_from_form(self.rule.key, self.cleaned_data)


class DigestForm(forms.Form):
    daily_digest = forms.BooleanField(label="Email me the daily digest", required=False)
