from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import BillableItem, Invoice, Transaction
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db

ALL = {ADMIN, BILLING, SUPPORT, READ_ONLY}
MONEY_STAFF = {ADMIN, BILLING}


def _line_post(**rows):
    """A POST for the invoice editor: header fields plus formset rows."""
    data = {
        "issue_date": "2026-11-01",
        "due_date": "2026-11-15",
        "public_notes": "",
        "private_notes": "",
        "audit_reason": "",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "1",
        "form-MAX_NUM_FORMS": "200",
    }
    lines = rows.pop("lines", [("Hosting", "1", "10.00")])
    data["form-TOTAL_FORMS"] = str(len(lines))
    for i, (description, quantity, price) in enumerate(lines):
        data[f"form-{i}-description"] = description
        data[f"form-{i}-quantity"] = quantity
        data[f"form-{i}-unit_price"] = price
        data[f"form-{i}-taxed"] = "on"
    data.update(rows)
    return data


@pytest.mark.parametrize("role", [ADMIN, BILLING, SUPPORT, READ_ONLY])
def test_billing_pages_allow_exactly_their_roles(role, client_as):
    customer = ClientFactory()
    invoice = make_invoice(customer)
    payment = pay(invoice, "10.00")
    draft = make_invoice(customer, publish=False)
    urls = {
        reverse("billing:invoice-list"): ALL,
        reverse("billing:invoice-detail", args=[invoice.pk]): ALL,
        reverse("billing:invoice-pdf", args=[invoice.pk]): ALL,
        reverse("billing:transaction-list"): ALL,
        reverse("billing:transaction-detail", args=[payment.pk]): ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=invoices": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=transactions": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=credit": ALL,
        reverse("billing:invoice-create") + f"?client={customer.pk}": MONEY_STAFF,
        reverse("billing:invoice-update", args=[draft.pk]): MONEY_STAFF,
        reverse("billing:invoice-publish", args=[draft.pk]): MONEY_STAFF,
        reverse("billing:invoice-delete", args=[draft.pk]): {ADMIN},  # deleting: Admins
        reverse("billing:payment-create", args=[invoice.pk]): MONEY_STAFF,
        reverse("billing:invoice-mark-paid", args=[invoice.pk]): MONEY_STAFF,
        reverse("billing:invoice-status", args=[invoice.pk, "cancelled"]): MONEY_STAFF,
        reverse("billing:refund-create", args=[payment.pk]): MONEY_STAFF,
        reverse("billing:client-payment-create", args=[customer.pk]): MONEY_STAFF,
        reverse("billing:credit-change", args=[customer.pk]): MONEY_STAFF,
        reverse("billing:billableitem-create", args=[customer.pk]): MONEY_STAFF,
        reverse("billing:transaction-create"): MONEY_STAFF,
    }
    http = client_as(role)
    for url, allowed in urls.items():
        response = http.get(url)
        assert response.status_code == (200 if role in allowed else 403), (url, role)


def test_support_cannot_record_a_payment(client_as):
    invoice = make_invoice()
    response = client_as(SUPPORT).post(
        reverse("billing:payment-create", args=[invoice.pk]),
        {"gateway": "cash", "date": "2026-11-24T10:00", "fees": "0"},
    )
    assert response.status_code == 403
    assert not Transaction.objects.exists()


def test_creating_an_invoice_from_the_form_computes_totals_on_the_server(staff_client):
    customer = ClientFactory()
    data = _line_post(client=customer.pk, lines=[("A", "1.5", "10.00"), ("B", "2", "2.50")])
    data["total"] = "0.01"  # anything the browser says about totals is ignored
    response = staff_client.post(reverse("billing:invoice-create"), data | {"action": "save"})
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response.url == invoice.get_absolute_url()
    assert invoice.total == D("20.00") and invoice.is_draft


