from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.forms.models import ModelChoiceIterator

from audit.context import CHANNELS
from audit.feed import OPERATION_LABELS, FeedFilters
from audit.models import ReasonCode
from audit.tracking import tracked_models
from core import extension_points, inputs
from core.extension_points import FeedFilter
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


def _reason_code_choices() -> list[tuple[str, str]]:
    """Every code of every list, once (the lists are short: Admins keep them)."""
    labels: dict[str, str] = {}
    for code, label in ReasonCode.objects.order_by("code", "-active").values_list("code", "label"):
        labels.setdefault(code, label)
    return [("", "Any reason code"), *sorted(labels.items(), key=lambda item: item[1])]


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
    reason_code = forms.ChoiceField(
        label="Reason code", required=False, choices=_reason_code_choices, widget=QuickSelect
    )
    unattributed = forms.BooleanField(label="Unattributed only", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", forms.ValidationError("Ends before it starts.", code="range"))
        return cleaned

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Filters other apps offer (core.extension_points.FeedFilter): the review state...
        for point in extension_points.registered(FeedFilter):
            self.fields[point.key] = forms.ChoiceField(
                label=point.label,
                required=False,
                choices=[("", "Any"), *point.choices],
                widget=QuickSelect,
            )

    @property
    def extension_fields(self) -> list[forms.BoundField]:
        return [self[p.key] for p in extension_points.registered(FeedFilter)]

    def _extension_contexts(self) -> tuple[Any, ...] | None:
        chosen: set[Any] | None = None
        for point in extension_points.registered(FeedFilter):
            value = self.cleaned_data.get(point.key)
            if value:
                ids = set(point.contexts(value=value))
                chosen = ids if chosen is None else chosen & ids
        return None if chosen is None else tuple(chosen)

    def to_filters(self) -> FeedFilters:
        data = self.cleaned_data
        actor = data.get("actor")
        return FeedFilters(
            context_ids=self._extension_contexts(),
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
            reason_code=data.get("reason_code") or "",
            unattributed=bool(data.get("unattributed")),
        )


class ReasonReportForm(forms.Form):
    since = inputs.DateField(label="From", required=False, widget=DATE_INPUT)
    until = inputs.DateField(label="To", required=False, widget=DATE_INPUT)
    action = forms.ChoiceField(label="Action", required=False, choices=(), widget=QuickSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = ReasonCode.objects.values_list("action", flat=True).distinct().order_by("action")
        # A credit list serves adding and removing credit.
        shown = sorted({*actions, "billing.remove_credit"} if actions else set())
        field = self.fields["action"]
        if isinstance(field, forms.ChoiceField):  # declared so above; narrowed for the types
            field.choices = [("", "Every action"), *((a, a) for a in shown)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", forms.ValidationError("Ends before it starts.", code="range"))
        return cleaned


class RevertForm(forms.Form):
    """The why of a revert: always required (a revert is a change like any other)."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the edit is set back; it is recorded with the revert.",
    )
