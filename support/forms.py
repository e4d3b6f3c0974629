from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from clients.models import Client
from clients.widgets import ClientPickerWidget
from core import inputs
from core.forms import (
    DATE_INPUT,
    DATETIME_INPUT,
    ReasonFormMixin,
    StyledFilterSetMixin,
    VersionField,
    style_widgets,
)
from support.models import Communication, Department, Ticket, TicketReply

User = get_user_model()
CLIENT_RECORDS = 200  # a client's services / domains / invoices / tickets offered in a form


def staff_users() -> Any:
    return User.objects.filter(is_active=True, is_staff=True).order_by("username")


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); the service checks them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def attachments_field() -> MultipleFileField:
    return MultipleFileField(
        required=False,
        label="Attachments",
        help_text=f"Up to {settings.TICKET_ATTACHMENT_MAX_FILES} files of at most "
        f"{filesizeformat(settings.TICKET_ATTACHMENT_MAX_BYTES)} each: "
        f"{', '.join(settings.TICKET_ATTACHMENT_TYPES)}.",
    )


class ChooseRequesterForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(),
        widget=ClientPickerWidget(),
        help_text="Type a name, email or company. For someone who is not a client, use the "
        "link below.",
    )


class TicketForm(forms.Form):
    """Open a ticket for ``client`` (its contacts, services and domains are offered) or, with
    no client, for anyone by name and email."""

    contact: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The account holder",
        help_text="Who asked; replies go to them.",
    )
    name = forms.CharField(label="Requester name", max_length=200, required=False)
    email = forms.EmailField(label="Requester email", max_length=254, required=False)
    department: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None)
    subject = forms.CharField(max_length=200)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}))
    priority = forms.ChoiceField(choices=Ticket.Priority.choices, initial=Ticket.Priority.MEDIUM)
    service: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, label="Related service"
    )
    domain: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, label="Related domain"
    )
    assignee = StaffChoiceField(queryset=None, required=False, empty_label="Unassigned")
    cc = forms.CharField(
        label="CC",
        max_length=1000,
        required=False,
        help_text="Addresses copied on every email, comma-separated.",
    )
    attachments = attachments_field()
    private_note = forms.CharField(
        label="Internal note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Staff only; never emailed.",
    )
    suppress_email = forms.BooleanField(
        label="Do not email the client",
        required=False,
        help_text="No opening email and no reply emails for this ticket.",
    )
    opened_at = forms.DateTimeField(
        label="Opened",
        widget=DATETIME_INPUT,
        help_text="When the client asked. Earlier than now: "
        "the ticket is flagged back-dated and needs a reason.",
    )
    reason = forms.CharField(
        label="Reason for back-dating",
        max_length=300,
        required=False,
        help_text="Recorded on the ticket and in the audit trail.",
    )

    def __init__(self, *args: Any, client: Client | None, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault(
            "opened_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.client = client
        self.fields["department"].queryset = Department.objects.visible_to(user).filter(active=True)
        self.fields["assignee"].queryset = staff_users()
        if client is None:
            for name in ("contact", "service", "domain"):
                del self.fields[name]
            self.fields["name"].required = self.fields["email"].required = True
        else:
            del self.fields["name"], self.fields["email"]
            self.fields["contact"].queryset = client.contacts.all()
            self.fields["service"].queryset = client.services.select_related("product").order_by(
                "-id"
            )
            self.fields["domain"].queryset = client.domains.order_by("name")
            for name in ("service", "domain", "contact"):
                field = self.fields[name]
                # Bounded: a client with thousands of services gets the newest ones offered.
                ids = list(field.queryset.values_list("pk", flat=True)[:CLIENT_RECORDS])
                field.queryset = field.queryset.filter(pk__in=ids)

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["client"] = self.client
        return data


class ReplyForm(forms.Form):
    KIND_CHOICES = [
        (TicketReply.Kind.STAFF, "Reply to the client"),
        (TicketReply.Kind.CLIENT, "Record the client's reply (e.g. by phone)"),
        (TicketReply.Kind.NOTE, "Internal note (staff only, never emailed)"),
    ]
    STATUS_CHOICES = [("", "Automatic (reply: Answered, client's reply: Customer-Reply)")] + [
        c for c in Ticket.Status.choices if c[0] != Ticket.Status.OPEN
    ]

    kind = forms.ChoiceField(
        label="This is",
        choices=KIND_CHOICES,
        widget=forms.RadioSelect,
        initial=TicketReply.Kind.STAFF,
    )
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}))
    attachments = attachments_field()
    new_status = forms.ChoiceField(
        label="Then set the status to",
        choices=STATUS_CHOICES,
        required=False,
        help_text="Internal notes leave the status as it is unless you choose one.",
    )
    send_email = forms.BooleanField(
        label="Email this reply to the client",
        required=False,
        initial=True,
        help_text="Staff replies only; never when the ticket says not to email.",
    )


