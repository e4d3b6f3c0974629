from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from billing.forms import start_of_day
from billing.services import gateway_choices
from clients.models import Client
from clients.widgets import ClientPickerWidget
from core import inputs
from core.forms import DATE_INPUT, MoneyField, ReasonFormMixin, StyledFilterSetMixin, errors_to_form
from hosting.forms import secret_field
from hosting.models import AddonDefinition, BillingCycle, Domain, Product, Server, Service
from orders import services
from orders.models import Order, ServiceChange
from orders.services import MAX_ORDER_LINES

RECURRING_CYCLES = [c for c in BillingCycle.choices if c[0] != BillingCycle.ONE_TIME]


def _price(label: str, help_text: str = "") -> forms.DecimalField:
    return MoneyField(label=label, required=False, min_value=Decimal(0), help_text=help_text)


class ChooseClientForm(forms.Form):
    client = forms.ModelChoiceField(queryset=Client.objects.all(), widget=ClientPickerWidget())


class OrderForm(ReasonFormMixin, forms.Form):
    ACCEPT_CHOICES = [
        ("pending", "Pending: save the order, accept it later"),
        ("active", "Active: accept now (create everything)"),
    ]
    order_status = forms.ChoiceField(
        label="Order status", choices=ACCEPT_CHOICES, initial="pending", widget=forms.RadioSelect
    )
    item_status = forms.ChoiceField(
        label="Accounts, domains and add-ons start as",
        choices=[("pending", "Pending"), ("active", "Active")],
        initial="pending",
    )
    payment_method = forms.ChoiceField(required=False)
    promotion_code = forms.CharField(max_length=40, required=False)
    send_confirmation = forms.BooleanField(
        label="Send the order confirmation email", required=False, initial=True
    )
    generate_invoice = forms.BooleanField(
        label="Generate an invoice on acceptance", required=False, initial=True
    )
    send_invoice_email = forms.BooleanField(label="Email the invoice", required=False, initial=True)
    admin_notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="Staff only."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = [("", "—"), *gateway_choices()]
        self.fields[
            "audit_reason"
        ].help_text = "Recorded in the audit trail. Required when a price differs from the catalog."


class _LineForm(forms.Form):
    # Bootstrap column width of each field in the row.
    widths: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.col = self.widths.get(name, "col-md-3")


class ProductLineForm(_LineForm):
    widths = {"product": "col-md-4", "quantity": "col-md-2", "hostname": "col-md-3"}

    product = forms.ModelChoiceField(
        queryset=Product.objects.filter(retired=False).select_related("group")
    )
    billing_cycle = forms.ChoiceField(choices=BillingCycle.choices, initial="monthly")
    quantity = forms.IntegerField(min_value=1, max_value=1000, initial=1)
    hostname = forms.CharField(label="Domain / host name", max_length=253, required=False)
    server = forms.ModelChoiceField(queryset=Server.objects.filter(active=True), required=False)
    price = _price("Price override", "Per unit and period. Blank: catalog.")


class DomainLineForm(_LineForm):
    widths = {
        "name": "col-md-4",
        "period_years": "col-md-2",
        "nameservers": "col-md-4",
        "id_protection": "col-md-2",
        "dns_management": "col-md-2",
        "price": "col-md-2",
    }
    name = forms.CharField(label="Domain", max_length=253)
    order_type = forms.ChoiceField(
        choices=[
            (Domain.OrderType.REGISTER, "Register"),
            (Domain.OrderType.TRANSFER, "Transfer"),
        ],
        initial=Domain.OrderType.REGISTER,
    )
    period_years = forms.TypedChoiceField(
        label="Period",
        coerce=int,
        choices=[(n, f"{n} year{'s' * (n > 1)}") for n in range(1, 11)],
        initial=1,
    )
    epp_code = secret_field("EPP code", required=False, widget=forms.TextInput)
    nameservers = forms.CharField(
        label="Name servers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, 2 to 5; blank: our defaults.",
    )
    id_protection = forms.BooleanField(label="ID protection", required=False)
    dns_management = forms.BooleanField(label="DNS management", required=False)
    price = _price("Price override", "Blank: catalog.")


