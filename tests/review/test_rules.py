"""Each review rule flags what it should and nothing else: one write per test, and the set of
rules that flagged it compared whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

import audit.context
from audit.context import command_context
from audit.models import StaffSession
from audit.services import record_staff_session
from billing import services as billing
from clients import services as clients
from hosting import services as hosting
from review.models import ReviewRule
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory, ContactFactory
from tests.factories.hosting import ProductFactory, ServiceFactory
from tests.review.conftest import rule_keys, set_rule

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 1, 31)


@pytest.fixture
def customer():
    return ClientFactory(currency="GBP")


def test_the_default_rules_exist_once_each_switched_on():
    keys = set(ReviewRule.objects.values_list("key", flat=True))
    assert keys == {
        "price_override",
        "backdated",
        "large_credit",
        "large_refund",
        "mark_paid",
        "deletes",
        "secret_reveal",
        "outside_hours",
        "unattributed",
        "after_reset",
    }
    assert ReviewRule.objects.filter(enabled=False).count() == 0


def test_the_defaults_never_write_over_an_admins_edit():
    from review.rules import ensure_default_rules

    ReviewRule.objects.filter(key="large_credit").update(
        enabled=False, params={"thresholds": {"GBP": "5.00"}}
    )
    assert ensure_default_rules() == 0
    rule = ReviewRule.objects.get(key="large_credit")
    assert rule.enabled is False and rule.params == {"thresholds": {"GBP": "5.00"}}


def test_credit_above_the_threshold_is_flagged_with_its_amount(flags_of, customer, staff_admin):
    flags = flags_of(
        lambda: billing.add_credit(
            client=customer, amount=Decimal("600.00"), reason="goodwill", actor=staff_admin
        )
    )
    assert rule_keys(flags) == {"large_credit"}
    (flag,) = flags
    assert flag.amount == Decimal("600.00") and flag.currency == "GBP"
    assert flag.maker_id == staff_admin.pk and flag.action == "billing.add_credit"
    assert flag.reason == "goodwill"


def test_credit_below_the_threshold_is_not_flagged(flags_of, customer, staff_admin):
    flags = flags_of(
        lambda: billing.add_credit(
            client=customer, amount=Decimal("499.99"), reason="goodwill", actor=staff_admin
        )
    )
    assert rule_keys(flags) == set()


def test_the_threshold_is_per_currency(flags_of, staff_admin):
    set_rule("large_credit", thresholds={"GBP": "500.00", "EUR": "50.00"})
    euro = ClientFactory(currency="EUR")
    flags = flags_of(
        lambda: billing.add_credit(
            client=euro, amount=Decimal("60.00"), reason="goodwill", actor=staff_admin
        )
    )
    assert rule_keys(flags) == {"large_credit"}


def test_a_large_refund_is_flagged_and_a_small_one_is_not(flags_of, customer, staff_admin):
    invoice = make_invoice(customer, lines=[("1", "700.00")], actor=staff_admin)
    payment = pay(invoice, actor=staff_admin)
    small = flags_of(
        lambda: billing.refund_payment(
            payment=payment, amount=Decimal("100.00"), actor=staff_admin, reason="partial"
        )
    )
    assert rule_keys(small) == set()
    large = flags_of(
        lambda: billing.refund_payment(
            payment=payment, amount=Decimal("600.00"), actor=staff_admin, reason="cancelled"
        )
    )
    assert rule_keys(large) == {"large_refund"}
    assert large[0].amount == Decimal("600.00")


def test_marking_paid_without_money_is_flagged_and_a_payment_is_not(
    flags_of, customer, staff_admin
):
    paid = make_invoice(customer, lines=[("1", "20.00")], actor=staff_admin)
    assert rule_keys(flags_of(lambda: pay(paid, actor=staff_admin))) == set()
    invoice = make_invoice(customer, lines=[("1", "20.00")], actor=staff_admin)
    flags = flags_of(
        lambda: billing.mark_invoice_paid(invoice=invoice, actor=staff_admin, reason="settled")
    )
    assert rule_keys(flags) == {"mark_paid"}
    assert flags[0].amount == invoice.total


def test_a_backdated_payment_is_flagged_and_one_of_today_is_not(flags_of, customer, staff_admin):
    invoice = make_invoice(customer, lines=[("1", "50.00")], actor=staff_admin)

    def payment(when, **extra):
        return lambda: billing.record_payment(
            client=customer,
            allocations=[(invoice, Decimal("10"))],
            gateway="cash",
            date=when,
            actor=staff_admin,
            **extra,
        )

    assert rule_keys(flags_of(payment(timezone.now()))) == set()
    yesterday = timezone.now() - dt.timedelta(days=1)
    flags = flags_of(payment(yesterday, reason="cheque banked Friday"))
    assert rule_keys(flags) == {"backdated"}


def test_a_price_other_than_the_catalogs_is_flagged(flags_of, customer, staff_admin):
    product = ProductFactory(monthly=Decimal("5.00"))
    data = {"product": product, "registration_date": TODAY, "billing_cycle": "monthly"}
    at_catalog = flags_of(
        lambda: hosting.create_service(client=customer, data=data, actor=staff_admin)
    )
    assert rule_keys(at_catalog) == set()
    custom = {**data, "first_payment_amount": Decimal("3"), "recurring_amount": Decimal("3")}
    flags = flags_of(
        lambda: hosting.create_service(
            client=customer, data=custom, actor=staff_admin, reason="loyalty"
        )
    )
    assert rule_keys(flags) == {"price_override"}


def test_editing_a_service_already_priced_by_hand_is_not_flagged_again(
    flags_of, customer, staff_admin
):
    product = ProductFactory(monthly=Decimal("5.00"))
    data = {
        "product": product,
        "registration_date": TODAY,
        "billing_cycle": "monthly",
        "first_payment_amount": Decimal("3"),
        "recurring_amount": Decimal("3"),
    }
    service = hosting.create_service(
        client=customer, data=data, actor=staff_admin, reason="loyalty"
    )
    flags = flags_of(
        lambda: hosting.update_service(
            service=service, data={"admin_notes": "called about DNS"}, actor=staff_admin
        )
    )
    assert rule_keys(flags) == set()


def test_a_delete_is_flagged(flags_of, customer, staff_admin):
    contact = ContactFactory(client=customer)
    flags = flags_of(
        lambda: clients.remove_contact(contact=contact, actor=staff_admin, reason="left")
    )
    assert rule_keys(flags) == {"deletes"}
    assert "contact" in flags[0].summary


def test_a_secret_reveal_is_flagged(flags_of, staff_admin):
    service = ServiceFactory()
    flags = flags_of(
        lambda: hosting.reveal_service_password(
            service=service, actor=staff_admin, reason="client on the phone"
        )
    )
    assert rule_keys(flags) == {"secret_reveal"}


def test_writes_outside_the_usual_hours_are_flagged(flags_of, customer, staff_admin):
    set_rule("outside_hours", start_hour=0, end_hour=0, days=[])  # never usual

    flags = flags_of(
        lambda: clients.add_contact(
            client=customer,
            data={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            actor=staff_admin,
        )
    )
    assert rule_keys(flags) == {"outside_hours"}
    assert flags[0].maker_id == staff_admin.pk


def test_writes_within_the_usual_hours_are_not_flagged(flags_of, customer, staff_admin):
    # The fixture made every hour of every day usual.
    flags = flags_of(
        lambda: clients.add_contact(
            client=customer,
            data={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            actor=staff_admin,
        )
    )
    assert rule_keys(flags) == set()


def test_a_write_with_no_audit_context_is_flagged_unattributed(flags_of):
    # Written in a service's frame: in this test's one transaction, writes without a context
    # share its time, and so the one entry of unattributed writes.
    with audit.context.context(action="tests.setup"):
        customer = ClientFactory()

    def psql() -> None:
        with connection.cursor() as cur:
            # A session of its own in real life; here the test's one transaction still holds
            # the scan's context settings, so clear them as a fresh psql session has them.
            cur.execute(
                "SELECT set_config('pghistory.context_id', '', true), "
                "set_config('pghistory.context_metadata', '', true)"
            )
            cur.execute(
                "UPDATE clients_client SET city = 'Edited by hand' WHERE id = %s", [customer.pk]
            )

    flags = flags_of(psql)
    assert rule_keys(flags) == {"unattributed"}
    assert flags[0].maker_id is None and flags[0].context_id is None


def test_a_shell_write_without_a_user_is_unattributed_and_a_timer_command_is_not(
    flags_of, customer
):
    def in_command(name):
        def write():
            with command_context(name):
                clients.add_contact(
                    client=customer,
                    data={"first_name": "B", "last_name": "C", "email": f"{name}@example.com"},
                    actor=None,
                )

        return write

    assert rule_keys(flags_of(in_command("send_queued_emails"))) == set()
    assert rule_keys(flags_of(in_command("shell"))) == {"unattributed"}


def _reset_an_hour_ago(monkeypatch, user, kind=StaffSession.Kind.OTP_RESET):
    earlier = timezone.now() - dt.timedelta(hours=1)
    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: earlier)
        record_staff_session(kind=kind, request=None, user=user)


def test_writes_by_a_user_soon_after_their_second_factor_reset_are_flagged(
    flags_of, customer, make_staff, monkeypatch
):
    bea = make_staff("Billing", username="bea")
    _reset_an_hour_ago(monkeypatch, bea)
    flags = flags_of(
        lambda: billing.add_credit(client=customer, amount=Decimal("5"), reason="x", actor=bea)
    )
    assert rule_keys(flags) == {"after_reset"}


def test_writes_long_after_a_reset_or_by_someone_else_are_not_flagged(
    flags_of, customer, make_staff, monkeypatch, staff_admin
):
    bea = make_staff("Billing", username="bea")
    _reset_an_hour_ago(monkeypatch, bea)
    others = flags_of(
        lambda: billing.add_credit(
            client=customer, amount=Decimal("5"), reason="x", actor=staff_admin
        )
    )
    assert rule_keys(others) == set()
    set_rule("after_reset", hours=0)  # the window closed at once
    bea_later = flags_of(
        lambda: billing.add_credit(client=customer, amount=Decimal("5"), reason="x", actor=bea)
    )
    assert rule_keys(bea_later) == set()


def test_a_switched_off_rule_flags_nothing(flags_of, customer, staff_admin):
    ReviewRule.objects.filter(key="large_credit").update(enabled=False)
    flags = flags_of(
        lambda: billing.add_credit(
            client=customer, amount=Decimal("900.00"), reason="goodwill", actor=staff_admin
        )
    )
    assert rule_keys(flags) == set()
