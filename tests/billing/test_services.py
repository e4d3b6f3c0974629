import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services
from billing.models import (
    BillableItem,
    CreditEntry,
    Invoice,
    InvoiceEvent,
    InvoiceSeries,
    Transaction,
)
from clients import services as client_services
from clients.models import EmailLog
from tests.factories.billing import TaxRuleFactory, line, make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _code(exc_info) -> str:
    return (
        exc_info.value.error_list[0].code
        if not hasattr(exc_info.value, "error_dict")
        else (next(iter(exc_info.value.error_dict.values()))[0].code)
    )


# Drafts and totals ---------------------------------------------------------------------------


def test_invoice_is_in_the_clients_currency_and_taxed_by_its_rules(staff_admin):
    TaxRuleFactory(rate=D("20"))
    customer = ClientFactory(currency="EUR", country="GB")
    invoice = make_invoice(customer, lines=[("2", "10.00"), ("1", "5.00")], publish=False)
    assert invoice.currency == "EUR"
    assert (invoice.subtotal, invoice.tax1_amount, invoice.total) == (D("25"), D("5"), D("30"))
    assert invoice.tax1_name == "VAT" and invoice.number is None


def test_the_most_specific_tax_rule_wins_and_exempt_clients_pay_none():
    TaxRuleFactory(country="", rate=D("10"), name="Default")
    TaxRuleFactory(country="CA", rate=D("5"), name="GST")
    TaxRuleFactory(
        level=2, country="CA", region="Quebec", rate=D("9.975"), name="QST", compound=True
    )
    quebec = ClientFactory(country="CA", state="quebec")
    assert services.tax_rates_for(quebec) == services.TaxRates(
        "GST", D("5"), "QST", D("9.975"), True
    )
    assert services.tax_rates_for(ClientFactory(country="FR")).tax1_name == "Default"
    assert (
        services.tax_rates_for(ClientFactory(country="CA", tax_exempt=True)) == services.TaxRates()
    )


def test_an_invoice_needs_lines_and_a_due_date_after_issue():
    customer = ClientFactory()
    with pytest.raises(ValidationError) as exc:
        services.create_invoice(
            client=customer,
            lines=[],
            issue_date=dt.date(2026, 1, 1),
            due_date=dt.date(2026, 1, 2),
            actor=None,
        )
    assert _code(exc) == "no_lines"
    with pytest.raises(ValidationError) as exc:
        services.create_invoice(
            client=customer,
            lines=[line()],
            issue_date=dt.date(2026, 1, 2),
            due_date=dt.date(2026, 1, 1),
            actor=None,
        )
    assert _code(exc) == "due_before_issue"
    assert not Invoice.objects.exists()


def test_a_negative_total_is_refused():
    with pytest.raises(ValidationError) as exc:
        make_invoice(lines=[("1", "-5.00")], publish=False)
    assert _code(exc) == "negative"


def test_the_clients_currency_is_fixed_at_its_first_invoice(staff_admin):
    customer = ClientFactory(currency="GBP")
    client_services.validate_currency_change(client=customer, new_currency="EUR")  # no invoice yet
    make_invoice(customer, publish=False)
    with pytest.raises(ValidationError) as exc:
        client_services.validate_currency_change(client=customer, new_currency="EUR")
    assert exc.value.code == "currency_locked"


def test_a_draft_can_be_edited_and_deleted_and_gives_its_billable_items_back(staff_admin):
    customer = ClientFactory()
    item = services.add_billable_item(
        client=customer, description="Migration", unit_price=D("40"), actor=staff_admin
    )
    draft = make_invoice(customer, lines=[services.line_for_billable(item)], publish=False)
    item.refresh_from_db()
    assert item.invoice_item is not None
    services.update_draft(
        invoice=draft,
        lines=[line(unit_price="12.50")],
        issue_date=draft.issue_date,
        due_date=draft.due_date,
        actor=staff_admin,
    )
    draft.refresh_from_db()
    assert draft.total == D("12.50")
    assert BillableItem.objects.get().invoice_item is None  # off the draft: queued again
    services.delete_draft(invoice=draft, actor=staff_admin)
    assert not Invoice.objects.exists()


# Publishing ----------------------------------------------------------------------------------


