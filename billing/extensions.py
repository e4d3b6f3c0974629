"""What billing registers (``core/extension_points.py``): the client profile's Invoices,
Transactions and Credit tabs, the currency lock, notes about invoices, the dashboard panel, the
timeline's invoices and payments, the sidebar's Invoices and Transactions sections and the
invoice PDF attached to emails."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import BillableItem, CreditEntry, Invoice, Transaction
from clients.models import Client
from clients.timeline import in_bulk
from core.extension_points import (
    ApprovalAction,
    CurrencyLock,
    DashboardPanel,
    EmailAttachmentSource,
    NavSection,
    NoteSubject,
    ProfileTab,
    Reverter,
    TimelineSource,
    cached_figures,
    register,
)

TAB_LIMIT = 50


def _invoices(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    rows = Invoice.objects.filter(client=client).order_by("-id")[:TAB_LIMIT]
    return {"invoices": list(rows), "billing": services.summary_for(client)}


def _transactions(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    rows = Transaction.objects.filter(client=client).order_by("-id")[:TAB_LIMIT]
    return {"transactions": list(rows), "billing": services.summary_for(client)}


def _credit(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    entries = CreditEntry.objects.filter(client=client).select_related("invoice", "created_by")
    queued = BillableItem.objects.filter(client=client, invoice_item__isnull=True)
    return {
        "credit_entries": list(entries.order_by("-id")[:TAB_LIMIT]),
        "billable_items": list(queued.select_related("service").order_by("-id")[:TAB_LIMIT]),
        "billing": services.summary_for(client),
    }


register(
    ProfileTab(
        "invoices",
        "Invoices",
        "billing.view_invoice",
        "billing/includes/_tab_invoices.html",
        _invoices,
    ),
    ProfileTab(
        "transactions",
        "Transactions",
        "billing.view_transaction",
        "billing/includes/_tab_transactions.html",
        _transactions,
    ),
    ProfileTab(
        "credit",
        "Credit & billable items",
        "billing.view_creditentry",
        "billing/includes/_tab_credit.html",
        _credit,
    ),
)


def _has_invoices(*, client: Client) -> str:
    # Fixed at the first invoice: its totals, taxes and payments are in that currency.
    return "the client has invoices" if client.invoices.exists() else ""


register(
    CurrencyLock("billing.invoices", _has_invoices),
    NoteSubject(
        "billing.invoice",
        lambda *, client, user: client.invoices.exclude(status="draft").order_by("-id"),
        limit=TAB_LIMIT,
    ),
)


def _dashboard(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    today = timezone.localdate()
    figures = cached_figures(f"billing:{today.isoformat()}", lambda: _figures(today))
    overdue = Invoice.objects.overdue(today).select_related("client").order_by("due_date", "id")[:8]
    return {
        "invoice_counts": figures["counts"],
        "overdue_invoices": list(overdue),
        "due_by_currency": figures["due_by_currency"],
        "today": today,
    }


def _figures(today: Any) -> dict[str, Any]:
    # Separate counts, each answered from an index (one aggregate would read every invoice); the
    # total per currency from billing_invoice_owed_idx alone (an index-only scan).
    return {
        "counts": {
            "unpaid": Invoice.objects.payable().count(),
            "overdue": Invoice.objects.overdue(today).count(),
            "drafts": Invoice.objects.filter(status=Invoice.Status.DRAFT).count(),
        },
        "due_by_currency": list(
            Invoice.objects.payable()
            .with_balance_due()
            .values("currency")
            .annotate(outstanding=Sum("owed"))
            .order_by("currency")
        ),
    }


# The client timeline: invoices (dated when entered) and money in and out; the dashboard, the
# sidebar, and the invoice PDF attached to emails.
register(
    TimelineSource(
        "invoice",
        "Invoices",
        "billing.view_invoice",
        lambda *, client, user: Invoice.objects.filter(client=client),
        "created_at",
        in_bulk(Invoice.objects.all()),
        "billing/timeline/_invoice.html",
    ),
    TimelineSource(
        "payment",
        "Payments",
        "billing.view_transaction",
        lambda *, client, user: Transaction.objects.filter(client=client),
        "date",
        in_bulk(Transaction.objects.all()),
        "billing/timeline/_payment.html",
    ),
    DashboardPanel(
        "billing", "billing.view_invoice", "billing/includes/_dashboard.html", _dashboard
    ),
    NavSection("invoices", "Invoices", "billing:invoice-list", "billing.view_invoice"),
    NavSection(
        "transactions", "Transactions", "billing:transaction-list", "billing.view_transaction"
    ),
    EmailAttachmentSource(services.INVOICE_PDF, services.invoice_pdf_attachment),
)


# What can wait for a second person (approvals): the services themselves, run with the maker
# as the actor once approved.
register(
    ApprovalAction(
        "billing.refund_payment",
        "Refund a payment",
        services.refund_payment,
        labels=(("payment", "Payment"), ("transaction_id", "Refund transaction ID")),
    ),
    ApprovalAction("billing.add_credit", "Add credit", services.add_credit),
    ApprovalAction("billing.remove_credit", "Remove credit", services.remove_credit),
    ApprovalAction(
        "billing.mark_invoice_paid", "Mark paid without a payment", services.mark_invoice_paid
    ),
    ApprovalAction(
        "billing.record_payment",
        "Record a payment",
        services.record_payment,
        labels=(("allocations", "Invoices (amount; blank: the balance)"),),
    ),
    ApprovalAction(
        "billing.record_transaction", "Record a transaction", services.record_transaction
    ),
)


# The trail's Revert (``audit/revert.py``) never sets money or a published invoice back: each
# says what to do instead. Money moves by new rows (a refund, credit), a sent invoice by its
# status (cancel, then reopen or bill again), a draft by its editor.


def _invoice_of(record: Any) -> Invoice:
    return record if isinstance(record, Invoice) else record.invoice


def _refuse_invoice(*, record: Any, values: Any) -> str:
    invoice = _invoice_of(record)
    if invoice.status == Invoice.Status.DRAFT:
        return "A draft invoice is changed in its editor, where the totals are worked out again."
    return (
        f"Invoice {invoice} is published ({invoice.get_status_display()}): what the client was "
        "sent is not rewritten."
    )


def _instead_invoice(*, record: Any) -> tuple[str, str]:
    invoice = _invoice_of(record)
    if invoice.status == Invoice.Status.DRAFT:
        return "Edit the draft invoice.", reverse("billing:invoice-update", args=[invoice.pk])
    return (
        "Cancel the invoice (its payments go back to credit or are refunded) and bill again, "
        "or reopen a cancelled one; refund a payment that was wrong.",
        invoice.get_absolute_url(),
    )


def _instead_transaction(*, record: Transaction) -> tuple[str, str]:
    return (
        "Money entries are not reverted: refund the payment (its own entry, with a reason).",
        reverse("billing:refund-create", args=[record.pk]),
    )


def _instead_credit(*, record: Any) -> tuple[str, str]:
    return (
        "Credit is not reverted: add or remove credit on the client's Credit tab, with a reason.",
        reverse("billing:credit-change", args=[record.client_id]),
    )


def _instead_allocation(*, record: Any) -> tuple[str, str]:
    return (
        "An allocation moves money: refund the payment or cancel the invoice instead.",
        record.invoice.get_absolute_url(),
    )


register(
    Reverter("billing.invoice", refuse=_refuse_invoice, instead=_instead_invoice),
    Reverter("billing.invoiceitem", refuse=_refuse_invoice, instead=_instead_invoice),
    Reverter("billing.transaction", instead=_instead_transaction),
    Reverter("billing.creditentry", instead=_instead_credit),
    Reverter("billing.allocation", instead=_instead_allocation),
)
