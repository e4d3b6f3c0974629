"""Issue 15 item 7: every service takes its row locks in the one documented order (see the
docstring of ``billing/services/__init__.py``), so two staff acting on the same client at once
queue, never deadlock.

Each test runs a pair of services that meet on the same rows in two threads with their own
database connections. Every ``SELECT ... FOR UPDATE`` is followed by a short pause, so each side
holds its first lock while the other takes its own: two services that lock in opposite orders
then deadlock every time (PostgreSQL detects it and kills one), and services that lock in the
same order simply wait for each other.
"""

import contextlib
import datetime as dt
import time
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection

from billing import services
from billing.models import Invoice
from orders import services as orders
from orders.models import ServiceChange
from tests.billing.test_concurrency_and_guards import _run_in_parallel
from tests.factories.billing import make_invoice, pay
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import make_catalog

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_PAUSE = 0.4  # seconds; long enough for the other thread to take its first lock


@contextlib.contextmanager
def _slow_locks():
    def pause_after_locking(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "FOR UPDATE" in str(sql).upper():
            time.sleep(LOCK_PAUSE)
        return result

    with connection.execute_wrapper(pause_after_locking):
        yield


def _race(*calls, stagger: float = 0.0):
    """Run ``calls`` at once, the n-th one ``n * stagger`` seconds after the first (to decide
    which side takes its first lock first)."""

    def run(index, call):
        time.sleep(index * stagger)
        with _slow_locks():
            return call()

    return _run_in_parallel(run, list(enumerate(calls)))


def _assert_one_won_and_one_was_refused(outcomes):
    assert [o for o in outcomes if isinstance(o, DatabaseError)] == []  # no deadlock
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert isinstance(refused[0], ValidationError), refused


def _cancel_to_credit(invoice):
    return services.change_invoice_status(
        invoice=invoice, status="cancelled", actor=None, reason="Ordered twice", paid_to_credit=True
    )


def test_cancelling_an_invoice_to_credit_and_paying_it_at_once_do_not_deadlock():
    invoice = make_invoice(lines=[("1", "100")])
    pay(invoice, "40")

    outcomes = _race(lambda: _cancel_to_credit(invoice), lambda: pay(invoice, "60"))

    _assert_one_won_and_one_was_refused(outcomes)
    invoice.refresh_from_db()
    assert invoice.status in ("cancelled", "paid")


def test_cancelling_an_invoice_to_credit_and_refunding_its_payment_at_once_do_not_deadlock():
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "40")

    outcomes = _race(
        lambda: _cancel_to_credit(invoice),
        lambda: services.refund_payment(payment=payment, actor=None, reason="Client left"),
    )

    assert [o for o in outcomes if isinstance(o, Exception)] == []  # both can happen, in turn
    invoice.refresh_from_db()
    assert invoice.status == "cancelled"
    # Whatever came first, the 40 went back once: to the payer, or to credit and then the payer.
    assert services.credit_balance(invoice.client) == D("0")
    assert services.refundable_amount(payment) == D("0")


def _upgrade():
    catalog = make_catalog()
    service = ServiceFactory(
        product=catalog.basic,
        recurring_amount=D("5.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=15),
    )
    change = orders.change_service_product(
        service=service, product=catalog.pro, billing_cycle="monthly", actor=None
    )
    assert change.status == "pending" and change.invoice.status == "unpaid"
    return change


def test_withdrawing_an_upgrade_and_paying_its_invoice_at_once_do_not_deadlock():
    change = _upgrade()

    outcomes = _race(
        lambda: orders.withdraw_change(change=change, actor=None, reason="Client changed mind"),
        lambda: pay(change.invoice),
    )

    _assert_one_won_and_one_was_refused(outcomes)
    change.refresh_from_db()
    invoice = Invoice.objects.get(pk=change.invoice_id)
    assert (change.status, invoice.status) in {
        (ServiceChange.Status.WITHDRAWN, "cancelled"),
        (ServiceChange.Status.APPLIED, "paid"),
    }


def test_paying_a_renewal_and_changing_the_accounts_product_at_once_do_not_deadlock():
    catalog = make_catalog()
    service = ServiceFactory(
        product=catalog.basic,
        recurring_amount=D("5.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=15),
    )
    renewal = make_invoice(service.client, lines=[services.line_for_service(service)])

    # The payment takes the client first; the change must then wait for it, not lock the
    # account the payment's renewal needs.
    outcomes = _race(
        lambda: pay(renewal),
        lambda: orders.change_service_product(
            service=service, product=catalog.pro, billing_cycle="monthly", actor=None
        ),
        stagger=LOCK_PAUSE / 4,
    )

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    renewal.refresh_from_db()
    assert renewal.status == "paid"


def test_two_invoices_for_one_period_published_at_once_bill_it_once():
    service = ServiceFactory(
        billing_cycle="annually",
        recurring_amount=D("60.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=30),
    )
    drafts = [
        make_invoice(service.client, lines=[services.line_for_service(service)], publish=False)
        for _ in range(2)
    ]

    outcomes = _race(*(lambda d=d: services.publish_invoice(invoice=d, actor=None) for d in drafts))

    _assert_one_won_and_one_was_refused(outcomes)
    refused = next(o for o in outcomes if isinstance(o, Exception))
    assert refused.error_list[0].code == "period_already_billed"
    assert Invoice.objects.filter(status="unpaid").count() == 1
