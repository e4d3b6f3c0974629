from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView

from audit.views import RecordHistoryMixin
from billing import services
from billing.forms import (
    ApplyCreditForm,
    BillableItemForm,
    CreditForm,
    InvoiceFilter,
    InvoiceForm,
    InvoiceLineFormSet,
    InvoiceStatusForm,
    OptionalReasonForm,
    PaymentForm,
    PublishForm,
    ReasonForm,
    RefundForm,
    SplitPaymentForm,
    TransactionFilter,
    TransactionForm,
)
from billing.models import Allocation, BillableItem, Invoice, InvoiceItem, Transaction
from billing.pdf import PdfUnavailable, invoice_pdf
from billing.totals import Line, compute_totals
from clients.models import Client
from core import inputs
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator, newest_first_via_filter
from core.views import StaffPermissionRequiredMixin

LINE_FIELDS = (
    "description",
    "quantity",
    "unit_price",
    "taxed",
    "kind",
    "service",
    "domain",
    "addon",
    "billable_item",
    "period_start",
    "period_end",
)
PICK_LIMIT = 50
SPLIT_LIMIT = 30


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, context, status=status)


def action_page(request, form, *, title, back, crumbs, status=200, submit="Save", **extra):
    return render(
        request,
        "billing/action_form.html",
        {"form": form, "title": title, "back": back, "crumbs": crumbs, "submit": submit, **extra},
        status=status,
    )


# Lists ---------------------------------------------------------------------------------------


class InvoiceListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "billing.view_invoice"
    template_name = "billing/invoice_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = InvoiceFilter(
            self.request.GET or None, queryset=Invoice.objects.select_related("client")
        )
        form = self.filterset.form
        if self.filterset.is_bound and form.is_valid() and form.cleaned_data.get("number"):
            # The prefix's matches are read from billing_invoice_number_idx and sorted.
            return newest_first_via_filter(self.filterset.qs)
        return self.filterset.qs.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, today=timezone.localdate(), **kwargs)


class TransactionListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "billing.view_transaction"
    template_name = "billing/transaction_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = TransactionFilter(
            self.request.GET or None, queryset=Transaction.objects.select_related("client")
        )
        if self.filterset.is_bound and self.filterset.form.is_valid():
            data = self.filterset.form.cleaned_data
            if data.get("gateway") and (data.get("date_from") or data.get("date_to")):
                # A gateway's period is read from billing_txn_gateway_date_idx and sorted.
                return newest_first_via_filter(self.filterset.qs)
        return self.filterset.qs.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            filter=self.filterset, gateways=dict(services.gateway_choices()), **kwargs
        )


# Invoice detail and PDF ----------------------------------------------------------------------


class InvoiceDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "billing.view_invoice"
    template_name = "billing/invoice_detail.html"
    context_object_name = "invoice"

    def get_queryset(self) -> Any:
        return Invoice.objects.select_related("client", "series").prefetch_related(
            Prefetch("items", queryset=InvoiceItem.objects.order_by("position", "id")),
            Prefetch(
                "allocations",
                queryset=Allocation.objects.select_related("transaction", "credit_entry").order_by(
                    "id"
                ),
            ),
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        invoice = self.object
        context["credit"] = services.credit_balance(invoice.client)
        context["refunded"] = invoice.refunded_amount
        context["gateways"] = dict(services.gateway_choices())
        context["payments"] = [
            a.transaction
            for a in invoice.allocations.all()
            if a.transaction and a.transaction.kind == Transaction.Kind.PAYMENT
        ]
        return context


class InvoicePdfView(StaffPermissionRequiredMixin, View):
    permission_required = "billing.view_invoice"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice.objects.select_related("client"), pk=pk)
        try:
            pdf = invoice_pdf(invoice)
        except PdfUnavailable as exc:
            messages.error(request, str(exc))
            return redirect(invoice)
        response = HttpResponse(pdf, content_type="application/pdf")
        name = invoice.number or f"draft-{invoice.pk}"
        disposition = "inline" if request.GET.get("inline") else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{name}.pdf"'
        return response


# The invoice editor (new invoice or a draft) -------------------------------------------------