def test_publishing_numbers_invoices_in_sequence_with_the_series_format(staff_admin):
    InvoiceSeries.objects.create(
        code="main", name="Main", number_format="INV-{year}-{number:06d}", is_default=True
    )
    first = make_invoice(issue_date=dt.date(2026, 3, 1))
    draft = make_invoice(publish=False)
    second = make_invoice(issue_date=dt.date(2026, 3, 2))
    assert (first.number, second.number) == ("INV-2026-000001", "INV-2026-000002")
    services.delete_draft(invoice=draft, actor=staff_admin)  # drafts never use a number
    assert make_invoice(issue_date=dt.date(2026, 3, 3)).number == "INV-2026-000003"


def test_a_yearly_series_restarts_each_year():
    InvoiceSeries.objects.create(
        code="y",
        name="Yearly",
        number_format="{year}/{number}",
        reset_yearly=True,
        is_default=True,
    )
    assert make_invoice(issue_date=dt.date(2025, 12, 31)).number == "2025/1"
    assert make_invoice(issue_date=dt.date(2026, 1, 1)).number == "2026/1"
    assert make_invoice(issue_date=dt.date(2026, 1, 2)).number == "2026/2"


@pytest.mark.parametrize(
    "fmt", ["INV-{year}", "{number.__class__}", "{number}{secret}", "{number", "{year}-{number:q}"]
)
def test_a_series_format_must_be_safe_and_contain_the_number(fmt):
    series = InvoiceSeries(code="x", name="X", number_format=fmt)
    with pytest.raises(ValidationError) as exc:
        series.full_clean()
    assert "number_format" in exc.value.error_dict


def test_a_published_invoice_cannot_be_edited_deleted_or_published_again(staff_admin):
    invoice = make_invoice()
    for call in (
        lambda: services.update_draft(
            invoice=invoice,
            lines=[line()],
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            actor=staff_admin,
        ),
        lambda: services.delete_draft(invoice=invoice, actor=staff_admin),
        lambda: services.publish_invoice(invoice=invoice, actor=staff_admin),
    ):
        with pytest.raises(ValidationError) as exc:
            call()
        assert _code(exc) == "not_draft"


def test_publish_and_email_sends_the_pdf_after_commit_and_logs_it(
    staff_admin, django_capture_on_commit_callbacks
):
    customer = ClientFactory(email="ada@example.com", billing_email="accounts@example.com")
    draft = make_invoice(customer, publish=False)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = services.publish_invoice(invoice=draft, actor=staff_admin, send_email=True)
        assert mail.outbox == []  # nothing leaves before the commit
    message = mail.outbox[0]
    assert message.to == ["accounts@example.com"]
    name, content, mime = message.attachments[0]
    assert (name, mime) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    log = EmailLog.objects.get(kind=EmailLog.Kind.INVOICE)
    assert log.status == EmailLog.Status.SENT and log.attachments == f"{invoice.number}.pdf"


def test_a_zero_invoice_is_paid_when_published():
    assert make_invoice(lines=[("1", "0.00")]).status == Invoice.Status.PAID


# Status changes ------------------------------------------------------------------------------


def test_cancelling_needs_a_reason_and_follows_the_transitions(staff_admin):
    invoice = make_invoice()
    with pytest.raises(ValidationError) as exc:
        services.change_invoice_status(
            invoice=invoice, status="cancelled", actor=staff_admin, reason=" "
        )
    assert _code(exc) == "reason_required"
    services.change_invoice_status(
        invoice=invoice, status="cancelled", actor=staff_admin, reason="Ordered twice"
    )
    with pytest.raises(ValidationError) as exc:
        services.change_invoice_status(
            invoice=invoice, status="collections", actor=staff_admin, reason="x"
        )
    assert _code(exc) == "invalid_transition"


def test_cancelling_a_part_paid_invoice_returns_the_money_to_credit(staff_admin):
    invoice = make_invoice(lines=[("1", "100.00")])
    pay(invoice, "30.00")
    with pytest.raises(ValidationError) as exc:
        services.change_invoice_status(
            invoice=invoice, status="cancelled", actor=staff_admin, reason="Wrong plan"
        )
    assert _code(exc) == "has_payments"
    services.change_invoice_status(
        invoice=invoice,
        status="cancelled",
        actor=staff_admin,
        reason="Wrong plan",
        paid_to_credit=True,
    )
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert services.credit_balance(invoice.client) == D("30.00")


