"""Every change to invoices and money goes through here.

Each function is atomic, re-reads what it changes with ``select_for_update()``, validates with
``full_clean()``, raises ``ValidationError`` with a stable ``code`` and sends emails only after
commit. Money is ``Decimal`` throughout; totals are computed here, never taken from a form.

Lock order — the one order of the whole project (billing, orders and hosting services follow it,
``tests/billing/test_lock_order.py`` runs the pairs that meet):

0. an approval request (``approvals.services``), when a second person's approval runs a service;
1. the client;
2. its invoices, in id order;
3. service changes (``orders.ServiceChange``), in id order;
4. hosting records — accounts, then domains, then add-ons, each in id order;
5. the rest: billable items, the invoice series counter.

A service may skip a level but never goes back up one: whoever holds an invoice and needs the
client has locked the client first. Two services meeting on the same rows then queue instead
of deadlocking (cancelling an invoice while it is paid; withdrawing an upgrade while its
invoice is paid; paying a renewal while the account changes product).

The package, one module per aggregate; callers import from the package
(``from billing import services``), which re-exports every public name:

- ``invoices``: drafts (create, update, the editor's ``save_draft``, delete), publishing,
  cancel / collections / reopen, "mark paid";
- ``numbering``: invoice series and their gap-free numbers;
- ``lines``: invoice lines as entered (``LineData``), their taxes and totals;
- ``renewals``: the periods lines bill, records not billed yet, records moved on when paid;
- ``payments``: payments, other money in and out, refunds;
- ``credit``: the credit ledger, adding, removing and applying credit;
- ``allocations``: money counted against an invoice, which becomes Paid;
- ``billable``: billable items;
- ``emails``: the invoice email and the payment receipt;
- ``summary``: the client's billing figures;
- ``_shared``: the locks above, field errors, the invoice status change other apps act on.
"""

from billing.services.billable import add_billable_item, line_for_billable, remove_billable_item
from billing.services.credit import add_credit, apply_credit, credit_balance, remove_credit
from billing.services.emails import INVOICE_PDF, email_invoice, invoice_pdf_attachment
from billing.services.invoices import (
    change_invoice_status,
    create_invoice,
    delete_draft,
    mark_invoice_paid,
    publish_invoice,
    save_draft,
    update_draft,
)
from billing.services.lines import MAX_LINES, LineData, preview_totals, tax_rates_for
from billing.services.numbering import default_series
from billing.services.payments import (
    TRANSACTION_CONSTRAINTS,
    Refundable,
    gateway_choices,
    record_payment,
    record_transaction,
    refund_payment,
    refundable_amount,
)
from billing.services.renewals import line_for_addon, line_for_domain, line_for_service, unbilled
from billing.services.summary import summary_for

# What ``tax_rates_for`` returns, which callers compare against.
from billing.totals import TaxRates

__all__ = [
    "INVOICE_PDF",
    "MAX_LINES",
    "TRANSACTION_CONSTRAINTS",
    "LineData",
    "Refundable",
    "TaxRates",
    "add_billable_item",
    "add_credit",
    "apply_credit",
    "change_invoice_status",
    "create_invoice",
    "credit_balance",
    "default_series",
    "delete_draft",
    "email_invoice",
    "gateway_choices",
    "invoice_pdf_attachment",
    "line_for_addon",
    "line_for_billable",
    "line_for_domain",
    "line_for_service",
    "mark_invoice_paid",
    "preview_totals",
    "publish_invoice",
    "record_payment",
    "record_transaction",
    "refund_payment",
    "refundable_amount",
    "remove_billable_item",
    "remove_credit",
    "save_draft",
    "summary_for",
    "tax_rates_for",
    "unbilled",
    "update_draft",
]