def _rows_from_post(data: Any, prefix: str = "form") -> list[dict[str, Any]]:
    """The lines as typed (raw strings), minus deleted ones: to re-show them unchanged."""
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
    except ValueError:
        total = 0
    rows = []
    for i in range(min(total, services.MAX_LINES)):
        if data.get(f"{prefix}-{i}-DELETE"):
            continue
        row = {name: data.get(f"{prefix}-{i}-{name}", "") for name in LINE_FIELDS}
        row["taxed"] = bool(data.get(f"{prefix}-{i}-taxed"))
        if any(row[n] for n in ("description", "unit_price")) or row["kind"]:
            rows.append(row)
    return rows


def _row_from_line(line: services.LineData) -> dict[str, Any]:
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


def _candidates(client: Client, invoice: Invoice | None) -> dict[str, list[Any]]:
    """The client's records a line can be pulled from (bounded lists)."""
    from hosting.models import Addon, Domain, Service

    live = ("active", "suspended", "pending")
    queued = BillableItem.objects.filter(client=client, invoice_item__isnull=True)
    # A record whose current period is already on a billed invoice is not offered again.
    return {
        "services": list(
            services.unbilled(Service.objects.filter(client=client, status__in=live), "service")
            .select_related("product")
            .order_by("next_due_date", "id")[:PICK_LIMIT]
        ),
        "domains": list(
            services.unbilled(
                Domain.objects.filter(client=client, status__in=live), "domain"
            ).order_by("expiry_date", "id")[:PICK_LIMIT]
        ),
        "addons": list(
            services.unbilled(
                Addon.objects.filter(service__client=client, status__in=live), "addon"
            )
            .select_related("definition", "service__product")
            .order_by("next_due_date", "id")[:PICK_LIMIT]
        ),
        "billables": list(queued.order_by("id")[:PICK_LIMIT]),
    }


def _pulled_lines(client: Client, picks: list[str]) -> list[services.LineData]:
    from hosting.models import Addon, Domain, Service

    wanted: dict[str, list[int]] = {"service": [], "domain": [], "addon": [], "billable": []}
    for pick in picks[: services.MAX_LINES]:
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


