from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView

from approvals import thresholds
from approvals.views import FourEyesMixin
from audit.reasons import ReasonCodeMixin
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
    pulled_lines,
    row_from_item,
    row_from_line,
)
from billing.models import Allocation, BillableItem, Invoice, InvoiceItem, Transaction
from billing.pdf import PdfUnavailable, invoice_pdf
from clients.models import Client
from core import inputs
from core.pagination import newest_first_via_filter
from core.rights import refuse_without
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, FilteredListView, PostOnlyWriteView, WriteView

PICK_LIMIT = 50
SPLIT_LIMIT = 30


# Lists ---------------------------------------------------------------------------------------


class InvoiceListView(FilteredListView):
    permission_required = "billing.view_invoice"
    template_name = "billing/invoice_list.html"
    filterset_class = InvoiceFilter

    def get_base_queryset(self) -> Any:
        return Invoice.objects.select_related("client")

    def order(self, filterset: Any) -> Any:
        form = filterset.form
        if filterset.is_bound and form.is_valid() and form.cleaned_data.get("number"):
            # The prefix's matches are read from billing_invoice_number_idx and sorted.
            return newest_first_via_filter(filterset.qs)
        return super().order(filterset)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(today=timezone.localdate(), **kwargs)


class TransactionListView(FilteredListView):
    permission_required = "billing.view_transaction"
    template_name = "billing/transaction_list.html"
    filterset_class = TransactionFilter

    def get_base_queryset(self) -> Any:
        return Transaction.objects.select_related("client")

    def order(self, filterset: Any) -> Any:
        if filterset.is_bound and filterset.form.is_valid():
            data = filterset.form.cleaned_data
            if data.get("gateway") and (data.get("date_from") or data.get("date_to")):
                # A gateway's period is read from billing_txn_gateway_date_idx and sorted.
                return newest_first_via_filter(filterset.qs)
        return super().order(filterset)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(gateways=dict(services.gateway_choices()), **kwargs)


# Invoice detail and PDF ----------------------------------------------------------------------


class InvoiceDetailView(StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView):
    history_depth = 2  # the invoice, its items, allocations (payments, refunds), credit
    permission_required = "billing.view_invoice"
    template_name = "billing/invoice_detail.html"
    context_object_name = "invoice"

    def get_crumbs(self) -> list[tuple[str, str]]:
        client = self.object.client
        return [
            ("Invoices", reverse("billing:invoice-list")),
            (client.full_name, client.get_absolute_url() + "?tab=invoices"),
        ]

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


def _candidates(client: Client) -> dict[str, list[Any]]:
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


HEADER_FIELDS = (
    "issue_date",
    "due_date",
    "public_notes",
    "private_notes",
    "audit_reason",
    "client",
)