def test_marking_paid_without_money_needs_a_reason(staff_admin):
    invoice = make_invoice()
    with pytest.raises(ValidationError) as exc:
        services.mark_invoice_paid(invoice=invoice, actor=staff_admin, reason="")
    assert _code(exc) == "reason_required"
    services.mark_invoice_paid(invoice=invoice, actor=staff_admin, reason="Paid in kind")
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_without_payment


# Payments ------------------------------------------------------------------------------------


def test_part_payments_then_the_rest_settle_the_invoice(staff_admin):
    invoice = make_invoice(lines=[("1", "100.00")])
    pay(invoice, "40.00", actor=staff_admin)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance) == ("unpaid", D("60.00"))
    pay(invoice, actor=staff_admin)  # blank amount: the balance
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance, invoice.amount_paid) == ("paid", 0, D("100.00"))
    assert invoice.paid_at is not None


def test_an_overpayment_becomes_credit():
    invoice = make_invoice(lines=[("1", "100.00")])
    pay(invoice, "120.00")
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount) == ("overpayment", D("20.00"))
    assert services.credit_balance(invoice.client) == D("20.00")


def test_one_payment_split_across_invoices_of_the_same_client():
    customer = ClientFactory()
    a, b = make_invoice(customer, lines=[("1", "50")]), make_invoice(customer, lines=[("1", "80")])
    payment = services.record_payment(
        client=customer,
        allocations=[(a, None), (b, D("30"))],
        amount=D("80"),
        gateway="bank_transfer",
        date=timezone.now(),
        actor=None,
    )
    a.refresh_from_db(), b.refresh_from_db()
    assert (a.status, b.balance) == ("paid", D("50"))
    assert payment.amount_in == D("80") and payment.allocations.count() == 2


def test_a_payment_cannot_cover_another_clients_invoice_or_exceed_a_balance():
    invoice, other = make_invoice(lines=[("1", "50")]), make_invoice()
    with pytest.raises(ValidationError) as exc:
        services.record_payment(
            client=invoice.client,
            allocations=[(other, None)],
            gateway="cash",
            date=timezone.now(),
            actor=None,
        )
    assert _code(exc) == "wrong_client"
    with pytest.raises(ValidationError) as exc:
        services.record_payment(
            client=invoice.client,
            allocations=[(invoice, D("60"))],
            gateway="cash",
            date=timezone.now(),
            actor=None,
        )
    assert _code(exc) == "over_allocation"
    assert not Transaction.objects.exists()


def test_a_paid_or_cancelled_invoice_takes_no_payment():
    invoice = make_invoice()
    pay(invoice)
    with pytest.raises(ValidationError) as exc:
        pay(invoice, "1.00")
    assert _code(exc) == "not_payable"


def test_transaction_ids_are_unique_per_gateway_unless_allowed_with_a_reason():
    customer = ClientFactory()
    a, b, c = (make_invoice(customer) for _ in range(3))
    pay(a, "10", transaction_id="TX-1")
    pay(b, "10", transaction_id="TX-1", gateway="paypal")  # another gateway: fine
    with pytest.raises(ValidationError) as exc:
        pay(c, "10", transaction_id="TX-1")
    assert _code(exc) == "duplicate_transaction_id"
    with pytest.raises(ValidationError) as exc:
        pay(c, "10", transaction_id="TX-1", allow_duplicate_id=True)
    assert _code(exc) == "reason_required"
    pay(c, "10", transaction_id="TX-1", allow_duplicate_id=True, reason="Bank split the batch")
    assert Transaction.objects.filter(transaction_id="TX-1").count() == 3


def test_backdated_payments_are_flagged_and_need_a_reason_and_future_ones_are_refused():
    invoice = make_invoice()
    yesterday = timezone.now() - dt.timedelta(days=1)
    kwargs = {
        "client": invoice.client,
        "allocations": [(invoice, D("10"))],
        "gateway": "cash",
        "actor": None,
    }
    with pytest.raises(ValidationError) as exc:
        services.record_payment(date=yesterday, **kwargs)
    assert _code(exc) == "reason_required"
    payment = services.record_payment(date=yesterday, reason="Cheque banked Friday", **kwargs)
    assert payment.backdated
    with pytest.raises(ValidationError) as exc:
        services.record_payment(date=timezone.now() + dt.timedelta(days=2), **kwargs)
    assert _code(exc) == "future_date"


