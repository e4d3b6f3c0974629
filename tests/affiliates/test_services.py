from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from affiliates import services
from affiliates.models import Affiliate, Commission, Payout, Referral
from billing import services as billing
from billing.models import CreditEntry, Transaction
from tests.factories.affiliates import cleared_commission, enrol
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory
from tests.factories.hosting import ServiceFactory
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def staff():
    return StaffFactory(role="Billing", username="bea")


def _codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


# Enrolling ----------------------------------------------------------------------------------


def test_enrol_suggests_a_unique_code_and_the_default_threshold(staff, settings):
    first = enrol(ClientFactory(company_name="Acme Hosting"), actor=staff)
    second = enrol(ClientFactory(company_name="Acme Hosting"), actor=staff)
    assert first.code == "ACMEHOSTING" and second.code == "ACMEHOSTING-2"
    assert first.payout_threshold == settings.AFFILIATE_DEFAULT_PAYOUT_THRESHOLD
    assert first.commission_type == "default" and first.commission_value is None


def test_enrol_refuses_a_taken_code_a_second_enrolment_and_bad_terms(staff):
    customer = ClientFactory()
    enrol(customer, actor=staff, code="friend-1")
    with pytest.raises(ValidationError) as exc:
        enrol(ClientFactory(), actor=staff, code="FRIEND-1")
    assert _codes(exc.value) == {"duplicate_code"}
    with pytest.raises(ValidationError) as exc:
        enrol(customer, actor=staff)
    assert _codes(exc.value) == {"already_affiliate"}
    with pytest.raises(ValidationError) as exc:
        enrol(ClientFactory(), actor=staff, commission_type="percentage", commission_value=D(120))
    assert _codes(exc.value) == {"over_100"}
    with pytest.raises(ValidationError) as exc:
        enrol(ClientFactory(), actor=staff, commission_type="fixed")
    assert _codes(exc.value) == {"required"}