class InvoiceEditorView(WriteView):
    """New invoice (``?client=``) or a draft's edit page: header, lines, server-computed totals.

    Buttons: add a line, pull lines from the client's records, recalculate, save the draft,
    save and publish, save, publish and email. Nothing is saved until one of the last three.
    """

    template_name = "billing/invoice_form.html"
    form_class = InvoiceForm
    expected_errors = (PdfUnavailable,)
    formset: Any = None

    def get_permission_required(self) -> tuple[str, ...]:
        return ("billing.change_invoice",) if "pk" in self.kwargs else ("billing.add_invoice",)

    def get_object(self) -> Invoice | None:
        if "pk" in self.kwargs:
            invoice = get_object_or_404(
                Invoice.objects.select_related("client"), pk=self.kwargs["pk"]
            )
            if not invoice.is_draft:
                raise Http404("Only drafts can be edited.")
            self.customer = invoice.client
            return invoice
        request = self.request
        pk = inputs.record_id(request.POST.get("client") or request.GET.get("client"))
        self.customer = Client.objects.filter(pk=pk).first() if pk else None
        return None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"client": self.customer if self.object else None}

    def get_initial(self) -> dict[str, Any]:
        invoice = self.object
        if invoice:
            return {
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "public_notes": invoice.public_notes,
                "private_notes": invoice.private_notes,
            }
        today = timezone.localdate()
        return {
            "issue_date": today,
            "due_date": today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            "client": self.customer.pk if self.customer else None,
        }

    def get_title(self) -> str:
        return f"Edit draft #{self.object.pk}" if self.object else "New invoice"

    def get_crumbs(self) -> list[tuple[str, str]]:
        crumbs = [("Invoices", reverse("billing:invoice-list"))]
        if self.customer:
            crumbs.append(
                (self.customer.full_name, self.customer.get_absolute_url() + "?tab=invoices")
            )
        return crumbs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        client = self.customer
        return super().get_context_data(
            invoice=self.object,
            customer=client,
            formset=self.formset,
            rates=services.tax_rates_for(client) if client else None,
            candidates=_candidates(client) if client else None,
            **kwargs,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        rows = []
        if self.object:
            items = self.object.items.select_related("billable_item").order_by("position", "id")
            rows = [row_from_item(i) for i in items]
        self.formset = InvoiceLineFormSet(initial=rows)
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.action = request.POST.get("action", "save")
        if self.action not in ("add_line", "pull"):
            self.formset = InvoiceLineFormSet(request.POST)
            return super().post(request, *args, **kwargs)
        # Redraw with one more line, or the picked records' lines: nothing is saved.
        self.object = self.get_object()
        rows = InvoiceLineFormSet.rows_from_post(request.POST)
        if self.action == "add_line":
            rows.append({"quantity": 1, "taxed": True})
        elif self.customer is not None:
            rows += [
                row_from_line(x) for x in pulled_lines(self.customer, request.POST.getlist("pick"))
            ]
        self.formset = InvoiceLineFormSet(initial=rows)
        form = InvoiceForm(
            initial={k: request.POST.get(k) for k in HEADER_FIELDS}, **self.get_form_kwargs()
        )
        return self.render_form(form)

    def is_valid(self, form: Any) -> bool:
        valid = form.is_valid() & self.formset.is_valid()
        if valid and not self.object:
            self.customer = form.cleaned_data["client"]
        return valid and self.customer is not None

    def preview(self, form: Any) -> HttpResponse | None:
        self.lines = self.formset.lines(self.customer)
        if self.action != "preview":
            return None
        totals = services.preview_totals(client=self.customer, lines=self.lines)
        return self.render_form(form, totals=totals)

    def act(self, form: Any) -> Invoice:
        data = form.cleaned_data
        return services.save_draft(
            client=self.customer,
            invoice=self.object,
            lines=self.lines,
            issue_date=data["issue_date"],
            due_date=data["due_date"],
            public_notes=data["public_notes"],
            private_notes=data["private_notes"],
            publish=self.action in ("publish", "publish_email"),
            send_email=self.action == "publish_email",
            actor=self.request.user,
            reason=data.get("audit_reason", ""),
        )

    def get_success_message(self, result: Invoice) -> str:
        if self.action == "publish_email":
            return f"Invoice {result.number} published and emailed."
        if self.action == "publish":
            return f"Invoice {result.number} published."
        return "Draft saved."


# Invoice actions -----------------------------------------------------------------------------


class _InvoiceActionView(WriteView):
    """A small form about one invoice: one service call; errors come back on the form."""

    form_class: Any = ReasonForm
    expected_errors = (PdfUnavailable,)

    def get_object(self) -> Invoice:
        return get_object_or_404(Invoice.objects.select_related("client"), pk=self.kwargs["pk"])

    def get_title(self) -> str:
        return self.title.format(invoice=self.object)

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Invoices", reverse("billing:invoice-list")),
            (str(self.object), self.object.get_absolute_url()),
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(invoice=self.object, **kwargs)

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class InvoicePublishView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = PublishForm
    title = "Publish {invoice}"
    submit = "Publish"
    success_message = "Invoice published."
    intro = (
        "Publishing gives the invoice its number; after that it cannot be "
        "edited or deleted, only cancelled, credited or refunded."
    )

    def act(self, form: Any) -> Any:
        return services.publish_invoice(
            invoice=self.object, actor=self.request.user, send_email=form.cleaned_data["send_email"]
        )


class InvoiceDeleteView(_InvoiceActionView):
    permission_required = "billing.delete_invoice"
    form_class = OptionalReasonForm
    title = "Delete {invoice}"
    submit = "Delete draft"
    success_message = "Draft deleted."
    danger = True
    intro = (
        "Drafts have no number, so deleting one leaves no gap. Billable items "
        "on it go back to the client's queue."
    )

    def act(self, form: Any) -> Any:
        services.delete_draft(
            invoice=self.object, actor=self.request.user, reason=form.cleaned_data["reason"]
        )

    def get_success_url(self, result: Any) -> str:
        return self.object.client.get_absolute_url() + "?tab=invoices"


class InvoiceStatusView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = InvoiceStatusForm
    submit = "Confirm"
    success_message = "Invoice status changed."
    LABELS = {"cancelled": "Cancel", "collections": "Send to collections", "unpaid": "Reopen"}

    def get_object(self) -> Invoice:
        if self.kwargs["status"] not in self.LABELS:
            raise Http404
        return super().get_object()

    def get_title(self) -> str:
        return f"{self.LABELS[self.kwargs['status']]} {self.object}"

    def get_form_kwargs(self) -> dict[str, Any]:
        cancelling = self.kwargs["status"] == "cancelled"
        return {"show_credit": cancelling and self.object.amount_paid > 0}

    def is_valid(self, form: Any) -> bool:
        valid = form.is_valid()
        if valid and self.kwargs["status"] == "cancelled" and self.object.amount_paid > 0:
            valid = not refuse_without(
                form,
                None,
                self.request.user,
                "billing.cancel_paid_invoice",
                "You do not have the right to cancel an invoice that has taken money.",
            )
        return valid

    def act(self, form: Any) -> Any:
        data = form.cleaned_data
        return services.change_invoice_status(
            invoice=self.object,
            status=self.kwargs["status"],
            actor=self.request.user,
            reason=data["reason"],
            paid_to_credit=data.get("paid_to_credit", False),
        )


class InvoiceMarkPaidView(ReasonCodeMixin, FourEyesMixin, _InvoiceActionView):
    permission_required = ("billing.change_invoice", "billing.mark_paid_without_payment")
    approval_action = "billing.mark_invoice_paid"
    reason_codes = "billing.mark_invoice_paid"

    def reason_amount(self, form: Any) -> Decimal | None:
        return self.object.balance_due

    def reason_currency(self, form: Any) -> str:
        return self.object.currency

    title = "Mark {invoice} paid without a payment"
    submit = "Mark paid"
    success_message = "Invoice marked paid."
    intro = (
        "No money is recorded. Use this for write-offs and settlements made "
        "outside the system; to record money, add a payment instead."
    )

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        return {"invoice": self.object, "reason": form.cleaned_data["reason"]}

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        invoice = self.object
        return thresholds.check(
            "billing.mark_paid_without_payment",
            label="Invoices marked paid without a payment",
            amount=invoice.balance_due,
            currency=invoice.currency,
        )

    def approval_summary(self, form: Any) -> str:
        invoice = self.object
        return (
            f"Mark {invoice} paid without a payment ({invoice.balance_due} {invoice.currency} due)"
        )


class InvoiceEmailView(_InvoiceActionView):
    permission_required = "billing.change_invoice"
    form_class = PublishForm
    title = "Email {invoice}"
    submit = "Send"
    success_message = "Invoice emailed."

    def get_initial(self) -> dict[str, Any]:
        return {"send_email": True}

    def act(self, form: Any) -> Any:
        return services.email_invoice(invoice=self.object, actor=self.request.user)


def _backdating_refused(form: Any, user: Any) -> bool:
    """A payment or transaction dated before today needs its own right."""
    moved = form.cleaned_data.get("date")
    if moved is None or timezone.localtime(moved).date() >= timezone.localdate():
        return False
    return refuse_without(
        form,
        "date",
        user,
        "billing.backdate_transaction",
        "You do not have the right to date money before today.",
    )


def _backdating_needed(form: Any) -> thresholds.Needed | None:
    """Money dated further back than ``APPROVAL_THRESHOLDS`` allows waits for a second person."""
    when = form.cleaned_data.get("date")
    if when is None:
        return None
    return thresholds.check(
        "billing.backdate_transaction",
        label="Payments and transactions",
        amount=form.cleaned_data.get("amount"),
        date=timezone.localtime(when).date(),
    )


def _money_summary(what: str, form: Any, currency: str) -> str:
    data = form.cleaned_data
    amount = data.get("amount")
    shown = f"{amount} {currency}" if amount is not None else "the balance"
    return f"{what} of {shown} dated {timezone.localtime(data['date']).date():%Y-%m-%d}"


def _payment_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": data["amount"],
        "gateway": data["gateway"],
        "transaction_id": data["transaction_id"],
        "date": data["date"],
        "fees": data["fees"] or Decimal(0),
        "send_receipt": data["send_receipt"],
        "allow_duplicate_id": data["allow_duplicate_id"],
        "reason": data["audit_reason"],
    }


