from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, ListView

from audit.views import RecordHistoryMixin
from billing.pdf import PdfUnavailable
from billing.views import action_page
from clients.models import Client
from core import inputs
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from hosting.models import Service
from orders import services
from orders.forms import (
    AcceptOrderForm,
    AddonLineFormSet,
    CancellationForm,
    ChooseClientForm,
    DomainLineFormSet,
    OrderFilter,
    OrderForm,
    OrderStatusForm,
    ProductLineFormSet,
    ServiceChangeForm,
    WithdrawForm,
)
from orders.models import Order, ServiceChange

TARGET_SERVICES = 100  # existing accounts offered as an add-on's target

# Orders list and detail ------------------------------------------------------------------------


class OrderListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "orders.view_order"
    template_name = "orders/order_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = OrderFilter(
            self.request.GET or None,
            queryset=Order.objects.select_related("client", "invoice", "placed_by"),
        )
        return self.filterset.qs.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, **kwargs)


class OrderDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "orders.view_order"
    template_name = "orders/order_detail.html"
    context_object_name = "order"

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


def _rows(post: Any, formset: Any) -> list[dict[str, Any]]:
    """The rows typed so far (minus those ticked for removal), to redraw them plus a new one."""
    prefix = formset.prefix
    try:
        total = min(int(post.get(f"{prefix}-TOTAL_FORMS", 0)), services.MAX_ORDER_LINES)
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


class _Formsets:
    """The three line formsets of the order form, and their rows as service inputs."""

    prefixes = ("products", "domains", "addons")

    def __init__(self, client: Client, data: Any = None, rows: dict | None = None) -> None:
        self.client = client
        product_rows = (rows or {}).get("products", [])
        if data is not None:
            count = data.get("products-TOTAL_FORMS", "0")
            count = int(count) if str(count).isdigit() else 0
            product_indexes = range(min(count, services.MAX_ORDER_LINES))
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

    def __iter__(self):
        return iter(self.sets.values())


