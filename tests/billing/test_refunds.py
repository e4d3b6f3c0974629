"""Issue 15 item 2: a payment refunds what is still on invoices or credit from it, never more.

Money from a payment sits on the invoices it paid, or in the client's credit (the overpaid part,
or what a cancelled invoice returned). A refund takes it back from there: off the credit first
(a ledger line), then off the invoices. Money that left both (spent credit) is not refundable.
"""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from billing import services
from billing.models import CreditEntry, CreditEntryEvent
from tests.factories.billing import make_invoice, pay

pytestmark = pytest.mark.django_db


def _code(exc_info) -> str:
    error = exc_info.value
    if hasattr(error, "error_dict"):
        return next(iter(error.error_dict.values()))[0].code
    return error.error_list[0].code


def _cancel_to_credit(invoice):
    return services.change_invoice_status(
        invoice=invoice, status="cancelled", actor=None, reason="Wrong plan", paid_to_credit=True
    )


def test_a_refund_after_cancel_to_credit_takes_the_money_back_off_the_credit():
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "60")
    _cancel_to_credit(invoice)
    customer = invoice.client
    assert services.credit_balance(customer) == D("60")
    assert services.refundable_amount(payment) == D("60")

    services.refund_payment(payment=payment, actor=None, reason="Client left")

    # Paid out once: the credit that held the money is gone with the refund.
    assert services.credit_balance(customer) == D("0")
    entry = CreditEntry.objects.filter(client=customer).order_by("-id").first()
    assert (entry.kind, entry.amount, entry.transaction.refund_of) == (
        "refunded",
        D("-60"),
        payment,
    )
    assert services.refundable_amount(payment) == D("0")
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, actor=None, reason="Again")
    assert _code(exc) == "fully_refunded"


def test_credit_from_a_cancelled_invoice_that_was_spent_cannot_be_refunded():
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "60")
    _cancel_to_credit(invoice)
    other = make_invoice(invoice.client, lines=[("1", "60")])
    services.apply_credit(invoice=other, actor=None)

    assert services.refundable_amount(payment) == D("0")
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, amount=D("60"), actor=None, reason="Client left")
    assert _code(exc) in {"fully_refunded", "over_refund"}


def test_the_overpaid_part_of_a_payment_can_be_refunded_from_credit():
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "120")
    assert services.refundable_amount(payment) == D("120")

    services.refund_payment(payment=payment, amount=D("20"), actor=None, reason="Overpaid")

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", D("100"))  # the credit went first
    assert services.credit_balance(invoice.client) == D("0")
    assert services.refundable_amount(payment) == D("100")
    services.refund_payment(payment=payment, actor=None, reason="Cancelled")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("refunded", D("0"))
    refunded = payment.refunds.aggregate(total=Sum("amount_out"))["total"]
    assert refunded == D("120")


def test_a_payment_refunds_at_most_what_it_brought_even_with_other_credit_on_the_account():
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "60")
    _cancel_to_credit(invoice)
    services.add_credit(client=invoice.client, amount=D("500"), reason="Goodwill", actor=None)
    assert services.refundable_amount(payment) == D("60")
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, amount=D("61"), actor=None, reason="x")
    assert _code(exc) == "over_refund"


def test_a_refund_from_credit_is_filed_under_the_refund_with_its_reason(staff_admin):
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice, "120")
    services.refund_payment(payment=payment, amount=D("20"), actor=staff_admin, reason="Overpaid")
    event = CreditEntryEvent.objects.filter(kind="refunded").select_related("pgh_context").get()
    assert event.amount == D("-20")
    metadata = event.pgh_context.metadata
    assert (metadata["action"], metadata["reason"], metadata["user"]) == (
        "billing.refund_payment",
        "Overpaid",
        staff_admin.pk,
    )


def test_cancel_to_credit_returns_each_payments_part_on_its_own_ledger_line(staff_admin):
    invoice = make_invoice(lines=[("1", "100")])
    first, second = pay(invoice, "30"), pay(invoice, "25")
    services.change_invoice_status(
        invoice=invoice,
        status="cancelled",
        actor=staff_admin,
        reason="Wrong plan",
        paid_to_credit=True,
    )
    returned = CreditEntry.objects.filter(kind="returned").order_by("id")
    assert [(e.transaction, e.amount) for e in returned] == [(first, D("30")), (second, D("25"))]
    events = CreditEntryEvent.objects.filter(kind="returned").select_related("pgh_context")
    assert {e.pgh_context.metadata["action"] for e in events} == {"billing.invoice_cancelled"}
    assert {e.pgh_context.metadata["reason"] for e in events} == {"Wrong plan"}
    assert services.refundable_amount(first) == D("30")
    assert services.refundable_amount(second) == D("25")
