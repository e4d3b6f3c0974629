"""Issue 15 item 3: one balance due, the same on the page, the PDF, the client tabs and the
dashboard.

What the client still owes on an invoice is total - paid while it can take money (or is a
draft being prepared); a Paid, Refunded or Cancelled invoice owes nothing. A partial refund on a
Paid invoice is money given back, not a new debt: the invoice shows it as refunded.
"""

import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing import services
from billing.models import Invoice
from billing.pdf import render_invoice_html
from tests.factories.billing import make_invoice, pay

pytestmark = pytest.mark.django_db


def _partly_refunded():
    invoice = make_invoice(lines=[("1", "99.99")])
    payment = pay(invoice)
    services.refund_payment(payment=payment, amount=D("49.99"), actor=None, reason="Downtime")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", D("50.00"))
    return invoice


def _part_paid():
    invoice = make_invoice(lines=[("1", "99.99")])
    pay(invoice, "50.00")
    invoice.refresh_from_db()
    return invoice


def _page_balance(staff_client, invoice) -> str:
    html = staff_client.get(invoice.get_absolute_url()).content.decode()
    return re.search(r'data-testid="balance">([\d.,-]+)', html).group(1)


def _pdf_balance(invoice) -> str:
    html = render_invoice_html(Invoice.objects.get(pk=invoice.pk))
    return re.search(r"Balance due</strong></td><td[^>]*><strong>([\d.,-]+)", html).group(1)


def _tab_due(staff_client, invoice) -> str:
    url = reverse("clients:client-detail", args=[invoice.client_id]) + "?tab=invoices"
    html = staff_client.get(url).content.decode()
    return re.search(r'Due \(\d+ unpaid\)</div><div class="fw-semibold">([\d.,-]+)', html).group(1)


def _dashboard_due(staff_client) -> str:
    html = staff_client.get(reverse("core:dashboard")).content.decode()
    found = re.search(r"Outstanding: ([\d.,-]+) GBP", html)
    return found.group(1) if found else "0.00"


def test_after_a_partial_refund_the_invoice_page_shows_nothing_due(staff_client):
    invoice = _partly_refunded()
    assert _page_balance(staff_client, invoice) == "0.00"
    assert invoice.balance_due == D("0.00")
    page = staff_client.get(invoice.get_absolute_url()).content.decode()
    assert re.search(r'data-testid="refunded">49.99', page)


def test_after_a_partial_refund_the_pdf_shows_the_same_balance_and_the_refund():
    invoice = _partly_refunded()
    assert _pdf_balance(invoice) == "0.00"
    assert "49.99" in render_invoice_html(invoice)


@pytest.mark.parametrize("history", [_partly_refunded, _part_paid])
def test_page_pdf_client_tab_and_dashboard_show_one_balance(staff_client, history):
    invoice = history()
    expected = str(invoice.balance_due)
    assert _page_balance(staff_client, invoice) == expected
    assert _pdf_balance(invoice) == expected
    assert _tab_due(staff_client, invoice) == expected
    assert _dashboard_due(staff_client) == expected
    assert services.summary_for(invoice.client)["due"] == invoice.balance_due


def test_the_balance_due_annotation_agrees_with_the_property_for_every_status():
    draft = make_invoice(lines=[("1", "10")], publish=False)
    unpaid = make_invoice(lines=[("1", "10")])
    paid = make_invoice(lines=[("1", "10")])
    pay(paid)
    cancelled = make_invoice(lines=[("1", "10")])
    services.change_invoice_status(invoice=cancelled, status="cancelled", actor=None, reason="x")
    refunded = _partly_refunded()
    rows = Invoice.objects.with_balance_due().filter(
        pk__in=[i.pk for i in (draft, unpaid, paid, cancelled, refunded)]
    )
    assert {i.pk: i.owed for i in rows} == {i.pk: i.balance_due for i in rows}
    assert {i.status: i.owed for i in rows} == {
        "draft": D("10.00"),
        "unpaid": D("10.00"),
        "paid": D("0.00"),
        "cancelled": D("0.00"),
    }