class TicketStatusForm(ReasonFormMixin, forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ticket.STATUS_TRANSITIONS[ticket.status]
        self.fields["status"].choices = [c for c in Ticket.Status.choices if c[0] in allowed]
        if ticket.is_closed:
            self.fields["audit_reason"].required = True


class TicketUpdateForm(ReasonFormMixin, forms.Form):
    version = VersionField()
    subject = forms.CharField(max_length=200)
    department: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None)
    priority = forms.ChoiceField(choices=Ticket.Priority.choices)
    assignee = StaffChoiceField(queryset=None, required=False, empty_label="Unassigned")
    cc = forms.CharField(label="CC", max_length=1000, required=False)
    service: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, label="Related service"
    )
    domain: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, label="Related domain"
    )
    suppress_email = forms.BooleanField(label="Do not email the client", required=False)

    def __init__(self, *args: Any, ticket: Ticket, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.visible_to(user)
        self.fields["assignee"].queryset = staff_users()
        client = ticket.client
        for name, manager in (("service", "services"), ("domain", "domains")):
            if client is None:
                del self.fields[name]
                continue
            queryset = getattr(client, manager).order_by("-id")
            ids = list(queryset.values_list("pk", flat=True)[:CLIENT_RECORDS])
            self.fields[name].queryset = queryset.filter(pk__in=ids)

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("audit_reason", "version")}


