from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.utils import formats, timezone

from billing import services
from billing.models import BillableItem, Invoice, InvoiceItem, Transaction
from billing.services import MAX_LINES, gateway_choices
from clients.models import Client
from clients.widgets import ClientPickerWidget
from core import inputs
from core.forms import (
    DATE_INPUT,
    DATETIME_INPUT,
    MONEY,
    MoneyField,
    ReasonFormMixin,
    StyledFilterSetMixin,
)


def _money(
    label: str, *, required: bool = True, min_value: str | None = "0.01", **kw: Any
) -> MoneyField:
    return MoneyField(
        label=label,
        required=required,
        min_value=Decimal(min_value) if min_value is not None else None,
        **kw,
    )


def _reason_field(
    label: str = "Reason", *, required: bool = True, help_text: str = ""
) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=500,
        required=required,
        help_text=help_text or "Recorded in the audit trail.",
    )


# Invoices ------------------------------------------------------------------------------------


class InvoiceForm(ReasonFormMixin, forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(),
        widget=ClientPickerWidget(),
        help_text="The invoice is in the client's currency and taxed by its country's rules.",
    )
    issue_date = forms.DateField(widget=DATE_INPUT)
    due_date = forms.DateField(widget=DATE_INPUT)
    public_notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="Printed."
    )
    private_notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="Staff only."
    )

    def __init__(self, *args: Any, client: Client | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if client is not None:
            # Chosen already (from the client's profile, or an existing draft).
            del self.fields["client"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        issued, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issued and due and due < issued:
            self.add_error("due_date", "The due date cannot be before the issue date.")
        return cleaned


class InvoiceLineForm(forms.Form):
    description = forms.CharField(max_length=500)
    quantity = forms.DecimalField(
        max_digits=12,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        initial=Decimal(1),
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    unit_price = MoneyField()
    taxed = forms.BooleanField(required=False, initial=True)
    # Where the line came from; the view checks each belongs to the invoice's client.
    kind = forms.CharField(required=False, widget=forms.HiddenInput)
    service = forms.IntegerField(required=False, widget=forms.HiddenInput)
    domain = forms.IntegerField(required=False, widget=forms.HiddenInput)
    addon = forms.IntegerField(required=False, widget=forms.HiddenInput)
    billable_item = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The record's period a pulled line bills (paid, it moves the record on).
    period_start = forms.DateField(required=False, widget=forms.HiddenInput)
    period_end = forms.DateField(required=False, widget=forms.HiddenInput)


LINE_FIELDS = tuple(InvoiceLineForm.base_fields)


class _InvoiceLines(forms.BaseFormSet):
    """The editor's lines: read back as typed (to redraw them) or as service input."""

    @staticmethod
    def rows_from_post(data: Any, prefix: str = "form") -> list[dict[str, Any]]:
        """The lines as typed (raw strings), minus deleted ones: to re-show them unchanged."""
        try:
            total = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
        except ValueError:
            total = 0
        rows = []
        for i in range(min(total, MAX_LINES)):
            if data.get(f"{prefix}-{i}-DELETE"):
                continue
            row = {name: data.get(f"{prefix}-{i}-{name}", "") for name in LINE_FIELDS}
            row["taxed"] = bool(data.get(f"{prefix}-{i}-taxed"))
            if any(row[n] for n in ("description", "unit_price")) or row["kind"]:
                rows.append(row)
        return rows

    def lines(self, client: Client) -> list[services.LineData]:
        """LineData from the valid rows; a record id that is not the client's is dropped,
        not trusted."""
        from hosting.models import Addon, Domain, Service

        rows = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]

        def fetch(model: Any, key: str, **scope: Any) -> dict[int, Any]:
            ids = [r[key] for r in rows if r.get(key)]
            return {o.pk: o for o in model.objects.filter(pk__in=ids, **scope)} if ids else {}

        found = {
            "service": fetch(Service, "service", client=client),
            "domain": fetch(Domain, "domain", client=client),
            "addon": fetch(Addon, "addon", service__client=client),
            "billable_item": fetch(BillableItem, "billable_item", client=client),
        }
        lines = []
        for row in rows:
            links: dict[str, Any] = {key: found[key].get(row.get(key)) for key in found}
            kind = row.get("kind") or InvoiceItem.Kind.MANUAL
            if kind not in InvoiceItem.Kind.values:
                kind = InvoiceItem.Kind.MANUAL
            lines.append(
                services.LineData(
                    description=row["description"],
                    quantity=row["quantity"],
                    unit_price=row["unit_price"],
                    taxed=row["taxed"],
                    kind=kind,
                    period_start=row.get("period_start"),
                    period_end=row.get("period_end"),
                    **links,
                )
            )
        return lines


InvoiceLineFormSet = forms.formset_factory(
    InvoiceLineForm,
    formset=_InvoiceLines,
    extra=0,
    can_delete=True,
    min_num=1,
    validate_min=True,
    max_num=MAX_LINES,
    validate_max=True,
)


def row_from_line(line: services.LineData) -> dict[str, Any]:
    """A line as the editor's row (its initial values)."""
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "taxed": line.taxed,
        "kind": line.kind,
        "service": getattr(line.service, "pk", None),
        "domain": getattr(line.domain, "pk", None),
        "addon": getattr(line.addon, "pk", None),
        "billable_item": getattr(line.billable_item, "pk", None),
        "period_start": line.period_start,
        "period_end": line.period_end,
    }


def row_from_item(item: InvoiceItem) -> dict[str, Any]:
    """A draft's stored line as the editor's row."""
    return {
        "description": item.description,
        "quantity": item.quantity.normalize(),
        "unit_price": item.unit_price,
        "taxed": item.taxed,
        "kind": item.kind,
        "service": item.service_id,
        "domain": item.domain_id,
        "addon": item.addon_id,
        "billable_item": getattr(getattr(item, "billable_item", None), "pk", None),
        "period_start": item.period_start,
        "period_end": item.period_end,
    }


def pulled_lines(client: Client, picks: list[str]) -> list[services.LineData]:
    """The lines for the ticked "kind:id" picks, only from the client's unbilled records."""
    from hosting.models import Addon, Domain, Service

    wanted: dict[str, list[int]] = {"service": [], "domain": [], "addon": [], "billable": []}
    for pick in picks[:MAX_LINES]:
        kind, _, pk = pick.partition(":")
        if kind in wanted and pk.isdigit():
            wanted[kind].append(int(pk))
    lines: list[services.LineData] = []
    lines += [
        services.line_for_service(s)
        for s in services.unbilled(
            Service.objects.filter(client=client, pk__in=wanted["service"]), "service"
        ).select_related("product")
    ]
    lines += [
        services.line_for_domain(d)
        for d in services.unbilled(
            Domain.objects.filter(client=client, pk__in=wanted["domain"]), "domain"
        )
    ]
    lines += [
        services.line_for_addon(a)
        for a in services.unbilled(
            Addon.objects.filter(service__client=client, pk__in=wanted["addon"]), "addon"
        ).select_related("definition")
    ]
    lines += [
        services.line_for_billable(b)
        for b in BillableItem.objects.filter(
            client=client, pk__in=wanted["billable"], invoice_item__isnull=True
        )
    ]
    return lines


class InvoiceStatusForm(forms.Form):
    reason = _reason_field()
    paid_to_credit = forms.BooleanField(
        label="Return the amount already paid to the client's credit",
        required=False,
        help_text="Needed to cancel an invoice that has taken money. To give the money back "
        "to the payer instead, refund the payments first.",
    )

    def __init__(self, *args: Any, show_credit: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not show_credit:
            del self.fields["paid_to_credit"]


class ReasonForm(forms.Form):
    reason = _reason_field()


class OptionalReasonForm(forms.Form):
    reason = _reason_field("Reason for this change", required=False)


class PublishForm(forms.Form):
    send_email = forms.BooleanField(label="Email the invoice (PDF attached)", required=False)


# Money ---------------------------------------------------------------------------------------


class _MoneyMovementForm(ReasonFormMixin, forms.Form):
    gateway = forms.ChoiceField(choices=())
    transaction_id = forms.CharField(label="Transaction ID", max_length=100, required=False)
    date = forms.DateTimeField(
        widget=DATETIME_INPUT, help_text="When the money moved. A past date needs a reason."
    )
    fees = _money("Fees", min_value="0", initial=Decimal("0.00"))
    allow_duplicate_id = forms.BooleanField(
        label="This transaction ID is already recorded on purpose",
        required=False,
        help_text="Only when the gateway really reused the ID; needs a reason.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("date", timezone.localtime().replace(second=0, microsecond=0))
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = [("", "Choose a gateway"), *gateway_choices()]


class PaymentForm(_MoneyMovementForm):
    amount = _money(
        "Amount",
        required=False,
        help_text="Blank: the balance due. More than the balance goes to the client's credit.",
    )
    send_receipt = forms.BooleanField(label="Email a receipt", required=False)

    field_order = [
        "amount",
        "gateway",
        "transaction_id",
        "date",
        "fees",
        "send_receipt",
        "allow_duplicate_id",
        "audit_reason",
    ]


class SplitPaymentForm(_MoneyMovementForm):
    """One payment across several of the client's unpaid invoices."""

    amount = _money("Amount received")
    send_receipt = forms.BooleanField(label="Email a receipt", required=False)

    field_order = [
        "amount",
        "gateway",
        "transaction_id",
        "date",
        "fees",
        "send_receipt",
        "allow_duplicate_id",
        "audit_reason",
    ]

    def __init__(self, *args: Any, invoices: list[Invoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invoices = invoices
        for invoice in invoices:
            due = formats.date_format(invoice.due_date, "SHORT_DATE_FORMAT")
            self.fields[f"invoice_{invoice.pk}"] = _money(
                f"{invoice.number} (due {due}, {invoice.balance} {invoice.currency} left)",
                required=False,
            )

    def invoice_fields(self) -> list[Any]:
        return [self[f"invoice_{invoice.pk}"] for invoice in self.invoices]

    def allocations(self) -> list[tuple[Invoice, Decimal]]:
        return [
            (invoice, self.cleaned_data[f"invoice_{invoice.pk}"])
            for invoice in self.invoices
            if self.cleaned_data.get(f"invoice_{invoice.pk}")
        ]


class RefundForm(forms.Form):
    amount = _money("Amount to refund", required=False, help_text="Blank: all that is left.")
    transaction_id = forms.CharField(label="Refund transaction ID", max_length=100, required=False)
    reason = _reason_field()


class TransactionForm(_MoneyMovementForm):
    direction = forms.ChoiceField(
        choices=[("in", "Money in"), ("out", "Money out")], widget=forms.RadioSelect
    )
    amount = _money("Amount")
    description = forms.CharField(max_length=500)
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(),
        widget=ClientPickerWidget(),
        required=False,
        help_text="Optional. The transaction is in the client's currency.",
    )
    currency = forms.ChoiceField(
        choices=settings.CURRENCIES,
        initial=settings.DEFAULT_CURRENCY,
        help_text="Used when no client is chosen.",
    )

    field_order = [
        "direction",
        "amount",
        "description",
        "client",
        "currency",
        "gateway",
        "transaction_id",
        "date",
        "fees",
        "allow_duplicate_id",
        "audit_reason",
    ]

    def __init__(self, *args: Any, client: Client | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if client is not None:
            del self.fields["client"], self.fields["currency"]


class CreditForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("add", "Add credit"), ("remove", "Remove credit")], widget=forms.RadioSelect
    )
    amount = _money("Amount")
    reason = forms.CharField(max_length=500, help_text="Required: why the client's credit changes.")


class ApplyCreditForm(forms.Form):
    amount = _money("Amount", required=False, help_text="Blank: as much as the invoice needs.")


class BillableItemForm(ReasonFormMixin, forms.Form):
    description = forms.CharField(max_length=500)
    quantity = forms.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), initial=Decimal(1)
    )
    unit_price = MoneyField()
    taxed = forms.BooleanField(required=False, initial=True)
    service = forms.TypedChoiceField(
        label="Hosting account", required=False, coerce=int, empty_value=None
    )
    invoice_now = forms.BooleanField(
        label="Invoice it now", required=False, help_text="Otherwise it waits for the next invoice."
    )

    def __init__(self, *args: Any, services: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "None")] + [(s.pk, str(s)) for s in services]