def _lines_from_formset(formset: Any, client: Client) -> list[services.LineData]:
    """LineData from valid rows; a record id that is not the client's is dropped, not trusted."""
    from hosting.models import Addon, Domain, Service

    rows = [
        f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
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
        links = {key: found[key].get(row.get(key)) for key in found}
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


class InvoiceEditorView(StaffPermissionRequiredMixin, View):
    """New invoice (``?client=``) or a draft's edit page: header, lines, server-computed totals.

    Buttons: add a line, pull lines from the client's records, recalculate, save the draft,
    save and publish, save, publish and email. Nothing is saved until one of the last three.
    """

    template = "billing/invoice_form.html"

    def get_permission_required(self) -> tuple[str, ...]:
        return ("billing.change_invoice",) if "pk" in self.kwargs else ("billing.add_invoice",)

    def _objects(self, request: HttpRequest) -> tuple[Invoice | None, Client | None]:
        if "pk" in self.kwargs:
            invoice = get_object_or_404(
                Invoice.objects.select_related("client"), pk=self.kwargs["pk"]
            )
            if not invoice.is_draft:
                raise Http404("Only drafts can be edited.")
            return invoice, invoice.client
        pk = inputs.record_id(request.POST.get("client") or request.GET.get("client"))
        return None, Client.objects.filter(pk=pk).first() if pk else None

    def _render(self, request, invoice, client, form, formset, status=200, totals=None):
        context = {
            "invoice": invoice,
            "customer": client,
            "form": form,
            "formset": formset,
            "totals": totals,
            "rates": services.tax_rates_for(client) if client else None,
            "candidates": _candidates(client, invoice) if client else None,
            "title": f"Edit draft #{invoice.pk}" if invoice else "New invoice",
        }
        return render(request, self.template, context, status=status)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        invoice, client = self._objects(request)
        today = timezone.localdate()
        if invoice:
            initial = {
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "public_notes": invoice.public_notes,
                "private_notes": invoice.private_notes,
            }
            rows = [
                {
                    "description": i.description,
                    "quantity": i.quantity.normalize(),
                    "unit_price": i.unit_price,
                    "taxed": i.taxed,
                    "kind": i.kind,
                    "service": i.service_id,
                    "domain": i.domain_id,
                    "addon": i.addon_id,
                    "billable_item": getattr(getattr(i, "billable_item", None), "pk", None),
                    "period_start": i.period_start,
                    "period_end": i.period_end,
                }
                for i in invoice.items.select_related("billable_item").order_by("position", "id")
            ]
        else:
            initial = {
                "issue_date": today,
                "due_date": today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
                "client": client.pk if client else None,
            }
            rows = []
        form = InvoiceForm(initial=initial, client=client if invoice else None)
        return self._render(request, invoice, client, form, InvoiceLineFormSet(initial=rows))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        invoice, client = self._objects(request)
        action = request.POST.get("action", "save")
        if action in ("add_line", "pull"):
            rows = _rows_from_post(request.POST)
            if action == "add_line":
                rows.append({"quantity": 1, "taxed": True})
            elif client is not None:
                rows += [
                    _row_from_line(x) for x in _pulled_lines(client, request.POST.getlist("pick"))
                ]
            form = InvoiceForm(
                initial={
                    k: request.POST.get(k)
                    for k in (
                        "issue_date",
                        "due_date",
                        "public_notes",
                        "private_notes",
                        "audit_reason",
                        "client",
                    )
                },
                client=client if invoice else None,
            )
            return self._render(request, invoice, client, form, InvoiceLineFormSet(initial=rows))

        form = InvoiceForm(request.POST, client=client if invoice else None)
        formset = InvoiceLineFormSet(request.POST)
        valid = form.is_valid() & formset.is_valid()
        if not invoice and valid:
            client = form.cleaned_data["client"]
        if not valid or client is None:
            return self._render(request, invoice, client, form, formset, status=400)
        lines = _lines_from_formset(formset, client)
        if action == "preview":
            totals = compute_totals(
                [Line(x.quantity, x.unit_price, x.taxed) for x in lines],
                services.tax_rates_for(client),
                rounding=settings.INVOICE_TAX_ROUNDING,
            )
            return self._render(request, invoice, client, form, formset, totals=totals)
        data = form.cleaned_data
        reason = data.get("audit_reason", "")
        try:
            common = {
                "lines": lines,
                "issue_date": data["issue_date"],
                "due_date": data["due_date"],
                "public_notes": data["public_notes"],
                "private_notes": data["private_notes"],
                "actor": request.user,
                "reason": reason,
            }
            with transaction.atomic():
                if invoice:
                    invoice = services.update_draft(invoice=invoice, **common)
                else:
                    invoice = services.create_invoice(client=client, **common)
                if action in ("publish", "publish_email"):
                    invoice = services.publish_invoice(
                        invoice=invoice,
                        actor=request.user,
                        send_email=action == "publish_email",
                        reason=reason,
                    )
        except (ValidationError, PdfUnavailable) as exc:
            if isinstance(exc, PdfUnavailable):
                exc = ValidationError(str(exc), code="pdf_unavailable")
            errors_to_form(form, exc)
            # A new invoice was rolled back with the error: the page stays a "new invoice".
            draft = invoice if "pk" in kwargs else None
            return self._render(request, draft, client, form, formset, status=400)
        if action == "publish_email":
            messages.success(request, f"Invoice {invoice.number} published and emailed.")
        elif action == "publish":
            messages.success(request, f"Invoice {invoice.number} published.")
        else:
            messages.success(request, "Draft saved.")
        return redirect(invoice)


# Invoice actions -----------------------------------------------------------------------------


class _InvoiceActionView(StaffPermissionRequiredMixin, View):
    """GET shows a small form, POST calls one service; errors come back on the form."""

    form_class: Any = ReasonForm
    title = ""
    submit = "Save"
    success = ""

    def invoice(self, pk: int) -> Invoice:
        return get_object_or_404(Invoice.objects.select_related("client"), pk=pk)

    def form_kwargs(self, invoice: Invoice) -> dict[str, Any]:
        return {}

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        return {}

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        raise NotImplementedError

    def success_url(self, invoice: Invoice) -> str:
        return invoice.get_absolute_url()

    def _render(self, request, invoice, form, status=200):
        return action_page(
            request,
            form,
            title=self.title.format(invoice=invoice),
            back=invoice.get_absolute_url(),
            crumbs=[
                ("Invoices", reverse("billing:invoice-list")),
                (str(invoice), invoice.get_absolute_url()),
            ],
            status=status,
            submit=self.submit,
            invoice=invoice,
            **self.page_context(invoice),
        )

    def get(self, request: HttpRequest, pk: int, **kwargs: Any) -> HttpResponse:
        invoice = self.invoice(pk)
        return self._render(request, invoice, self.form_class(**self.form_kwargs(invoice)))

    def post(self, request: HttpRequest, pk: int, **kwargs: Any) -> HttpResponse:
        invoice = self.invoice(pk)
        form = self.form_class(request.POST, **self.form_kwargs(invoice))
        if form.is_valid():
            try:
                self.act(invoice, form.cleaned_data, request)
            except ValidationError as exc:
                errors_to_form(form, exc)
            except PdfUnavailable as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, self.success.format(invoice=invoice))
                return redirect(self.success_url(invoice))
        return self._render(request, invoice, form, status=400)