class TicketFilter(StyledFilterSetMixin, django_filters.FilterSet):
    VIEW_CHOICES = [
        ("awaiting", "Awaiting action (not closed)"),
        ("all", "All tickets"),
    ]
    number = inputs.SearchFilter(label="Ticket number", method="filter_number")
    view = django_filters.ChoiceFilter(
        label="Show", choices=VIEW_CHOICES, empty_label=None, method="filter_view"
    )
    status = django_filters.ChoiceFilter(choices=Ticket.Status.choices, empty_label="Any status")
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.all(), empty_label="Any department"
    )
    priority = django_filters.ChoiceFilter(
        choices=Ticket.Priority.choices, empty_label="Any priority"
    )
    assignee = django_filters.ChoiceFilter(
        label="Assigned to", method="filter_assignee", empty_label="Anyone"
    )
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.all(), widget=ClientPickerWidget()
    )

    class Meta:
        model = Ticket
        fields = ["number", "view", "status", "department", "priority", "assignee", "client"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.filters["department"].queryset = Department.objects.visible_to(user)
        staff = [("me", "Me"), ("none", "Nobody (unassigned)")] + [
            (str(u.pk), u.get_full_name() or u.get_username()) for u in staff_users()
        ]
        self.filters["assignee"].extra["choices"] = staff

    def filter_number(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(number=value.strip().lstrip("#").upper())

    def filter_view(self, queryset: Any, name: str, value: str) -> Any:
        if value == "all" or self.data.get("status"):  # type: ignore[union-attr]  # bound: filtering
            return queryset  # a chosen status says it all (Closed included)
        return queryset.awaiting()

    def filter_assignee(self, queryset: Any, name: str, value: str) -> Any:
        if value == "me":
            return queryset.filter(assignee=self.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        pk = inputs.record_id(value)
        return queryset.filter(assignee_id=pk) if pk is not None else queryset.none()


class CommunicationForm(ReasonFormMixin, forms.ModelForm):
    version = VersionField()

    class Meta:
        model = Communication
        fields = [
            "channel",
            "direction",
            "contact",
            "occurred_at",
            "duration_minutes",
            "summary",
            "outcome",
            "follow_up_on",
            "follow_up_owner",
            "service",
            "domain",
            "invoice",
            "ticket",
        ]
        widgets = {
            "occurred_at": DATETIME_INPUT,
            "follow_up_on": DATE_INPUT,
            "summary": forms.Textarea(attrs={"rows": 4}),
            "direction": forms.RadioSelect,
        }
        field_classes = {"follow_up_owner": StaffChoiceField}

    def __init__(self, *args: Any, client: Client, user: Any, **kwargs: Any) -> None:
        if kwargs.get("instance") is None:
            kwargs.setdefault("initial", {}).setdefault(
                "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
            )
        super().__init__(*args, **kwargs)
        self.client = client
        self.fields["contact"].queryset = client.contacts.all()
        self.fields["contact"].empty_label = "The account holder"
        self.fields["follow_up_owner"].queryset = staff_users()
        self.fields["direction"].choices = Communication.Direction.choices
        related = {
            "service": client.services.order_by("-id"),
            "domain": client.domains.order_by("-id"),
            "invoice": client.invoices.order_by("-id"),
            "ticket": Ticket.objects.visible_to(user).filter(client=client).order_by("-id"),
        }
        for name, queryset in related.items():
            ids = list(queryset.values_list("pk", flat=True)[:CLIENT_RECORDS])
            self.fields[name].queryset = queryset.filter(pk__in=ids)
        ticket_id = self.instance.ticket_id
        if ticket_id and not related["ticket"].filter(pk=ticket_id).exists():
            # Linked to a ticket of a department the user does not see: neither shown nor
            # changed (the service keeps fields that are not sent).
            del self.fields["ticket"]
        if self.instance.pk is None:
            del self.fields["audit_reason"]
        else:
            self.fields["audit_reason"].required = True

    def _post_clean(self) -> None:
        # The service validates (and saves) the row; the form only shapes the input.
        pass

    def data_for_service(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("audit_reason", "version")}


class FollowUpDoneForm(forms.Form):
    result = forms.CharField(
        label="What came of it",
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. called back, payment promised"}),
    )


class FollowUpFilter(forms.Form):
    WHEN = [
        ("due", "Due today or overdue"),
        ("upcoming", "Upcoming"),
        ("all", "All open"),
    ]
    owner = StaffChoiceField(queryset=None, required=False, empty_label="Me")
    when = forms.ChoiceField(choices=WHEN, required=False, initial="due")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff_users()
        style_widgets(self)


class CommunicationFilter(StyledFilterSetMixin, django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(
        choices=Communication.Channel.choices, empty_label="Any channel"
    )
    direction = django_filters.ChoiceFilter(
        choices=Communication.Direction.choices, empty_label="Either direction"
    )
    outcome = django_filters.ChoiceFilter(
        choices=Communication.Outcome.choices, empty_label="Any outcome"
    )
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.all(), widget=ClientPickerWidget()
    )
    since = inputs.DateFilter(
        field_name="occurred_at", lookup_expr="date__gte", label="From", widget=DATE_INPUT
    )
    until = inputs.DateFilter(
        field_name="occurred_at", lookup_expr="date__lte", label="Until", widget=DATE_INPUT
    )

    class Meta:
        model = Communication
        fields = ["channel", "direction", "outcome", "client"]