def test_changing_terms_needs_a_reason(staff):
    affiliate = enrol(actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.update_affiliate(
            affiliate=affiliate,
            data={"commission_type": "fixed", "commission_value": D(5)},
            actor=staff,
        )
    assert _codes(exc.value) == {"reason_required"}
    affiliate = services.update_affiliate(
        affiliate=affiliate,
        data={"commission_type": "fixed", "commission_value": D(5)},
        actor=staff,
        reason="Agreed by phone",
    )
    assert affiliate.commission_value == D("5.00")


# Referrals ----------------------------------------------------------------------------------


def test_referral_replacing_another_affiliates_needs_a_reason_and_keeps_the_old_one(staff):
    customer = ClientFactory()
    first, second = enrol(actor=staff), enrol(actor=staff)
    old = services.add_referral(affiliate=first, client=customer, actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.add_referral(affiliate=second, client=customer, actor=staff)
    assert _codes(exc.value) == {"reason_required"}
    new = services.add_referral(affiliate=second, client=customer, actor=staff, reason="Mixup")
    old.refresh_from_db()
    assert not old.active and old.replaced_at is not None and new.active
    with pytest.raises(ValidationError) as exc:
        services.add_referral(affiliate=second, client=customer, actor=staff)
    assert _codes(exc.value) == {"already_referred"}


def test_referral_of_a_service_and_refusals(staff):
    affiliate = enrol(actor=staff)
    service = ServiceFactory()
    assert (
        services.add_referral(affiliate=affiliate, service=service, actor=staff).service == service
    )
    with pytest.raises(ValidationError) as exc:
        services.add_referral(affiliate=affiliate, client=affiliate.client, actor=staff)
    assert _codes(exc.value) == {"self_referral"}
    with pytest.raises(ValidationError) as exc:
        services.add_referral(affiliate=affiliate, actor=staff)
    assert _codes(exc.value) == {"one_target"}


def test_database_allows_one_current_referral_per_client(staff):
    customer = ClientFactory()
    first, second = enrol(actor=staff), enrol(actor=staff)
    services.add_referral(affiliate=first, client=customer, actor=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(affiliate=second, client=customer, created_by=staff)


# Ledger -------------------------------------------------------------------------------------


def test_ledger_arithmetic(staff):
    affiliate = enrol(actor=staff, payout_threshold=D("5.00"))
    cleared_commission(affiliate, "10.00", actor=staff)
    cleared_commission(affiliate, "7.50", actor=staff)
    services.add_commission(affiliate=affiliate, amount=D("4.00"), reason="new", actor=staff)
    reversed_one = cleared_commission(affiliate, "3.00", actor=staff)
    services.reverse_commission(commission=reversed_one, reason="Fraud", actor=staff)
    row = services.balance_of(affiliate)
    assert (row.pending, row.earned, row.paid_out, row.balance) == (
        D("4.00"),
        D("17.50"),
        D("0.00"),
        D("17.50"),
    )
    services.record_payout(affiliate=affiliate, amount=D("12.00"), method="manual", actor=staff)
    row = services.balance_of(affiliate)
    assert (row.earned, row.paid_out, row.balance) == (D("17.50"), D("12.00"), D("5.50"))
    # Whole cleared commissions covered by the payout are paid, oldest first.
    statuses = dict(Commission.objects.filter(affiliate=affiliate).values_list("amount", "status"))
    assert statuses[D("10.00")] == "paid" and statuses[D("7.50")] == "cleared"


def test_suggested_commission_follows_the_terms(staff, settings):
    invoice = make_invoice(ClientFactory(currency="GBP"), lines=[("1", "80.00")], actor=staff)
    default = enrol(actor=staff)
    assert services.suggested_commission(default, invoice) == D("8.00")  # 10% of the subtotal
    percent = enrol(actor=staff, commission_type="percentage", commission_value=D("12.5"))
    assert services.suggested_commission(percent, invoice) == D("10.00")
    fixed = enrol(actor=staff, commission_type="fixed", commission_value=D("15"))
    assert services.suggested_commission(fixed, None) == D("15.00")


def test_commission_needs_a_note_or_invoice_and_a_matching_currency(staff):
    affiliate = enrol(ClientFactory(currency="GBP"), actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.add_commission(affiliate=affiliate, amount=D("5"), actor=staff)
    assert _codes(exc.value) == {"reason_required"}
    euro = make_invoice(ClientFactory(currency="EUR"), actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.add_commission(affiliate=affiliate, amount=D("5"), invoice=euro, actor=staff)
    assert _codes(exc.value) == {"currency_mismatch"}
    with pytest.raises(ValidationError) as exc:
        services.add_commission(affiliate=affiliate, amount=D("0"), reason="x", actor=staff)
    assert _codes(exc.value) == {"not_positive"}


def test_clearing_is_idempotent_and_waits_for_the_date(staff, settings):
    settings.AFFILIATE_CLEARING_DAYS = 30
    affiliate = enrol(actor=staff)
    commission = services.add_commission(
        affiliate=affiliate, amount=D("9"), reason="x", actor=staff
    )
    today = dt.date.today()
    assert commission.clears_on == today + dt.timedelta(days=30)
    assert services.clear_due_commissions(today=today + dt.timedelta(days=29)) == 0
    call_command("clear_commissions", date=(today + dt.timedelta(days=30)).isoformat())
    commission.refresh_from_db()
    assert commission.status == "cleared" and commission.cleared_at is not None
    assert services.clear_due_commissions(today=today + dt.timedelta(days=31)) == 0


def test_refunded_invoice_reverses_its_commission_with_the_refund_linked(staff):
    referred = ClientFactory(currency="GBP")
    affiliate = enrol(actor=staff)
    invoice = make_invoice(referred, lines=[("1", "50.00")], actor=staff)
    payment = pay(invoice, actor=staff)
    commission = services.add_commission(
        affiliate=affiliate, amount=D("5.00"), invoice=invoice, actor=staff
    )
    refund = billing.refund_payment(payment=payment, actor=staff, reason="Client cancelled")
    commission.refresh_from_db()
    assert commission.status == "reversed"
    assert commission.reversed_by_refund == refund
    assert "refunded" in commission.reversal_reason


def test_database_guards_the_commission_ledger(staff):
    commission = cleared_commission(enrol(actor=staff), "10.00", actor=staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        Commission.objects.filter(pk=commission.pk).update(status="pending")
    with pytest.raises(Exception, match=r"frozen_amount|protect"), transaction.atomic():
        Commission.objects.filter(pk=commission.pk).update(amount=D("99"))
    with pytest.raises(Exception, match=r"undeletable|protect"), transaction.atomic():
        Commission.objects.filter(pk=commission.pk).delete()


# Payouts ------------------------------------------------------------------------------------


def test_payout_above_the_balance_or_below_the_threshold_is_refused(staff):
    affiliate = enrol(actor=staff, payout_threshold=D("20.00"))
    cleared_commission(affiliate, "15.00", actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.record_payout(affiliate=affiliate, amount=D("16"), method="manual", actor=staff)
    assert _codes(exc.value) == {"above_balance"}
    with pytest.raises(ValidationError) as exc:
        services.record_payout(affiliate=affiliate, amount=D("15"), method="manual", actor=staff)
    assert _codes(exc.value) == {"below_threshold"}
    assert not Payout.objects.exists()


def test_payout_as_a_transaction_or_as_credit(staff):
    affiliate = enrol(ClientFactory(currency="GBP"), actor=staff, payout_threshold=D("1"))
    cleared_commission(affiliate, "30.00", actor=staff)
    by_bank = services.record_payout(
        affiliate=affiliate,
        amount=D("10"),
        method="transaction",
        gateway="bank_transfer",
        reference="BT-9",
        actor=staff,
    )
    assert by_bank.transaction.kind == Transaction.Kind.EXPENSE
    assert by_bank.transaction.amount_out == D("10.00")
    as_credit = services.record_payout(
        affiliate=affiliate, amount=D("5"), method="credit", actor=staff
    )
    assert as_credit.credit_entry.kind == CreditEntry.Kind.ADDED
    assert billing.credit_balance(affiliate.client) == D("5.00")
    assert services.balance_of(affiliate).balance == D("15.00")


def test_affiliate_rows_are_audited_with_the_actor(staff):
    from audit.tracking import event_model_for

    affiliate = enrol(actor=staff)
    event = event_model_for(Affiliate).objects.get(pgh_obj_id=affiliate.pk)
    assert event.pgh_context.metadata["username"] == "bea"


def test_commission_without_an_amount_applies_the_terms_to_the_invoice(staff):
    invoice = make_invoice(ClientFactory(currency="GBP"), lines=[("1", "60.00")], actor=staff)
    pay(invoice, actor=staff)
    affiliate = enrol(actor=staff, commission_type="percentage", commission_value=D("20"))
    commission = services.add_commission(
        affiliate=affiliate, amount=None, invoice=invoice, actor=staff
    )
    assert commission.amount == D("12.00")
    with pytest.raises(ValidationError) as exc:
        services.add_commission(affiliate=affiliate, amount=None, reason="x", actor=staff)
    assert _codes(exc.value) == {"required"}


# Commission is earned on paid invoices; a refund after payout is a clawback (issue 15 item 5) --


def test_an_unpaid_invoice_earns_no_commission_in_the_service_or_the_database(staff):
    affiliate = enrol(actor=staff)
    unpaid = make_invoice(ClientFactory(currency="GBP"), lines=[("1", "50.00")], actor=staff)
    with pytest.raises(ValidationError) as exc:
        services.add_commission(affiliate=affiliate, amount=D("5.00"), invoice=unpaid, actor=staff)
    assert _codes(exc.value) == {"invoice_not_paid"}
    assert not Commission.objects.exists()
    # The shell and the Django admin meet the same rule.
    with pytest.raises(IntegrityError, match="paid invoice"), transaction.atomic():
        Commission.objects.create(
            affiliate=affiliate,
            amount=D("5.00"),
            invoice=unpaid,
            clears_on=dt.date.today(),
            created_by=staff,
        )
    pay(unpaid, actor=staff)
    commission = services.add_commission(
        affiliate=affiliate, amount=D("5.00"), invoice=unpaid, actor=staff
    )
    assert commission.status == "pending"


def _paid_out_commission(staff, amount="5.00"):
    referred = ClientFactory(currency="GBP")
    affiliate = enrol(actor=staff, payout_threshold=D("1.00"))
    invoice = make_invoice(referred, lines=[("1", "50.00")], actor=staff)
    payment = pay(invoice, actor=staff)
    commission = services.add_commission(
        affiliate=affiliate,
        amount=D(amount),
        invoice=invoice,
        actor=staff,
        clears_on=dt.date.today() - dt.timedelta(days=1),
    )
    services.clear_due_commissions()
    services.record_payout(affiliate=affiliate, amount=D(amount), method="manual", actor=staff)
    commission.refresh_from_db()
    assert commission.status == "paid"
    return affiliate, commission, payment


def test_refunding_an_invoice_whose_commission_was_paid_out_adds_a_visible_clawback(staff):
    affiliate, commission, payment = _paid_out_commission(staff)
    refund = billing.refund_payment(payment=payment, actor=staff, reason="Client cancelled")
    commission.refresh_from_db()
    assert commission.status == "paid"  # it was paid out: that stays true
    clawback = Commission.objects.get(clawback_of=commission)
    assert clawback.kind == "clawback"
    assert clawback.amount == D("-5.00")
    assert clawback.reversed_by_refund == refund
    assert "refunded" in clawback.note
    assert services.balance_of(affiliate).balance == D("-5.00")
    # A second refund handler run (or a manual reversal) never claws back twice.
    with pytest.raises(ValidationError) as exc:
        services.reverse_commission(commission=commission, reason="again", actor=staff)
    assert _codes(exc.value) == {"already_clawed_back"}
    # The database refuses a paid commission quietly turned reversed, and a second clawback.
    with pytest.raises(IntegrityError), transaction.atomic():
        Commission.objects.filter(pk=commission.pk).update(
            status="reversed", reversal_reason="hide it"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Commission.objects.create(
            affiliate=affiliate,
            kind="clawback",
            amount=D("-5.00"),
            clawback_of=commission,
            status="cleared",
            note="twice",
            clears_on=dt.date.today(),
            created_by=staff,
        )


def test_the_ledger_shows_the_clawback_line(staff, client_as):
    affiliate, commission, payment = _paid_out_commission(staff)
    billing.refund_payment(payment=payment, actor=staff, reason="Client cancelled")
    page = client_as("Billing").get(affiliate.get_absolute_url())
    body = page.content.decode()
    assert "Clawback" in body and "-5.00" in body
    assert f"commission #{commission.pk}" in body