class InvoicePaymentView(FourEyesMixin, _InvoiceActionView):
    permission_required = "billing.add_transaction"
    approval_action = "billing.record_payment"
    form_class = PaymentForm
    title = "Add a payment to {invoice}"
    submit = "Record payment"
    success_message = "Payment recorded."

    def get_intro(self) -> str:
        return f"Balance due: {self.object.balance_due} {self.object.currency}."

    def is_valid(self, form: Any) -> bool:
        return form.is_valid() and not _backdating_refused(form, self.request.user)

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        return {
            "client": self.object.client,
            "allocations": [(self.object, None)],
            **_payment_kwargs(form.cleaned_data),
        }

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return _backdating_needed(form)

    def approval_summary(self, form: Any) -> str:
        return _money_summary(f"Payment to {self.object}", form, self.object.currency)


class InvoiceApplyCreditView(_InvoiceActionView):
    permission_required = "billing.add_creditentry"
    form_class = ApplyCreditForm
    title = "Apply credit to {invoice}"
    submit = "Apply credit"
    success_message = "Credit applied."

    def get_intro(self) -> str:
        invoice = self.object
        credit = services.credit_balance(invoice.client)
        return (
            f"Credit available: {credit} {invoice.currency}. "
            f"Balance due: {invoice.balance_due} {invoice.currency}."
        )

    def act(self, form: Any) -> Any:
        return services.apply_credit(
            invoice=self.object, amount=form.cleaned_data["amount"], actor=self.request.user
        )