def test_fees_cannot_exceed_the_amount():
    invoice = make_invoice()
    with pytest.raises(ValidationError) as exc:
        pay(invoice, "10", fees=D("11"))
    assert _code(exc) == "fees_exceed_amount"


def test_a_receipt_goes_out_only_when_asked_and_after_commit(django_capture_on_commit_callbacks):
    invoice = make_invoice()
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice, "10")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice, "10", send_receipt=True)
    assert len(mail.outbox) == 1 and "Payment received" in mail.outbox[0].subject
    assert EmailLog.objects.filter(kind=EmailLog.Kind.RECEIPT).count() == 1


def test_every_payment_write_is_in_the_audit_trail_with_its_reason(staff_admin):
    invoice = make_invoice(actor=staff_admin)
    services.mark_invoice_paid(invoice=invoice, actor=staff_admin, reason="Settled by barter")
    event = InvoiceEvent.objects.filter(pgh_obj_id=invoice.pk, status="paid").get()
    assert event.pgh_context.metadata["reason"] == "Settled by barter"
    assert event.pgh_context.metadata["action"] == "billing.mark_invoice_paid"


# Transactions, credit, refunds ---------------------------------------------------------------


def test_money_in_or_out_without_an_invoice():
    row = services.record_transaction(
        direction="out",
        amount=D("12.00"),
        gateway="bank_transfer",
        date=timezone.now(),
        description="Bank charges",
        currency="GBP",
        actor=None,
    )
    assert (row.kind, row.amount_out, row.amount_in, row.client) == ("expense", D("12"), 0, None)
    with pytest.raises(ValidationError) as exc:
        services.record_transaction(
            direction="in",
            amount=D("0"),
            gateway="cash",
            date=timezone.now(),
            description="x",
            currency="GBP",
            actor=None,
        )
    assert _code(exc) == "not_positive"


def test_credit_is_a_ledger_with_a_reason_and_never_below_zero(staff_admin):
    customer = ClientFactory()
    with pytest.raises(ValidationError) as exc:
        services.add_credit(client=customer, amount=D("10"), reason="", actor=staff_admin)
    assert _code(exc) == "reason_required"
    services.add_credit(client=customer, amount=D("25"), reason="Goodwill", actor=staff_admin)
    services.remove_credit(client=customer, amount=D("5"), reason="Typo", actor=staff_admin)
    assert services.credit_balance(customer) == D("20")
    with pytest.raises(ValidationError) as exc:
        services.remove_credit(client=customer, amount=D("21"), reason="x", actor=staff_admin)
    assert _code(exc) == "insufficient_credit"


def test_applying_credit_pays_as_much_as_fits(staff_admin):
    customer = ClientFactory()
    services.add_credit(client=customer, amount=D("150"), reason="Promo", actor=staff_admin)
    invoice = make_invoice(customer, lines=[("1", "100")])
    services.apply_credit(invoice=invoice, actor=staff_admin)
    invoice.refresh_from_db()
    assert invoice.status == "paid" and services.credit_balance(customer) == D("50")
    other = make_invoice(customer, lines=[("1", "100")])
    with pytest.raises(ValidationError) as exc:
        services.apply_credit(invoice=other, amount=D("60"), actor=staff_admin)
    assert _code(exc) == "insufficient_credit"


def test_a_full_refund_makes_the_invoice_refunded_and_a_partial_one_does_not(staff_admin):
    invoice = make_invoice(lines=[("1", "100")])
    payment = pay(invoice)
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, amount=D("10"), actor=staff_admin, reason="")
    assert _code(exc) == "reason_required"
    refund = services.refund_payment(
        payment=payment, amount=D("40"), actor=staff_admin, reason="Downtime"
    )
    invoice.refresh_from_db()
    assert (refund.kind, refund.amount_out, refund.refund_of) == ("refund", D("40"), payment)
    assert (invoice.status, invoice.amount_paid) == ("paid", D("60"))
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, amount=D("61"), actor=staff_admin, reason="x")
    assert _code(exc) == "over_refund"
    services.refund_payment(payment=payment, actor=staff_admin, reason="Cancelled")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("refunded", 0)
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=payment, actor=staff_admin, reason="again")
    assert _code(exc) == "fully_refunded"