class InvoicePublishView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = PublishForm
    title = "Publish {invoice}"
    submit = "Publish"
    success = "Invoice published."

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        return {
            "intro": "Publishing gives the invoice its number; after that it cannot be "
            "edited or deleted, only cancelled, credited or refunded."
        }

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.publish_invoice(
            invoice=invoice, actor=request.user, send_email=data["send_email"]
        )


class InvoiceDeleteView(_InvoiceActionView):
    permission_required = "billing.delete_invoice"
    form_class = OptionalReasonForm
    title = "Delete {invoice}"
    submit = "Delete draft"
    success = "Draft deleted."

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        return {
            "intro": "Drafts have no number, so deleting one leaves no gap. Billable items "
            "on it go back to the client's queue.",
            "danger": True,
        }

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        services.delete_draft(invoice=invoice, actor=request.user, reason=data["reason"])

    def success_url(self, invoice: Invoice) -> str:
        return invoice.client.get_absolute_url() + "?tab=invoices"


class InvoiceStatusView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = InvoiceStatusForm
    submit = "Confirm"
    success = "Invoice status changed."
    LABELS = {"cancelled": "Cancel", "collections": "Send to collections", "unpaid": "Reopen"}

    def invoice(self, pk: int) -> Invoice:
        status = self.kwargs["status"]
        if status not in self.LABELS:
            raise Http404
        self.title = f"{self.LABELS[status]} {{invoice}}"
        return super().invoice(pk)

    def form_kwargs(self, invoice: Invoice) -> dict[str, Any]:
        cancelling = self.kwargs["status"] == "cancelled"
        return {"show_credit": cancelling and invoice.amount_paid > 0}

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.change_invoice_status(
            invoice=invoice,
            status=self.kwargs["status"],
            actor=request.user,
            reason=data["reason"],
            paid_to_credit=data.get("paid_to_credit", False),
        )


class InvoiceMarkPaidView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    title = "Mark {invoice} paid without a payment"
    submit = "Mark paid"
    success = "Invoice marked paid."

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        return {
            "intro": "No money is recorded. Use this for write-offs and settlements made "
            "outside the system; to record money, add a payment instead."
        }

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.mark_invoice_paid(
            invoice=invoice, actor=request.user, reason=data["reason"]
        )


class InvoiceEmailView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = PublishForm
    title = "Email {invoice}"
    submit = "Send"
    success = "Invoice emailed."

    def form_kwargs(self, invoice: Invoice) -> dict[str, Any]:
        return {"initial": {"send_email": True}}

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.email_invoice(invoice=invoice, actor=request.user)


class InvoicePaymentView(_InvoiceActionView):
    permission_required = "billing.add_transaction"
    form_class = PaymentForm
    title = "Add a payment to {invoice}"
    submit = "Record payment"
    success = "Payment recorded."

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        return {"intro": f"Balance due: {invoice.balance_due} {invoice.currency}."}

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.record_payment(
            client=invoice.client,
            allocations=[(invoice, None)],
            amount=data["amount"],
            gateway=data["gateway"],
            transaction_id=data["transaction_id"],
            date=data["date"],
            fees=data["fees"] or Decimal(0),
            send_receipt=data["send_receipt"],
            allow_duplicate_id=data["allow_duplicate_id"],
            actor=request.user,
            reason=data["audit_reason"],
        )