# Transactions --------------------------------------------------------------------------------


class TransactionDetailView(
    StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView
):
    permission_required = "billing.view_transaction"
    template_name = "billing/transaction_detail.html"
    context_object_name = "txn"

    def get_crumbs(self) -> list[tuple[str, str]]:
        crumbs = [("Transactions", reverse("billing:transaction-list"))]
        if client := self.object.client:
            crumbs.append((client.full_name, client.get_absolute_url() + "?tab=transactions"))
        return crumbs

    def get_current_crumb(self) -> str:
        return f"#{self.object.pk}"

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


class RefundView(ReasonCodeMixin, FourEyesMixin, WriteView):
    permission_required = ("billing.add_transaction", "billing.refund_payment")
    approval_action = "billing.refund_payment"
    reason_codes = "billing.refund_payment"

    def reason_amount(self, form: Any) -> Decimal | None:
        return self.refund_amount(form)

    def reason_currency(self, form: Any) -> str:
        return self.object.currency

    form_class = RefundForm
    submit = "Refund"

    def get_object(self) -> Transaction:
        return get_object_or_404(
            Transaction.objects.select_related("client"), pk=self.kwargs["pk"], kind="payment"
        )

    def get_title(self) -> str:
        return f"Refund {self.object}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Transactions", reverse("billing:transaction-list")),
            (str(self.object), self.object.get_absolute_url()),
        ]

    def get_intro(self) -> str:
        payment = self.object
        return (
            f"Refundable: {services.refundable_amount(payment)} {payment.currency}. "
            "The refund is recorded as its own transaction; money is not sent by this system."
        )

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            "payment": self.object,
            "amount": data["amount"],
            "transaction_id": data["transaction_id"],
            "reason": data["reason"],
        }

    def refund_amount(self, form: Any) -> Decimal:
        typed = form.cleaned_data["amount"]
        return typed if typed is not None else services.refundable_amount(self.object)

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return thresholds.check(
            "billing.refund_payment",
            label="Refunds",
            amount=self.refund_amount(form),
            currency=self.object.currency,
        )

    def approval_summary(self, form: Any) -> str:
        payment = self.object
        return f"Refund {self.refund_amount(form)} {payment.currency} of {payment}"

    def get_success_message(self, result: Any) -> str:
        return f"Refund of {result.amount_out} recorded."

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class TransactionCreateView(FourEyesMixin, WriteView):
    """Money in or out without an invoice, for a client (from its profile) or none."""

    permission_required = "billing.add_transaction"
    approval_action = "billing.record_transaction"
    form_class = TransactionForm
    title = "Add a transaction"
    submit = "Record transaction"
    success_message = "Transaction recorded."

    def get_object(self) -> Client | None:
        pk = self.kwargs.get("client_pk")
        return get_object_or_404(Client, pk=pk) if pk else None

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"client": self.object}

    def get_back_url(self) -> str:
        if self.object:
            return self.object.get_absolute_url() + "?tab=transactions"
        return reverse("billing:transaction-list")

    def is_valid(self, form: Any) -> bool:
        return form.is_valid() and not _backdating_refused(form, self.request.user)

    def get_crumbs(self) -> list[tuple[str, str]]:
        if self.object:
            return [(self.object.full_name, self.object.get_absolute_url())]
        return [("Transactions", reverse("billing:transaction-list"))]

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        chosen = self.object or data.get("client")
        return {
            "direction": data["direction"],
            "amount": data["amount"],
            "gateway": data["gateway"],
            "date": data["date"],
            "description": data["description"],
            "currency": chosen.currency if chosen else data["currency"],
            "client": chosen,
            "fees": data["fees"] or Decimal(0),
            "transaction_id": data["transaction_id"],
            "allow_duplicate_id": data["allow_duplicate_id"],
            "reason": data["audit_reason"],
        }

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return _backdating_needed(form)

    def approval_summary(self, form: Any) -> str:
        kwargs = self.service_kwargs(form)
        what = "Money in" if kwargs["direction"] == "in" else "Money out"
        return _money_summary(what, form, kwargs["currency"])


