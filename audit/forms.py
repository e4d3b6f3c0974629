from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.forms.models import ModelChoiceIterator

from audit.context import CHANNELS
from audit.feed import OPERATION_LABELS, FeedFilters
from audit.tracking import tracked_models
from core import inputs
from core.forms import DATE_INPUT, QuickSelect


class _ListedChoices(ModelChoiceIterator):
    """The staff accounts in one plain query: ``iterator()``, Django's default here, opens a
    server-side cursor (three round trips) for a list of a few dozen names."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:  # (value, label), lazy labels included
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class StaffChoiceField(forms.ModelChoiceField):
    iterator = _ListedChoices


def _model_choices() -> list[tuple[str, str]]:
    return [("", "Any record type")] + [
        (m._meta.label_lower, str(m._meta.verbose_name).capitalize()) for m in tracked_models()
    ]


class FeedFilterForm(forms.Form):
    # Bounded dates: a "to" of 9999-12-31 would overflow when the feed adds its day.
    since = inputs.DateField(label="From", required=False, widget=DATE_INPUT)
    until = inputs.DateField(label="To", required=False, widget=DATE_INPUT)
    actor = StaffChoiceField(
        label="Staff member",
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        empty_label="Anyone",
        widget=QuickSelect,
    )
    model = forms.ChoiceField(
        label="Record type", required=False, choices=_model_choices, widget=QuickSelect
    )
    action = forms.RegexField(
        label="Business action",
        required=False,
        max_length=100,
        regex=r"^[a-z_]+(\.[a-z_]*)?$",
        error_messages={"invalid": "An action such as billing.refund_payment, or an app: billing."},
        help_text="billing.refund_payment, or billing. for all of an app's",
    )
    operation = forms.ChoiceField(
        label="Operation",
        required=False,
        choices=[("", "Any operation"), *OPERATION_LABELS.items()],
        widget=QuickSelect,
    )
    object_id = forms.IntegerField(label="Record ID", required=False, min_value=1)
    client = forms.IntegerField(
        label="Client (with its records)",
        required=False,
        min_value=1,
        help_text="A client's ID: its own changes and those of everything that belongs to it",
    )
    ip = forms.GenericIPAddressField(label="IP address", required=False)
    channel = forms.ChoiceField(
        label="Channel",
        required=False,
        choices=[("", "Any channel"), *((c, c.capitalize()) for c in CHANNELS)],
        widget=QuickSelect,
    )
    request_id = inputs.SearchField(label="Request ID", required=False, max_length=64)
    reason = inputs.SearchField(label="Reason contains", required=False, max_length=200)
    unattributed = forms.BooleanField(label="Unattributed only", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", forms.ValidationError("Ends before it starts.", code="range"))
        return cleaned

    def to_filters(self) -> FeedFilters:
        data = self.cleaned_data
        actor = data.get("actor")
        return FeedFilters(
            since=data.get("since"),
            until=data.get("until"),
            actor_id=actor.pk if actor else None,
            model=data.get("model") or "",
            action=(data.get("action") or "").strip(),
            operation=data.get("operation") or "",
            object_id=data.get("object_id"),
            client_id=data.get("client"),
            ip=data.get("ip") or "",
            channel=data.get("channel") or "",
            request_id=(data.get("request_id") or "").strip(),
            reason=(data.get("reason") or "").strip(),
            unattributed=bool(data.get("unattributed")),
        )


class RevertForm(forms.Form):
    """The why of a revert: always required (a revert is a change like any other)."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the edit is set back; it is recorded with the revert.",
    )