class AddonLineForm(_LineForm):
    widths = {"definition": "col-md-4", "name": "col-md-4", "target": "col-md-6"}

    definition = forms.ModelChoiceField(
        label="Add-on", queryset=AddonDefinition.objects.filter(active=True), required=False
    )
    name = forms.CharField(label="or custom name", max_length=150, required=False)
    billing_cycle = forms.ChoiceField(choices=BillingCycle.choices, initial="monthly")
    target = forms.ChoiceField(label="For")
    price = _price("Price override", "Recurring. Blank: catalog.")
    setup_fee = _price("Setup fee override")

    def __init__(self, *args: Any, targets: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—"), *targets]


class LineFormSet(forms.BaseFormSet):
    """Every row is an "extra" row, so a row left blank is skipped rather than refused; the
    view redraws the rows typed so far as initial data (see ``orders.views._unbound``)."""

    def initial_form_count(self) -> int:
        return super().initial_form_count() if self.is_bound else 0


def _formset(form: type[forms.Form]) -> Any:
    return forms.formset_factory(
        form,
        formset=LineFormSet,
        extra=0,
        can_delete=True,
        max_num=MAX_ORDER_LINES,
        validate_max=True,
    )


ProductLineFormSet = _formset(ProductLineForm)
DomainLineFormSet = _formset(DomainLineForm)
AddonLineFormSet = _formset(AddonLineForm)


TARGET_SERVICES = 100  # existing accounts offered as an add-on's target


def _rows(post: Any, formset: Any) -> list[dict[str, Any]]:
    """The rows typed so far (minus those ticked for removal), to redraw them plus a new one."""
    prefix = formset.prefix
    try:
        total = min(int(post.get(f"{prefix}-TOTAL_FORMS", 0)), MAX_ORDER_LINES)
    except ValueError:
        total = 0
    names = list(formset.form.base_fields)
    rows = []
    for i in range(total):
        if post.get(f"{prefix}-{i}-DELETE"):
            continue
        rows.append({name: post.get(f"{prefix}-{i}-{name}") for name in names})
    return rows


def _unbound(formset_class: Any, rows: list[dict[str, Any]], **kwargs: Any) -> Any:
    formset = formset_class(initial=rows, **kwargs)
    formset.extra = len(rows)  # every row is an "extra" one: a blank row is simply skipped
    return formset


class OrderLines:
    """The three line formsets of the order form, and their rows as service inputs
    (``inputs()``); a service error on a row goes back onto that row (``add_errors``)."""

    prefixes = ("products", "domains", "addons")

    def __init__(self, client: Client, data: Any = None, rows: dict | None = None) -> None:
        self.client = client
        product_rows = (rows or {}).get("products", [])
        if data is not None:
            count = data.get("products-TOTAL_FORMS", "0")
            count = int(count) if str(count).isdigit() else 0
            product_indexes = range(min(count, MAX_ORDER_LINES))
        else:
            product_indexes = range(len(product_rows))
        targets = [(f"line:{i}", f"Product line {i + 1} of this order") for i in product_indexes]
        accounts = (
            Service.objects.filter(client=client, status__in=["pending", "active"])
            .select_related("product")
            .order_by("-id")[:TARGET_SERVICES]
        )
        targets += [(f"service:{s.pk}", f"{s.product.name} - {s} (existing)") for s in accounts]
        self._accounts = {s.pk: s for s in accounts}
        kwargs = {"addons": {"form_kwargs": {"targets": targets}}}
        classes = {
            "products": ProductLineFormSet,
            "domains": DomainLineFormSet,
            "addons": AddonLineFormSet,
        }
        self.sets = {}
        for prefix, cls in classes.items():
            extra = kwargs.get(prefix, {})
            if data is not None:
                self.sets[prefix] = cls(data, prefix=prefix, **extra)
            else:
                self.sets[prefix] = _unbound(
                    cls, (rows or {}).get(prefix, []), prefix=prefix, **extra
                )

    def is_valid(self) -> bool:
        results = [fs.is_valid() for fs in self.sets.values()]  # every row gets its errors
        return all(results)

    def _kept(self, prefix: str) -> list[tuple[int, dict[str, Any]]]:
        fs = self.sets[prefix]
        return [
            (i, f.cleaned_data)
            for i, f in enumerate(fs.forms)
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]

    def inputs(self) -> dict[str, list]:
        products = self._kept("products")
        self.index = {"products": [i for i, _ in products]}
        position = {form_index: n for n, (form_index, _) in enumerate(products)}
        out: dict[str, list] = {"products": [], "domains": [], "addons": []}
        for _i, row in products:
            out["products"].append(
                services.ProductLineData(
                    product=row["product"],
                    billing_cycle=row["billing_cycle"],
                    quantity=row["quantity"],
                    hostname=row["hostname"],
                    server=row["server"],
                    price=row["price"],
                )
            )
        domains = self._kept("domains")
        self.index["domains"] = [i for i, _ in domains]
        for _i, row in domains:
            out["domains"].append(
                services.DomainLineData(
                    name=row["name"],
                    order_type=row["order_type"],
                    period_years=row["period_years"],
                    epp_code=row["epp_code"],
                    nameservers=[n for n in row["nameservers"].split() if n],
                    id_protection=row["id_protection"],
                    dns_management=row["dns_management"],
                    price=row["price"],
                )
            )
        addons = self._kept("addons")
        self.index["addons"] = [i for i, _ in addons]
        for _i, row in addons:
            kind, _, raw = (row.get("target") or "").partition(":")
            for_line = position.get(int(raw)) if kind == "line" and raw.isdigit() else None
            service = self._accounts.get(int(raw)) if kind == "service" and raw.isdigit() else None
            out["addons"].append(
                services.AddonLineData(
                    definition=row["definition"],
                    name=row["name"],
                    billing_cycle=row["billing_cycle"],
                    for_line=for_line if kind == "line" else None,
                    service=service,
                    price=row["price"],
                    setup_fee=row["setup_fee"],
                )
            )
            if kind == "line" and for_line is None:
                # The product line it pointed at was removed: say so on the row.
                out["addons"][-1].for_line = 10_000
        return out

    def add_errors(self, form: Any, exc: ValidationError) -> None:
        """A service error keyed ``products.0.price`` lands on that row's field."""
        if not hasattr(exc, "error_dict"):
            errors_to_form(form, exc)
            return
        for key, errors in exc.error_dict.items():
            prefix, _, rest = key.partition(".")
            number, _, name = rest.partition(".")
            if prefix in self.sets and number.isdigit():
                fs = self.sets[prefix]
                form_index = self.index[prefix][int(number)]
                row = fs.forms[form_index]
                row.add_error(name if name in row.fields else None, errors)
            else:
                errors_to_form(form, ValidationError({key: errors}))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sets.values())

    @classmethod
    def redrawn(cls, client: Client, post: Any, add: str | None) -> OrderLines:
        """The rows as typed, plus a blank one in ``add`` ("products"...): nothing is saved."""
        rows = {p: _rows(post, fs) for p, fs in cls(client).sets.items()}
        if add in rows:
            rows[add].append({"quantity": 1, "billing_cycle": "monthly", "period_years": 1})
        return cls(client, rows=rows)


