from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import formats
from django.views.generic import DetailView

from approvals import thresholds
from audit.views import RecordHistoryMixin
from billing.pdf import PdfUnavailable
from clients.models import Client
from core import inputs
from core.rights import has_right, refuse_without
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, FilteredListView, WriteView
from hosting.models import Service
from hosting.services import catalog_amounts
from orders import services
from orders.forms import (
    AcceptOrderForm,
    CancellationForm,
    ChooseClientForm,
    OrderFilter,
    OrderForm,
    OrderLines,
    OrderStatusForm,
    ServiceChangeForm,
    WithdrawForm,
)
from orders.models import Order, ServiceChange

OVERRIDE = "You do not have the right to use a price other than the catalog's."

# Orders list and detail ------------------------------------------------------------------------


OVERRIDE_PRICE = "hosting.override_price"
ORDER_WAITS = (
    "Place the line at the catalog price, then change the hosting account's price from its "
    "page: the change goes for approval there."
)
CHANGE_WAITS = (
    "Request the change at the catalog price, then change the hosting account's price from "
    "its edit page: the change goes for approval there."
)


class OrderListView(FilteredListView):
    permission_required = "orders.view_order"
    template_name = "orders/order_list.html"
    filterset_class = OrderFilter

    def get_base_queryset(self) -> Any:
        return Order.objects.select_related("client", "invoice", "placed_by")