# Per client: split payment, credit, billable items -------------------------------------------


class _ClientActionView(WriteView):
    tab = "invoices"

    def get_object(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["client_pk"])

    def get_title(self) -> str:
        return self.title.format(client=self.object.full_name)

    def get_back_url(self) -> str:
        return f"{self.object.get_absolute_url()}?tab={self.tab}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Clients", reverse("clients:client-list")),
            (self.object.full_name, self.object.get_absolute_url()),
        ]

    def get_success_url(self, result: Any) -> str:
        return self.get_back_url()


class SplitPaymentView(FourEyesMixin, _ClientActionView):
    permission_required = "billing.add_transaction"
    approval_action = "billing.record_payment"
    form_class = SplitPaymentForm
    template_name = "billing/split_payment.html"
    title = "Record a payment from {client}"
    submit = "Record payment"
    success_message = "Payment recorded."
    tab = "transactions"

    def get_form_kwargs(self) -> dict[str, Any]:
        invoices = self.object.invoices.payable().filter(balance__gt=0)
        return {"invoices": list(invoices.order_by("due_date", "id")[:SPLIT_LIMIT])}

    def is_valid(self, form: Any) -> bool:
        return form.is_valid() and not _backdating_refused(form, self.request.user)

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        return {
            "client": self.object,
            "allocations": form.allocations(),
            **_payment_kwargs(form.cleaned_data),
        }

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return _backdating_needed(form)

    def approval_summary(self, form: Any) -> str:
        return _money_summary(f"Payment from {self.object.full_name}", form, self.object.currency)

    def get_success_url(self, result: Any) -> str:
        return result.get_absolute_url()