class InvoiceApplyCreditView(_InvoiceActionView):
    permission_required = "billing.add_creditentry"
    form_class = ApplyCreditForm
    title = "Apply credit to {invoice}"
    submit = "Apply credit"
    success = "Credit applied."

    def page_context(self, invoice: Invoice) -> dict[str, Any]:
        credit = services.credit_balance(invoice.client)
        return {
            "intro": f"Credit available: {credit} {invoice.currency}. "
            f"Balance due: {invoice.balance_due} {invoice.currency}."
        }

    def act(self, invoice: Invoice, data: dict[str, Any], request: HttpRequest) -> Any:
        return services.apply_credit(invoice=invoice, amount=data["amount"], actor=request.user)


# Transactions --------------------------------------------------------------------------------


class TransactionDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "billing.view_transaction"
    template_name = "billing/transaction_detail.html"
    context_object_name = "txn"

    def get_queryset(self) -> Any:
        return Transaction.objects.select_related("client", "refund_of", "created_by")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        txn = self.object
        context["allocations"] = list(txn.allocations.select_related("invoice").order_by("id"))
        context["refunds"] = list(txn.refunds.order_by("id"))
        context["credit_entries"] = list(txn.credit_entries.order_by("id"))
        context["refundable"] = (
            services.refundable_amount(txn) if txn.kind == Transaction.Kind.PAYMENT else None
        )
        context["gateways"] = dict(services.gateway_choices())
        return context