class OrderDetailView(StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView):
    permission_required = "orders.view_order"
    template_name = "orders/order_detail.html"
    context_object_name = "order"

    def get_crumbs(self) -> list[tuple[str, str]]:
        client = self.object.client
        return [
            ("Orders", reverse("orders:order-list")),
            (client.full_name, client.get_absolute_url() + "?tab=orders"),
        ]

    def get_queryset(self) -> Any:
        return Order.objects.select_related(
            "client", "invoice", "promotion", "placed_by", "accepted_by"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        order = self.object
        context["lines"] = list(
            order.lines.select_related(
                "product",
                "server",
                "addon_definition",
                "target_service",
                "service",
                "domain",
                "addon",
                "parent",
            ).order_by("position")
        )
        context["transitions"] = sorted(
            s for s in Order.STATUS_TRANSITIONS[order.status] if s != Order.Status.ACTIVE
        )
        return context


# Placing an order ----------------------------------------------------------------------------


class OrderCreateView(WriteView):
    """New order: choose the client, then lines and options; Preview shows what placing the
    order will create and send, Place order stores it (and accepts it if Active is chosen)."""

    permission_required = "orders.add_order"
    template_name = "orders/order_form.html"
    form_class = OrderForm
    expected_errors = (PdfUnavailable,)
    lines: Any = None

    def get_object(self) -> Client | None:
        request = self.request
        pk = inputs.record_id(request.POST.get("client") or request.GET.get("client"))
        return Client.objects.filter(pk=pk).first() if pk else None

    def get_initial(self) -> dict[str, Any]:
        return {"payment_method": self.object.default_payment_method}

    def get_title(self) -> str:
        return "New order"

    def get_crumbs(self) -> list[tuple[str, str]]:
        crumbs = [("Orders", reverse("orders:order-list"))]
        if self.object is not None:
            crumbs.append((self.object.full_name, self.object.get_absolute_url() + "?tab=orders"))
        return crumbs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(customer=self.object, lines=self.lines, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        if self.object is None:
            form = ChooseClientForm(request.GET or None)
            context = self.get_context_data(form=form)
            return render(request, "orders/choose_client.html", context)
        self.lines = OrderLines(
            self.object, rows={"products": [{"quantity": 1, "billing_cycle": "monthly"}]}
        )
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        if self.object is None:
            raise Http404("Choose the client first.")
        self.action = request.POST.get("action", "preview")
        if not self.action.startswith("add_"):
            self.lines = OrderLines(self.object, data=request.POST)
            return super().post(request, *args, **kwargs)
        added = {"add_product": "products", "add_domain": "domains", "add_addon": "addons"}
        self.lines = OrderLines.redrawn(self.object, request.POST, added.get(self.action))
        # What was typed, unticked boxes included (absent from the POST, not "default").
        initial = {
            name: bool(request.POST.get(name))
            if isinstance(field, forms.BooleanField)
            else request.POST.get(name)
            for name, field in OrderForm.base_fields.items()
        }
        return self.render_form(OrderForm(initial=initial))

    def is_valid(self, form: Any) -> bool:
        valid = form.is_valid() & self.lines.is_valid()
        return valid and not self._override_refused(form) and not self._four_eyes_refused(form)

    def _four_eyes_refused(self, form: Any) -> bool:
        """A product line priced below the four-eyes share of the catalog cannot be placed
        here (an order is not sent for approval): the account's own page sends it."""
        client = self.object or form.cleaned_data.get("client")
        if client is None:
            return False
        for line in self.lines.inputs()["products"]:
            if line.price is None:
                continue
            catalog = catalog_amounts(
                product=line.product, currency=client.currency, cycle=line.billing_cycle
            )
            if not catalog or not catalog[1]:
                continue
            needed = thresholds.check(
                OVERRIDE_PRICE,
                label="Prices",
                amount=line.price,
                currency=client.currency,
                ratio=line.price / catalog[1],
            )
            if needed is not None:
                form.add_error(
                    None, ValidationError(f"{needed.why} {ORDER_WAITS}", code="needs_approval")
                )
                return True
        return False

    def _override_refused(self, form: Any) -> bool:
        """A price other than the catalog's needs ``hosting.override_price``."""
        if has_right(self.request.user, "hosting.override_price"):
            return False
        try:
            plan = services.plan_order(client=self.object, **self.options(form))
        except ValidationError:
            return False  # the same refusal comes back from the service, on its field
        if not plan.needs_reason:
            return False
        return refuse_without(form, None, self.request.user, "hosting.override_price", OVERRIDE)

    def options(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            **self.lines.inputs(),
            "promotion_code": data["promotion_code"],
            "accept": data["order_status"] == "active",
            "item_status": data["item_status"],
            "generate_invoice": data["generate_invoice"],
            "send_invoice_email": data["send_invoice_email"],
            "send_confirmation": data["send_confirmation"],
        }

    def preview(self, form: Any) -> HttpResponse | None:
        if self.action == "place":
            return None
        try:
            plan = services.plan_order(client=self.object, **self.options(form))
        except ValidationError as exc:
            self.form_errors(form, exc)
            return self.render_form(form, status=400)
        return self.render_form(form, plan=plan)

    def act(self, form: Any) -> Order:
        data = form.cleaned_data
        return services.place_order(
            client=self.object,
            **self.options(form),
            payment_method=data["payment_method"],
            admin_notes=data["admin_notes"],
            actor=self.request.user,
            reason=data["audit_reason"],
        )

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        self.lines.add_errors(form, exc)

    def get_success_message(self, result: Order) -> str:
        if result.status == Order.Status.ACTIVE:
            return f"{result} placed and accepted."
        return f"{result} saved as pending: accept it to set it up."


# Order actions -------------------------------------------------------------------------------


class _OrderActionView(WriteView):
    permission_required = "orders.change_order"
    expected_errors = (PdfUnavailable,)

    def get_object(self) -> Order:
        return get_object_or_404(
            Order.objects.select_related("client", "invoice"), pk=self.kwargs["pk"]
        )

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Orders", reverse("orders:order-list")),
            (str(self.object), self.object.get_absolute_url()),
        ]

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class OrderAcceptView(_OrderActionView):
    form_class = AcceptOrderForm
    submit = "Accept order"
    intro = (
        "Accepting creates the order's hosting accounts, domains and add-ons and, if "
        "asked, one invoice for all of it. If anything is refused, nothing is created."
    )

    def get_title(self) -> str:
        return f"Accept {self.object}"

    def get_initial(self) -> dict[str, Any]:
        order = self.object
        return {
            "item_status": order.item_status,
            "generate_invoice": order.generate_invoice,
            "send_invoice_email": order.send_invoice_email,
        }

    def act(self, form: Any) -> Any:
        data = form.cleaned_data
        return services.accept_order(
            order=self.object,
            actor=self.request.user,
            reason=data["audit_reason"],
            item_status=data["item_status"],
            generate_invoice=data["generate_invoice"],
            send_invoice_email=data["send_invoice_email"],
        )

    def get_success_message(self, result: Any) -> str:
        return f"{self.object} accepted."


class OrderStatusView(_OrderActionView):
    form_class = OrderStatusForm
    danger = True
    LABELS = {Order.Status.CANCELLED: "Cancel", Order.Status.FRAUD: "Mark as fraud"}

    def get_object(self) -> Order:
        if self.kwargs["status"] not in self.LABELS:
            raise Http404("Unknown status.")
        return super().get_object()

    @property
    def submit(self) -> str:
        return self.LABELS[self.kwargs["status"]]

    def get_title(self) -> str:
        return f"{self.submit}: {self.object}"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"accepted": self.object.is_accepted, "status": self.kwargs["status"]}

    def act(self, form: Any) -> Any:
        data = form.cleaned_data
        return services.change_order_status(
            order=self.object,
            status=self.kwargs["status"],
            actor=self.request.user,
            reason=data["reason"],
            cancel_records=data.get("cancel_records", False),
            cancel_invoice=data.get("cancel_invoice", False),
        )

    def get_success_message(self, result: Any) -> str:
        label = Order.Status(self.kwargs["status"]).label.lower()
        return f"{self.object} is now {label}."


# Upgrades, downgrades and cancellations --------------------------------------------------------