class AcceptOrderForm(ReasonFormMixin, forms.Form):
    item_status = forms.ChoiceField(
        label="Accounts, domains and add-ons start as",
        choices=[("pending", "Pending"), ("active", "Active")],
    )
    generate_invoice = forms.BooleanField(label="Generate one invoice", required=False)
    send_invoice_email = forms.BooleanField(label="Email the invoice", required=False)


class OrderStatusForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Recorded in the audit trail.")
    cancel_records = forms.BooleanField(
        label="Also cancel what it created (accounts, domains, add-ons)", required=False
    )
    cancel_invoice = forms.BooleanField(
        label="Also cancel its invoice (money already paid on it goes to the client's credit)",
        required=False,
    )

    def __init__(self, *args: Any, accepted: bool = True, status: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not accepted:
            del self.fields["cancel_records"], self.fields["cancel_invoice"]
        elif status == Order.Status.FRAUD:
            self.fields[
                "cancel_records"
            ].label = "Also flag what it created as fraud (add-ons are cancelled)"


class OrderFilter(StyledFilterSetMixin, django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, empty_label="Any status")
    client = django_filters.ModelChoiceFilter(
        queryset=Client.objects.all(), widget=ClientPickerWidget()
    )
    placed_from = inputs.DateFilter(method="filter_from", label="Placed from", widget=DATE_INPUT)
    placed_to = inputs.DateFilter(method="filter_to", label="Placed until", widget=DATE_INPUT)

    class Meta:
        model = Order
        fields = ["status", "client"]

    # Whole local days as a datetime range, so the (status, created_at, id) index answers it.
    def filter_from(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(created_at__gte=start_of_day(value))

    def filter_to(self, queryset: Any, name: str, value: dt.date) -> Any:
        return queryset.filter(created_at__lt=start_of_day(value + dt.timedelta(days=1)))


class ServiceChangeForm(ReasonFormMixin, forms.Form):
    product = forms.ModelChoiceField(
        label="New product", queryset=Product.objects.filter(retired=False)
    )
    billing_cycle = forms.ChoiceField(label="New billing cycle", choices=RECURRING_CYCLES)
    recurring_amount = _price(
        "New recurring price", "Blank: the catalog price (times the account's quantity)."
    )
    apply_now = forms.BooleanField(
        label="Change now, before the invoice is paid",
        required=False,
        help_text="Needs a reason. Downgrades always change now.",
    )
    send_invoice_email = forms.BooleanField(
        label="Email the proration invoice", required=False, initial=True
    )

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"product": service.product_id, "billing_cycle": service.billing_cycle}
        )
        super().__init__(*args, **kwargs)
        self.fields["audit_reason"].help_text = (
            "Recorded in the audit trail and on the change. Required to change now or at a "
            "price other than the catalog's."
        )


class CancellationForm(forms.Form):
    when = forms.ChoiceField(
        label="Cancel",
        choices=[
            (ServiceChange.When.END_OF_PERIOD, "At the end of the billing period"),
            (ServiceChange.When.IMMEDIATE, "Immediately"),
        ],
        widget=forms.RadioSelect,
        initial=ServiceChange.When.END_OF_PERIOD,
    )
    reason = forms.CharField(max_length=500, help_text="Kept on the request and in the audit.")


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Recorded in the audit trail.")