class RefundView(StaffPermissionRequiredMixin, View):
    permission_required = "billing.add_transaction"

    def _render(self, request, payment, form, status=200):
        return action_page(
            request,
            form,
            title=f"Refund {payment}",
            back=payment.get_absolute_url(),
            crumbs=[
                ("Transactions", reverse("billing:transaction-list")),
                (str(payment), payment.get_absolute_url()),
            ],
            status=status,
            submit="Refund",
            intro=f"Refundable: {services.refundable_amount(payment)} {payment.currency}. "
            "The refund is recorded as its own transaction; money is not sent by this system.",
        )

    def _payment(self, pk: int) -> Transaction:
        return get_object_or_404(
            Transaction.objects.select_related("client"), pk=pk, kind="payment"
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, self._payment(pk), RefundForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        payment = self._payment(pk)
        form = RefundForm(request.POST)
        if form.is_valid():
            try:
                refund = services.refund_payment(
                    payment=payment,
                    amount=form.cleaned_data["amount"],
                    transaction_id=form.cleaned_data["transaction_id"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Refund of {refund.amount_out} recorded.")
                return redirect(payment)
        return self._render(request, payment, form, status=400)


class TransactionCreateView(StaffPermissionRequiredMixin, View):
    """Money in or out without an invoice, for a client (from its profile) or none."""

    permission_required = "billing.add_transaction"

    def _client(self) -> Client | None:
        pk = self.kwargs.get("client_pk")
        return get_object_or_404(Client, pk=pk) if pk else None

    def _render(self, request, client, form, status=200):
        back = (
            client.get_absolute_url() + "?tab=transactions"
            if client
            else reverse("billing:transaction-list")
        )
        crumbs = (
            [(client.full_name, client.get_absolute_url())]
            if client
            else [("Transactions", reverse("billing:transaction-list"))]
        )
        return action_page(
            request,
            form,
            title="Add a transaction",
            back=back,
            crumbs=crumbs,
            status=status,
            submit="Record transaction",
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        client = self._client()
        return self._render(request, client, TransactionForm(client=client))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        client = self._client()
        form = TransactionForm(request.POST, client=client)
        if form.is_valid():
            data = form.cleaned_data
            chosen = client or data.get("client")
            try:
                row = services.record_transaction(
                    direction=data["direction"],
                    amount=data["amount"],
                    gateway=data["gateway"],
                    date=data["date"],
                    description=data["description"],
                    currency=chosen.currency if chosen else data["currency"],
                    client=chosen,
                    fees=data["fees"] or Decimal(0),
                    transaction_id=data["transaction_id"],
                    allow_duplicate_id=data["allow_duplicate_id"],
                    actor=request.user,
                    reason=data["audit_reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Transaction recorded.")
                return redirect(row)
        return self._render(request, client, form, status=400)


# Per client: split payment, credit, billable items -------------------------------------------


class _ClientActionView(StaffPermissionRequiredMixin, View):
    tab = "invoices"
    title = ""
    submit = "Save"

    def client(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["client_pk"])

    def render_form(self, request, client, form, status=200, **extra):
        return action_page(
            request,
            form,
            title=self.title.format(client=client.full_name),
            back=f"{client.get_absolute_url()}?tab={self.tab}",
            crumbs=[
                ("Clients", reverse("clients:client-list")),
                (client.full_name, client.get_absolute_url()),
            ],
            status=status,
            submit=self.submit,
            **extra,
        )


class SplitPaymentView(_ClientActionView):
    permission_required = "billing.add_transaction"
    title = "Record a payment from {client}"
    submit = "Record payment"
    tab = "transactions"

    def _invoices(self, client: Client) -> list[Invoice]:
        return list(
            client.invoices.payable().filter(balance__gt=0).order_by("due_date", "id")[:SPLIT_LIMIT]
        )

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        form = SplitPaymentForm(invoices=self._invoices(client))
        return self.render_form(request, client, form, split=True)

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        form = SplitPaymentForm(request.POST, invoices=self._invoices(client))
        if form.is_valid():
            data = form.cleaned_data
            try:
                payment = services.record_payment(
                    client=client,
                    allocations=form.allocations(),
                    amount=data["amount"],
                    gateway=data["gateway"],
                    transaction_id=data["transaction_id"],
                    date=data["date"],
                    fees=data["fees"] or Decimal(0),
                    send_receipt=data["send_receipt"],
                    allow_duplicate_id=data["allow_duplicate_id"],
                    actor=request.user,
                    reason=data["audit_reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Payment recorded.")
                return redirect(payment)
        return self.render_form(request, client, form, status=400, split=True)


class CreditView(_ClientActionView):
    permission_required = "billing.add_creditentry"
    title = "Add or remove credit for {client}"
    submit = "Save"
    tab = "credit"

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        form = CreditForm(initial={"action": "add"})
        return self.render_form(request, client, form, intro=self._intro(client))

    def _intro(self, client: Client) -> str:
        return f"Current credit: {services.credit_balance(client)} {client.currency}."

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        form = CreditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            change = services.add_credit if data["action"] == "add" else services.remove_credit
            try:
                change(
                    client=client,
                    amount=data["amount"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Credit updated.")
                return redirect(f"{client.get_absolute_url()}?tab=credit")
        return self.render_form(request, client, form, status=400, intro=self._intro(client))


class BillableItemCreateView(_ClientActionView):
    permission_required = "billing.add_billableitem"
    title = "Add a billable item for {client}"
    submit = "Add"
    tab = "credit"

    def _services(self, client: Client) -> list[Any]:
        return list(client.services.select_related("product").order_by("-id")[:PICK_LIMIT])

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        return self.render_form(request, client, BillableItemForm(services=self._services(client)))

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = self.client()
        choices = self._services(client)
        form = BillableItemForm(request.POST, services=choices)
        if form.is_valid():
            data = form.cleaned_data
            service = next((s for s in choices if s.pk == data["service"]), None)
            try:
                item = services.add_billable_item(
                    client=client,
                    description=data["description"],
                    quantity=data["quantity"],
                    unit_price=data["unit_price"],
                    taxed=data["taxed"],
                    service=service,
                    invoice_now=data["invoice_now"],
                    actor=request.user,
                    reason=data["audit_reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                if item.invoice_item_id:
                    messages.success(request, "Charge invoiced.")
                    return redirect(item.invoice_item.invoice)
                messages.success(request, "Charge queued for the next invoice.")
                return redirect(f"{client.get_absolute_url()}?tab=credit")
        return self.render_form(request, client, form, status=400)


class BillableItemDeleteView(StaffPermissionRequiredMixin, View):
    permission_required = "billing.delete_billableitem"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = get_object_or_404(BillableItem, pk=pk)
        try:
            services.remove_billable_item(
                item=item, actor=request.user, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Charge removed from the queue.")
        return redirect(f"{item.client.get_absolute_url()}?tab=credit")