def test_a_refund_of_a_split_payment_comes_off_each_invoice():
    customer = ClientFactory()
    a, b = make_invoice(customer, lines=[("1", "50")]), make_invoice(customer, lines=[("1", "50")])
    payment = services.record_payment(
        client=customer,
        allocations=[(a, None), (b, None)],
        gateway="cash",
        date=timezone.now(),
        actor=None,
    )
    services.refund_payment(payment=payment, amount=D("70"), actor=None, reason="Overcharged")
    a.refresh_from_db(), b.refresh_from_db()
    assert sorted([a.amount_paid, b.amount_paid]) == [D("0"), D("30")]
    assert services.refundable_amount(payment) == D("30")


def test_only_payments_can_be_refunded():
    row = services.record_transaction(
        direction="in",
        amount=D("5"),
        gateway="cash",
        date=timezone.now(),
        description="Tip",
        currency="GBP",
        actor=None,
    )
    with pytest.raises(ValidationError) as exc:
        services.refund_payment(payment=row, actor=None, reason="x")
    assert _code(exc) == "not_a_payment"


# Billable items ------------------------------------------------------------------------------


def test_a_billable_item_can_be_invoiced_now(staff_admin):
    customer = ClientFactory()
    item = services.add_billable_item(
        client=customer,
        description="Restore from backup",
        unit_price=D("25"),
        invoice_now=True,
        actor=staff_admin,
    )
    invoice = item.invoice_item.invoice
    assert invoice.status == "unpaid" and invoice.total == D("25.00") and invoice.number


def test_an_invoiced_billable_item_cannot_be_removed_or_invoiced_twice(staff_admin):
    customer = ClientFactory()
    item = services.add_billable_item(
        client=customer, description="Setup", unit_price=D("5"), actor=staff_admin
    )
    make_invoice(customer, lines=[services.line_for_billable(item)], publish=False)
    with pytest.raises(ValidationError) as exc:
        services.remove_billable_item(item=item, actor=staff_admin)
    assert _code(exc) == "already_invoiced"
    with pytest.raises(ValidationError) as exc:
        make_invoice(customer, lines=[services.line_for_billable(item)], publish=False)
    assert _code(exc) == "already_invoiced"


# A series that has issued numbers keeps its numbering (issue 15 item 6) -----------------------


def test_switching_a_used_series_to_yearly_restart_is_refused_so_publishing_keeps_working(
    staff_admin,
):
    series = InvoiceSeries.objects.create(
        code="main", name="Main", number_format="INV-{year}-{number:06d}", is_default=True
    )
    make_invoice(issue_date=dt.date(2026, 3, 1))
    series.reset_yearly = True
    with pytest.raises(ValidationError) as exc:
        series.full_clean()
    assert _code(exc) == "series_in_use"
    # The database holds the rule too: the Django admin's or the shell's save is refused.
    with pytest.raises(IntegrityError, match="has issued numbers"), transaction.atomic():
        InvoiceSeries.objects.filter(pk=series.pk).update(reset_yearly=True)
    with pytest.raises(IntegrityError, match="has issued numbers"), transaction.atomic():
        InvoiceSeries.objects.filter(pk=series.pk).update(number_format="{year}-{number}")
    # What stays editable: its name, and whether it is the default.
    InvoiceSeries.objects.filter(pk=series.pk).update(name="Main series")
    assert make_invoice(issue_date=dt.date(2026, 3, 2)).number == "INV-2026-000002"


def test_an_unused_series_can_still_change_its_numbering():
    series = InvoiceSeries.objects.create(code="new", name="New", number_format="N-{number}")
    series.number_format, series.reset_yearly = "N-{year}-{number}", True
    series.full_clean()
    series.save()


def test_a_series_whose_format_repeats_another_series_number_is_refused_on_publish(staff_admin):
    InvoiceSeries.objects.create(
        code="old", name="Old", number_format="INV-{number}", is_default=True
    )
    taken = make_invoice()
    newer = InvoiceSeries.objects.create(code="newer", name="Newer", number_format="INV-{number}")
    draft = make_invoice(publish=False, series=newer)
    with pytest.raises(ValidationError) as exc:
        services.publish_invoice(invoice=draft, actor=staff_admin)
    assert _code(exc) == "number_taken"
    assert taken.number in str(exc.value)
    draft.refresh_from_db()
    assert draft.is_draft