class CreditView(ReasonCodeMixin, FourEyesMixin, _ClientActionView):
    permission_required = "billing.add_creditentry"
    form_class = CreditForm
    title = "Add or remove credit for {client}"
    success_message = "Credit updated."
    tab = "credit"

    def get_initial(self) -> dict[str, Any]:
        return {"action": "add"}

    def get_intro(self) -> str:
        return f"Current credit: {services.credit_balance(self.object)} {self.object.currency}."

    def is_valid(self, form: Any) -> bool:
        if not form.is_valid():
            return False
        adding = form.cleaned_data["action"] == "add"
        return not refuse_without(
            form,
            "action",
            self.request.user,
            "billing.add_credit" if adding else "billing.remove_credit",
            f"You do not have the right to {'add' if adding else 'remove'} credit.",
        )

    # One list for adding and removing: the report tells them apart by action.
    reason_codes = "billing.add_credit"

    def reason_amount(self, form: Any) -> Decimal | None:
        return form.cleaned_data["amount"]

    def reason_currency(self, form: Any) -> str:
        return self.object.currency

    @property
    def approval_action(self) -> str:  # set by what was typed: add or remove
        adding = self.request.POST.get("action", "add") == "add"
        return "billing.add_credit" if adding else "billing.remove_credit"

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {"client": self.object, "amount": data["amount"], "reason": data["reason"]}

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        if form.cleaned_data["action"] != "add":
            return None
        return thresholds.check(
            "billing.add_credit",
            label="Credit added",
            amount=form.cleaned_data["amount"],
            currency=self.object.currency,
        )

    def approval_summary(self, form: Any) -> str:
        amount = form.cleaned_data["amount"]
        return f"Add {amount} {self.object.currency} credit to {self.object.full_name}"


class BillableItemCreateView(_ClientActionView):
    permission_required = "billing.add_billableitem"
    form_class = BillableItemForm
    title = "Add a billable item for {client}"
    submit = "Add"
    tab = "credit"

    def get_form_kwargs(self) -> dict[str, Any]:
        self.choices = list(
            self.object.services.select_related("product").order_by("-id")[:PICK_LIMIT]
        )
        return {"services": self.choices}

    def act(self, form: Any) -> BillableItem:
        data = form.cleaned_data
        return services.add_billable_item(
            client=self.object,
            description=data["description"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            taxed=data["taxed"],
            service=next((s for s in self.choices if s.pk == data["service"]), None),
            invoice_now=data["invoice_now"],
            actor=self.request.user,
            reason=data["audit_reason"],
        )

    def get_success_message(self, result: BillableItem) -> str:
        if result.invoice_item_id:
            return "Charge invoiced."
        return "Charge queued for the next invoice."

    def get_success_url(self, result: BillableItem) -> str:
        if result.invoice_item_id:
            return result.invoice_item.invoice.get_absolute_url()
        return self.get_back_url()


class BillableItemDeleteView(PostOnlyWriteView):
    permission_required = "billing.delete_billableitem"
    success_message = "Charge removed from the queue."

    def get_object(self) -> BillableItem:
        return get_object_or_404(BillableItem, pk=self.kwargs["pk"])

    def get_back_url(self) -> str:
        return f"{self.object.client.get_absolute_url()}?tab=credit"

    def act_on(self, request: HttpRequest) -> Any:
        services.remove_billable_item(
            item=self.object, actor=request.user, reason=request.POST.get("reason", "")
        )