class OrderCreateView(StaffPermissionRequiredMixin, View):
    """New order: choose the client, then lines and options; Preview shows what placing the
    order will create and send, Place order stores it (and accepts it if Active is chosen)."""

    permission_required = "orders.add_order"
    template = "orders/order_form.html"

    def _client(self, request: HttpRequest) -> Client | None:
        pk = inputs.record_id(request.POST.get("client") or request.GET.get("client"))
        return Client.objects.filter(pk=pk).first() if pk else None

    def _render(self, request, client, form, lines, plan=None, status=200):
        return render(
            request,
            self.template,
            {"customer": client, "form": form, "lines": lines, "plan": plan},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        if client is None:
            form = ChooseClientForm(request.GET or None)
            return render(request, "orders/choose_client.html", {"form": form})
        lines = _Formsets(client, rows={"products": [{"quantity": 1, "billing_cycle": "monthly"}]})
        form = OrderForm(initial={"payment_method": client.default_payment_method})
        return self._render(request, client, form, lines)

    def post(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        if client is None:
            raise Http404("Choose the client first.")
        action = request.POST.get("action", "preview")
        if action.startswith("add_"):
            prefix = {"add_product": "products", "add_domain": "domains", "add_addon": "addons"}
            rows = {p: _rows(request.POST, fs) for p, fs in _Formsets(client).sets.items()}
            added = prefix.get(action)
            if added:
                blank = {"quantity": 1, "billing_cycle": "monthly", "period_years": 1}
                rows[added].append(blank)
            # What was typed, unticked boxes included (absent from the POST, not "default").
            initial = {
                name: bool(request.POST.get(name))
                if isinstance(field, forms.BooleanField)
                else request.POST.get(name)
                for name, field in OrderForm.base_fields.items()
            }
            form = OrderForm(initial=initial)
            return self._render(request, client, form, _Formsets(client, rows=rows))
        form = OrderForm(request.POST)
        lines = _Formsets(client, data=request.POST)
        if not (form.is_valid() & lines.is_valid()):
            return self._render(request, client, form, lines, status=400)
        data = form.cleaned_data
        accept = data["order_status"] == "active"
        options = {
            "promotion_code": data["promotion_code"],
            "accept": accept,
            "item_status": data["item_status"],
            "generate_invoice": data["generate_invoice"],
            "send_invoice_email": data["send_invoice_email"],
            "send_confirmation": data["send_confirmation"],
        }
        try:
            inputs = lines.inputs()
            if action != "place":
                plan = services.plan_order(client=client, **inputs, **options)
                return self._render(request, client, form, lines, plan=plan)
            order = services.place_order(
                client=client,
                **inputs,
                **options,
                payment_method=data["payment_method"],
                admin_notes=data["admin_notes"],
                actor=request.user,
                reason=data["audit_reason"],
            )
        except ValidationError as exc:
            lines.add_errors(form, exc)
            return self._render(request, client, form, lines, status=400)
        except PdfUnavailable as exc:
            form.add_error(None, str(exc))
            return self._render(request, client, form, lines, status=400)
        if order.status == Order.Status.ACTIVE:
            messages.success(request, f"{order} placed and accepted.")
        else:
            messages.success(request, f"{order} saved as pending: accept it to set it up.")
        return redirect(order)


# Order actions -------------------------------------------------------------------------------


class _OrderActionView(StaffPermissionRequiredMixin, View):
    permission_required = "orders.change_order"

    def order(self, pk: int) -> Order:
        return get_object_or_404(Order.objects.select_related("client", "invoice"), pk=pk)

    def page(self, request, order, form, *, title, submit, status=200, **extra):
        return action_page(
            request,
            form,
            title=title,
            back=order.get_absolute_url(),
            crumbs=[
                ("Orders", reverse("orders:order-list")),
                (str(order), order.get_absolute_url()),
            ],
            submit=submit,
            status=status,
            **extra,
        )


class OrderAcceptView(_OrderActionView):
    def _page(self, request, order, form, status=200):
        return self.page(
            request,
            order,
            form,
            title=f"Accept {order}",
            submit="Accept order",
            status=status,
            intro="Accepting creates the order's hosting accounts, domains and add-ons and, if "
            "asked, one invoice for all of it. If anything is refused, nothing is created.",
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = self.order(pk)
        form = AcceptOrderForm(
            initial={
                "item_status": order.item_status,
                "generate_invoice": order.generate_invoice,
                "send_invoice_email": order.send_invoice_email,
            }
        )
        return self._page(request, order, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        order = self.order(pk)
        form = AcceptOrderForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.accept_order(
                    order=order,
                    actor=request.user,
                    reason=data["audit_reason"],
                    item_status=data["item_status"],
                    generate_invoice=data["generate_invoice"],
                    send_invoice_email=data["send_invoice_email"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            except PdfUnavailable as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{order} accepted.")
                return redirect(order)
        return self._page(request, order, form, status=400)


class OrderStatusView(_OrderActionView):
    LABELS = {Order.Status.CANCELLED: "Cancel", Order.Status.FRAUD: "Mark as fraud"}

    def _page(self, request, order, status, form, code=200):
        label = self.LABELS[status]
        return self.page(
            request,
            order,
            form,
            title=f"{label}: {order}",
            submit=label,
            status=code,
            danger=True,
        )

    def _check(self, status: str) -> None:
        if status not in self.LABELS:
            raise Http404("Unknown status.")

    def get(self, request: HttpRequest, pk: int, status: str) -> HttpResponse:
        self._check(status)
        order = self.order(pk)
        form = OrderStatusForm(accepted=order.is_accepted, status=status)
        return self._page(request, order, status, form)

    def post(self, request: HttpRequest, pk: int, status: str) -> HttpResponse:
        self._check(status)
        order = self.order(pk)
        form = OrderStatusForm(request.POST, accepted=order.is_accepted, status=status)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.change_order_status(
                    order=order,
                    status=status,
                    actor=request.user,
                    reason=data["reason"],
                    cancel_records=data.get("cancel_records", False),
                    cancel_invoice=data.get("cancel_invoice", False),
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"{order} is now {Order.Status(status).label.lower()}.")
                return redirect(order)
        return self._page(request, order, status, form, code=400)


# Upgrades, downgrades and cancellations --------------------------------------------------------


def _service(pk: int) -> Service:
    return get_object_or_404(Service.objects.select_related("client", "product"), pk=pk)


def _service_crumbs(service: Service) -> list[tuple[str, str]]:
    return [
        (service.client.full_name, service.client.get_absolute_url() + "?tab=services"),
        (str(service), service.get_absolute_url()),
    ]


class ServiceChangeView(StaffPermissionRequiredMixin, View):
    """Upgrade or downgrade: Preview shows the proration, Confirm invoices or credits it."""

    permission_required = "orders.add_servicechange"

    def _page(self, request, service, form, plan=None, status=200):
        return render(
            request,
            "orders/service_change.html",
            {
                "service": service,
                "form": form,
                "plan": plan,
                "crumbs": _service_crumbs(service),
                "back": service.get_absolute_url() + "?tab=changes",
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = _service(pk)
        return self._page(request, service, ServiceChangeForm(service=service))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = _service(pk)
        form = ServiceChangeForm(request.POST, service=service)
        if not form.is_valid():
            return self._page(request, service, form, status=400)
        data = form.cleaned_data
        choice = {
            "product": data["product"],
            "billing_cycle": data["billing_cycle"],
            "recurring_amount": data["recurring_amount"],
        }
        try:
            if request.POST.get("action") != "confirm":
                plan = services.plan_change(service=service, **choice)
                return self._page(request, service, form, plan=plan)
            change = services.change_service_product(
                service=service,
                **choice,
                apply_now=data["apply_now"],
                send_invoice_email=data["send_invoice_email"],
                actor=request.user,
                reason=data["audit_reason"],
            )
        except ValidationError as exc:
            errors_to_form(form, exc)
            return self._page(request, service, form, status=400)
        except PdfUnavailable as exc:
            form.add_error(None, str(exc))
            return self._page(request, service, form, status=400)
        if change.status == ServiceChange.Status.APPLIED:
            messages.success(request, f"{change.get_kind_display()} done.")
        else:
            messages.success(
                request,
                f"{change.get_kind_display()} requested: it happens when invoice "
                f"{change.invoice} is paid.",
            )
        return redirect(service.get_absolute_url() + "?tab=changes")


class CancellationRequestView(StaffPermissionRequiredMixin, View):
    permission_required = "orders.add_servicechange"

    def _page(self, request, service, form, status=200):
        due = service.next_due_date
        return action_page(
            request,
            form,
            title=f"Cancel {service}",
            back=service.get_absolute_url() + "?tab=changes",
            crumbs=_service_crumbs(service),
            submit="Request cancellation",
            status=status,
            danger=True,
            intro=(
                f"At the end of the period, the account is cancelled on {due:%d/%m/%Y} by the "
                "daily job; immediately, it and its add-ons are cancelled now."
                if due
                else "The account has no next due date: it is cancelled now either way."
            ),
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = _service(pk)
        return self._page(request, service, CancellationForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = _service(pk)
        form = CancellationForm(request.POST)
        if form.is_valid():
            try:
                change = services.request_cancellation(
                    service=service,
                    when=form.cleaned_data["when"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                if change.status == ServiceChange.Status.APPLIED:
                    messages.success(request, "The account is cancelled.")
                else:
                    messages.success(
                        request, f"Cancellation due on {change.effective_date:%d/%m/%Y}."
                    )
                return redirect(service.get_absolute_url() + "?tab=changes")
        return self._page(request, service, form, status=400)


class WithdrawChangeView(StaffPermissionRequiredMixin, View):
    permission_required = "orders.change_servicechange"

    def _change(self, pk: int) -> ServiceChange:
        return get_object_or_404(
            ServiceChange.objects.select_related("service", "service__client", "invoice"), pk=pk
        )

    def _page(self, request, change, form, status=200):
        service = change.service
        intro = "The request will not be carried out."
        if change.invoice_id:
            intro += f" Its invoice {change.invoice} is cancelled if it is still unpaid."
        return action_page(
            request,
            form,
            title=f"Withdraw {change.get_kind_display().lower()} of {service}",
            back=service.get_absolute_url() + "?tab=changes",
            crumbs=_service_crumbs(service),
            submit="Withdraw",
            status=status,
            intro=intro,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._page(request, self._change(pk), WithdrawForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        change = self._change(pk)
        form = WithdrawForm(request.POST)
        if form.is_valid():
            try:
                services.withdraw_change(
                    change=change, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Request withdrawn.")
                return redirect(change.service.get_absolute_url() + "?tab=changes")
        return self._page(request, change, form, status=400)