# Lists ---------------------------------------------------------------------------------------


class InvoiceFilter(StyledFilterSetMixin, django_filters.FilterSet):
    number = inputs.SearchFilter(method="filter_number", label="Number")
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices, empty_label="Any status")
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.all(), widget=ClientPickerWidget()
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Overdue only", widget=forms.CheckboxInput
    )
    issued_from = inputs.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Issued from", widget=DATE_INPUT
    )
    issued_to = inputs.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Issued until", widget=DATE_INPUT
    )
    due_from = inputs.DateFilter(
        field_name="due_date", lookup_expr="gte", label="Due from", widget=DATE_INPUT
    )
    due_to = inputs.DateFilter(
        field_name="due_date", lookup_expr="lte", label="Due until", widget=DATE_INPUT
    )
    total_min = django_filters.NumberFilter(
        field_name="total", lookup_expr="gte", label="Total ≥", **MONEY
    )
    total_max = django_filters.NumberFilter(
        field_name="total", lookup_expr="lte", label="Total ≤", **MONEY
    )

    class Meta:
        model = Invoice
        fields = ["number", "status", "client"]

    def filter_number(self, queryset: Any, name: str, value: str) -> Any:
        value = value.strip().upper()
        return queryset.filter(number__startswith=value) if value else queryset

    def filter_overdue(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.overdue() if value else queryset


class TransactionFilter(StyledFilterSetMixin, django_filters.FilterSet):
    transaction_id = inputs.SearchFilter(label="Transaction ID", lookup_expr="exact")
    gateway = django_filters.ChoiceFilter(choices=(), empty_label="Any gateway")
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices, empty_label="Any kind")
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.all(), widget=ClientPickerWidget()
    )
    date_from = inputs.DateFilter(method="filter_from", label="From", widget=DATE_INPUT)
    date_to = inputs.DateFilter(method="filter_to", label="Until", widget=DATE_INPUT)

    class Meta:
        model = Transaction
        fields = ["transaction_id", "gateway", "kind", "client"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["gateway"].extra["choices"] = gateway_choices()
        self.form.fields["gateway"].choices = [("", "Any gateway"), *gateway_choices()]

    # Whole local days as a datetime range, so the (date, id) index answers it.
    def filter_from(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(date__gte=start_of_day(value))

    def filter_to(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(date__lt=start_of_day(value + dt.timedelta(days=1)))


def start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
