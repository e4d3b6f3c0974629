"""Races between connections and the guards the database keeps whatever writes to it."""

import threading
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing import services
from billing.models import Invoice, InvoiceSeries, Transaction
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory


def _run_in_parallel(target, args_list):
    barrier = threading.Barrier(len(args_list))
    outcomes = []

    def run(*args):
        try:
            barrier.wait(timeout=20)
            outcomes.append(target(*args))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_publishes_get_twenty_consecutive_numbers():
    InvoiceSeries.objects.create(
        code="main", name="Main", number_format="INV-{number:06d}", is_default=True
    )
    customer = ClientFactory()
    drafts = [make_invoice(customer, publish=False) for _ in range(20)]

    outcomes = _run_in_parallel(
        lambda draft: services.publish_invoice(invoice=draft, actor=None), [(d,) for d in drafts]
    )

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 21)]  # no gap, no duplicate


@pytest.mark.django_db(transaction=True)
def test_two_payments_racing_on_one_invoice_never_over_settle_it():
    invoice = make_invoice(lines=[("1", "100.00")])

    outcomes = _run_in_parallel(lambda: pay(invoice, "70.00"), [(), ()])

    invoice.refresh_from_db()
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    # The second payment saw what the first left: 30 settles the invoice, 40 becomes credit.
    assert (invoice.amount_paid, invoice.status) == (D("100.00"), "paid")
    assert services.credit_balance(invoice.client) == D("40.00")
    assert sum(t.amount_in for t in Transaction.objects.all()) == D("140.00")


@pytest.mark.django_db(transaction=True)
def test_two_full_payments_racing_let_one_settle_and_refuse_the_other():
    invoice = make_invoice(lines=[("1", "100.00")])

    outcomes = _run_in_parallel(lambda: pay(invoice), [(), ()])

    refused = [o for o in outcomes if not isinstance(o, Transaction)]
    assert len(refused) == 1
    assert refused[0].error_list[0].code == "not_payable"
    invoice.refresh_from_db()
    assert invoice.amount_paid == D("100.00")


# Guards in the database (raw SQL, as psql or a careless admin would) -------------------------


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_raw_sql_cannot_change_a_published_invoices_amounts():
    invoice = make_invoice(lines=[("1", "100.00")])
    with pytest.raises(DatabaseError, match="cannot be edited"):
        _raw("UPDATE billing_invoice SET total = 1 WHERE id = %s", [invoice.pk])
    with pytest.raises(DatabaseError, match="return to draft"):
        _raw(
            "UPDATE billing_invoice SET status = 'draft', number = NULL, sequence = NULL "
            "WHERE id = %s",
            [invoice.pk],
        )
    with pytest.raises(DatabaseError, match="published invoice cannot change"):
        _raw("UPDATE billing_invoiceitem SET unit_price = 0 WHERE invoice_id = %s", [invoice.pk])
    with pytest.raises(DatabaseError):
        _raw("DELETE FROM billing_invoice WHERE id = %s", [invoice.pk])
    invoice.refresh_from_db()
    assert invoice.total == D("100.00")


@pytest.mark.django_db
def test_raw_sql_can_still_change_a_drafts_lines():
    draft = make_invoice(publish=False)
    _raw("UPDATE billing_invoiceitem SET description = 'x' WHERE invoice_id = %s", [draft.pk])
    _raw("UPDATE billing_invoice SET private_notes = 'ok' WHERE id = %s", [draft.pk])
    # The freeze is for published invoices only: a draft's rows really changed.
    draft.refresh_from_db()
    assert draft.private_notes == "ok"
    assert set(draft.items.values_list("description", flat=True)) == {"x"}


@pytest.mark.django_db
def test_raw_sql_cannot_delete_or_change_a_transaction():
    payment = pay(make_invoice())
    with pytest.raises(DatabaseError):
        _raw("DELETE FROM billing_transaction WHERE id = %s", [payment.pk])
    with pytest.raises(DatabaseError):
        _raw("UPDATE billing_transaction SET amount_in = 1 WHERE id = %s", [payment.pk])
    with pytest.raises(DatabaseError):
        _raw("DELETE FROM billing_allocation WHERE transaction_id = %s", [payment.pk])
    assert Transaction.objects.filter(pk=payment.pk).exists()


@pytest.mark.django_db
def test_raw_sql_cannot_take_a_clients_credit_below_zero():
    customer = ClientFactory()
    with pytest.raises(DatabaseError, match="below zero"):
        _raw(
            "INSERT INTO billing_creditentry (client_id, kind, currency, amount, description, "
            "created_at) VALUES (%s, 'removed', 'GBP', -5, 'sneaky', %s)",
            [customer.pk, timezone.now()],
        )


@pytest.mark.django_db
def test_an_invoice_cannot_be_paid_beyond_its_total_even_by_raw_sql():
    invoice = make_invoice(lines=[("1", "10.00")])
    with pytest.raises(DatabaseError):
        _raw("UPDATE billing_invoice SET amount_paid = 11 WHERE id = %s", [invoice.pk])