class _ServiceChangeBase(WriteView):
    """A request about one hosting account, from its "Upgrades & cancellation" tab."""

    permission_required = "orders.add_servicechange"
    expected_errors = (PdfUnavailable,)

    def get_object(self) -> Any:
        return get_object_or_404(
            Service.objects.select_related("client", "product"), pk=self.kwargs["pk"]
        )

    @property
    def service(self) -> Service:
        return self.object

    def get_crumbs(self) -> list[tuple[str, str]]:
        service = self.service
        return [
            (service.client.full_name, service.client.get_absolute_url() + "?tab=services"),
            (str(service), service.get_absolute_url()),
        ]

    def get_back_url(self) -> str:
        return self.service.get_absolute_url() + "?tab=changes"

    def get_success_url(self, result: Any) -> str:
        return self.get_back_url()


class ServiceChangeView(_ServiceChangeBase):
    """Upgrade or downgrade: Preview shows the proration, Confirm invoices or credits it."""

    template_name = "orders/service_change.html"
    form_class = ServiceChangeForm
    title = "Upgrade / downgrade"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"service": self.object}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(service=self.object, **kwargs)

    def choice(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            "product": data["product"],
            "billing_cycle": data["billing_cycle"],
            "recurring_amount": data["recurring_amount"],
        }

    def is_valid(self, form: Any) -> bool:
        if not form.is_valid():
            return False
        amount = form.cleaned_data["recurring_amount"]
        if amount is None:
            return True
        catalog = catalog_amounts(
            product=form.cleaned_data["product"],
            currency=self.object.currency,
            cycle=form.cleaned_data["billing_cycle"],
            quantity=self.object.quantity,
        )
        if catalog is not None and catalog[1]:
            # Four eyes: a change is not sent for approval; the account's edit page is.
            needed = thresholds.check(
                OVERRIDE_PRICE,
                label="Prices",
                amount=amount,
                currency=self.object.currency,
                ratio=amount / catalog[1],
            )
            if needed is not None:
                form.add_error(
                    "recurring_amount",
                    ValidationError(f"{needed.why} {CHANGE_WAITS}", code="needs_approval"),
                )
                return False
        if has_right(self.request.user, "hosting.override_price"):
            return True
        if catalog is not None and catalog[1] == amount:
            return True
        return not refuse_without(
            form, "recurring_amount", self.request.user, "hosting.override_price", OVERRIDE
        )

    def preview(self, form: Any) -> HttpResponse | None:
        if self.request.POST.get("action") == "confirm":
            return None
        try:
            plan = services.plan_change(service=self.object, **self.choice(form))
        except ValidationError as exc:
            self.form_errors(form, exc)
            return self.render_form(form, status=400)
        return self.render_form(form, plan=plan)

    def act(self, form: Any) -> ServiceChange:
        data = form.cleaned_data
        return services.change_service_product(
            service=self.object,
            **self.choice(form),
            apply_now=data["apply_now"],
            send_invoice_email=data["send_invoice_email"],
            actor=self.request.user,
            reason=data["audit_reason"],
        )

    def get_success_message(self, result: ServiceChange) -> str:
        if result.status == ServiceChange.Status.APPLIED:
            return f"{result.get_kind_display()} done."
        return (
            f"{result.get_kind_display()} requested: it happens when invoice "
            f"{result.invoice} is paid."
        )


class CancellationRequestView(_ServiceChangeBase):
    form_class = CancellationForm
    submit = "Request cancellation"
    danger = True

    def get_title(self) -> str:
        return f"Cancel {self.object}"

    def get_intro(self) -> str:
        due = self.object.next_due_date
        if not due:
            return "The account has no next due date: it is cancelled now either way."
        return (
            "At the end of the period, the account is cancelled on "
            f"{formats.date_format(due, 'SHORT_DATE_FORMAT')} by the "
            "daily job; immediately, it and its add-ons are cancelled now."
        )

    def act(self, form: Any) -> ServiceChange:
        return services.request_cancellation(
            service=self.object,
            when=form.cleaned_data["when"],
            actor=self.request.user,
            reason=form.cleaned_data["reason"],
        )

    def get_success_message(self, result: ServiceChange) -> str:
        if result.status == ServiceChange.Status.APPLIED:
            return "The account is cancelled."
        due = formats.date_format(result.effective_date, "SHORT_DATE_FORMAT")
        return f"Cancellation due on {due}."


class WithdrawChangeView(_ServiceChangeBase):
    permission_required = "orders.change_servicechange"
    form_class = WithdrawForm
    submit = "Withdraw"
    success_message = "Request withdrawn."

    def get_object(self) -> ServiceChange:
        return get_object_or_404(
            ServiceChange.objects.select_related("service", "service__client", "invoice"),
            pk=self.kwargs["pk"],
        )

    @property
    def service(self) -> Service:
        return self.object.service

    def get_title(self) -> str:
        change = self.object
        return f"Withdraw {change.get_kind_display().lower()} of {change.service}"

    def get_intro(self) -> str:
        intro = "The request will not be carried out."
        if self.object.invoice_id:
            intro += f" Its invoice {self.object.invoice} is cancelled if it is still unpaid."
        return intro

    def act(self, form: Any) -> Any:
        return services.withdraw_change(
            change=self.object, actor=self.request.user, reason=form.cleaned_data["reason"]
        )