def test_bad_lines_come_back_with_errors_and_the_input_and_save_nothing(staff_client):
    customer = ClientFactory()
    data = _line_post(client=customer.pk, lines=[("Setup", "-1", "abc")])
    response = staff_client.post(reverse("billing:invoice-create"), data | {"action": "publish"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="Setup"' in body and "is-invalid" in body
    assert not Invoice.objects.exists()


def test_add_line_keeps_what_was_typed_and_saves_nothing(staff_client):
    customer = ClientFactory()
    data = _line_post(client=customer.pk, lines=[("Typed line", "3", "4.00")])
    response = staff_client.post(reverse("billing:invoice-create"), data | {"action": "add_line"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="Typed line"' in body and 'id="id_form-1-description"' in body
    assert not Invoice.objects.exists()


def test_pulling_records_adds_lines_but_never_another_clients_records(staff_client):
    customer, other = ClientFactory(), ClientFactory()
    mine = services.add_billable_item(
        client=customer, description="Mine", unit_price=D("9"), actor=None
    )
    theirs = services.add_billable_item(
        client=other, description="Theirs", unit_price=D("9"), actor=None
    )
    data = _line_post(client=customer.pk, lines=[])
    data["form-TOTAL_FORMS"] = "0"
    data["pick"] = [f"billable:{mine.pk}", f"billable:{theirs.pk}"]
    response = staff_client.post(reverse("billing:invoice-create"), data | {"action": "pull"})
    body = response.content.decode()
    assert 'value="Mine"' in body and 'value="Theirs"' not in body


def test_a_refused_payment_keeps_the_input_and_shows_the_reason_error(staff_client):
    invoice = make_invoice()
    response = staff_client.post(
        reverse("billing:payment-create", args=[invoice.pk]),
        {"gateway": "cash", "date": "2020-01-01T10:00", "fees": "0", "transaction_id": "T-1"},
    )
    assert response.status_code == 400
    assert 'value="T-1"' in response.content.decode()
    assert response.context["form"].errors["audit_reason"]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("value", ["1e400", "NaN", "-0.001", "12345678901234"])
def test_silly_amounts_are_form_errors_not_500s(staff_client, value):
    invoice = make_invoice()
    response = staff_client.post(
        reverse("billing:payment-create", args=[invoice.pk]),
        {"amount": value, "gateway": "cash", "date": "2026-11-24T10:00", "fees": "0"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["amount"]


def test_split_payment_form_pays_two_invoices_and_credits_the_rest(staff_client):
    customer = ClientFactory()
    a, b = make_invoice(customer, lines=[("1", "10")]), make_invoice(customer, lines=[("1", "20")])
    response = staff_client.post(
        reverse("billing:client-payment-create", args=[customer.pk]),
        {
            "amount": "35.00",
            f"invoice_{a.pk}": "10.00",
            f"invoice_{b.pk}": "20.00",
            "gateway": "bank_transfer",
            "date": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "fees": "0",
        },
    )
    assert response.status_code == 302
    assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
    assert services.credit_balance(customer) == D("5.00")


def test_removing_a_queued_billable_item_from_the_profile(staff_client):
    item = services.add_billable_item(
        client=ClientFactory(), description="x", unit_price=D("1"), actor=None
    )
    response = staff_client.post(reverse("billing:billableitem-delete", args=[item.pk]))
    assert response.status_code == 302 and not BillableItem.objects.exists()


def test_pdf_downloads_as_an_attachment_named_after_the_number(staff_client):
    invoice = make_invoice()
    response = staff_client.get(reverse("billing:invoice-pdf", args=[invoice.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")


def test_script_in_a_line_is_shown_as_text(staff_client):
    invoice = make_invoice(
        lines=[services.LineData("<script>alert(1)</script>", D(1), D(1))], publish=False
    )
    body = staff_client.get(invoice.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


# Query counts --------------------------------------------------------------------------------


def _count(http, url):
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_invoice_list_and_client_tabs_run_a_constant_number_of_queries(
    staff_client, django_assert_max_num_queries
):
    customer = ClientFactory()
    for _ in range(3):
        pay(make_invoice(customer), "5.00")
    urls = [
        reverse("billing:invoice-list"),
        reverse("billing:invoice-list") + f"?status=unpaid&overdue=on&client={customer.pk}",
        reverse("billing:transaction-list"),
        customer.get_absolute_url() + "?tab=invoices",
        customer.get_absolute_url() + "?tab=transactions",
        customer.get_absolute_url() + "?tab=credit",
    ]
    few = [_count(staff_client, url) for url in urls]
    for _ in range(12):
        pay(make_invoice(customer), "5.00")
    assert [_count(staff_client, url) for url in urls] == few
    with django_assert_max_num_queries(16):
        staff_client.get(urls[1])


def test_invoice_detail_queries_do_not_grow_with_lines_and_payments(staff_client):
    small = make_invoice(lines=[("1", "100")])
    pay(small, "10")
    big = make_invoice(lines=[("1", "100")] * 20)
    for _ in range(8):
        pay(big, "10")
    assert _count(staff_client, small.get_absolute_url()) == _count(
        staff_client, big.get_absolute_url()
    )


@pytest.mark.parametrize("role", [ADMIN, BILLING, SUPPORT, READ_ONLY, "superuser"])
def test_the_admin_page_of_an_invoice_opens_for_whoever_may_view_invoices(role, client_as):
    invoice = make_invoice()
    pay(invoice, "40.00")  # a line and an allocation: both read-only inlines are drawn
    http = client_as(None, is_superuser=True) if role == "superuser" else client_as(role)
    response = http.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    allowed = response.wsgi_request.user.has_perm("billing.view_invoice")
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert invoice.number in response.content.decode()
