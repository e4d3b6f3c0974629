"""Races: two payouts of the whole balance at once; two clearing jobs at once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from affiliates import services
from affiliates.models import Commission, Payout
from tests.billing.test_concurrency_and_guards import _run_in_parallel
from tests.factories.affiliates import cleared_commission, enrol
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_payouts_of_the_whole_balance_at_once_pay_it_once():
    staff = StaffFactory(role="Billing")
    affiliate = enrol(actor=staff, payout_threshold=Decimal("1"))
    cleared_commission(affiliate, "40.00", actor=staff)

    def pay_all():
        return services.record_payout(
            affiliate=affiliate, amount=Decimal("40.00"), method="manual", actor=staff
        )

    outcomes = _run_in_parallel(pay_all, [(), ()])
    assert sum(isinstance(o, Payout) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(refused) == 1 and refused[0].error_dict["amount"][0].code == "above_balance"
    assert services.balance_of(affiliate).balance == Decimal("0.00")


def test_two_clearing_jobs_at_once_clear_each_commission_once():
    staff = StaffFactory(role="Billing")
    affiliate = enrol(actor=staff)
    for _ in range(30):
        services.add_commission(
            affiliate=affiliate,
            amount=Decimal("1"),
            reason="x",
            actor=staff,
            clears_on=dt.date.today(),
        )
    outcomes = _run_in_parallel(lambda: services.clear_due_commissions(), [(), ()])
    assert sorted(outcomes)[0] >= 0 and sum(outcomes) == 30
    assert Commission.objects.filter(status="cleared").count() == 30
