"""Billing: invoice and transaction lists, the client's billing tabs, and publishing and
paying an invoice through the forms (audited and with the capture triggers off)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from benchmarks.measure import alternate, set_capture_triggers, summarise
from benchmarks.scenarios.bench import Bench, deeper, row


def run(b: Bench) -> list[dict]:
    admin_change = b.shared["admin_change"]
    inv_1 = b.time("invoice list p1", "/billing/invoices/")
    inv_deep = b.time("invoice list p1000", "/billing/invoices/?page=1000")
    inv_f = b.time(
        "invoice list filtered",
        "/billing/invoices/?status=unpaid&due_from=2025-01-01&due_to=2025-12-31&total_min=100",
    )
    inv_overdue = b.time("invoices overdue", "/billing/invoices/?overdue=on")
    inv_number = b.time("invoice number", "/billing/invoices/?number=BENCH-0012")
    admin_inv = b.time("admin invoices", "/admin/billing/invoice/")
    admin_inv_f = b.time("admin invoices filtered", "/admin/billing/invoice/?status__exact=unpaid")
    txn_1 = b.time("transaction list p1", "/billing/transactions/")
    txn_f = b.time(
        "transactions filtered",
        "/billing/transactions/?gateway=paypal&date_from=2025-06-01&date_to=2026-06-01",
    )
    txn_id = b.time("transaction id", "/billing/transactions/?transaction_id=BTX123456")
    admin_txn = b.time("admin transactions", "/admin/billing/transaction/")
    tab_inv = b.time("billing tab invoices", b.busy + "?tab=invoices")
    tab_txn = b.time("billing tab transactions", b.busy + "?tab=transactions")
    tab_credit = b.time("billing tab credit", b.busy + "?tab=credit")
    publish_on, publish_off = _publish_and_pay(b.http, b.iterations, triggers_for_billing)
    return [
        row("Invoices, page 1", inv_1, admin_inv),
        row("Invoices, page 1,000", inv_deep, admin_inv, deeper(inv_deep, inv_1)),
        row("Invoices, status+due+amount", inv_f, admin_inv_f),
        row("Invoices, overdue", inv_overdue, admin_inv_f),
        row("Invoices, number prefix", inv_number, admin_inv),
        row("Transactions, page 1", txn_1, admin_txn),
        row("Transactions, gateway+dates", txn_f, admin_txn),
        row("Transactions, by ID", txn_id, admin_txn),
        row("Client tab: invoices", tab_inv, admin_change),
        row("Client tab: transactions", tab_txn, admin_change),
        row("Client tab: credit", tab_credit, admin_change),
        row("Publish + pay via forms", publish_on, publish_off, "baseline: audit triggers off"),
    ]


BILLING_TABLES = (
    "billing_invoice",
    "billing_invoicecounter",
    "billing_transaction",
    "billing_allocation",
    "billing_creditentry",
)


def triggers_for_billing(enabled: bool) -> None:
    set_capture_triggers(BILLING_TABLES, enabled)


def _publish_and_pay(http, iterations: int, triggers) -> tuple[dict, dict]:
    """Publish a draft and record its full payment through the web forms, audit on vs off."""
    from django.utils import timezone

    from billing import services
    from clients.models import Client

    customer = Client.objects.order_by("id")[5]
    today = timezone.localdate()

    def draft() -> int:
        invoice = services.create_invoice(
            client=customer,
            lines=[services.LineData("Bench line", Decimal(1), Decimal("10.00"))],
            issue_date=today,
            due_date=today,
            actor=None,
        )
        return invoice.pk

    def publish_and_pay(pk: int) -> None:
        r1 = http.post(f"/billing/invoices/{pk}/publish/", {})
        r2 = http.post(
            f"/billing/invoices/{pk}/payment/",
            {
                "gateway": "cash",
                "date": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                "fees": "0",
            },
        )
        if r1.status_code != 302 or r2.status_code != 302:
            raise RuntimeError(f"publish/pay answered {r1.status_code}/{r2.status_code}")

    def step(_i: int, _audited: bool) -> Callable[[], None]:
        pk = draft()
        return lambda: publish_and_pay(pk)

    on_samples, off_samples = alternate(iterations, triggers, step)
    return summarise("publish+pay audited", on_samples), summarise("publish+pay off", off_samples)
