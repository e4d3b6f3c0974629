"""Races: the last uses of a promotion, and two daily cancellation jobs at once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from hosting.models import Service
from orders import services
from orders.models import Order, Promotion, ServiceChange
from orders.services import ProductLineData
from tests.billing.test_concurrency_and_guards import _run_in_parallel
from tests.factories.clients import ClientFactory
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import PromotionFactory, make_catalog

pytestmark = pytest.mark.django_db(transaction=True)


def test_six_orders_racing_for_a_promotion_with_two_uses_left():
    catalog = make_catalog()
    PromotionFactory(code="LAST2", max_uses=5, uses=3)
    buyers = [ClientFactory() for _ in range(6)]

    def order(buyer):
        return services.place_order(
            client=buyer,
            products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
            promotion_code="LAST2",
            send_confirmation=False,
            actor=None,
        )

    outcomes = _run_in_parallel(order, [(b,) for b in buyers])

    placed = [o for o in outcomes if isinstance(o, Order)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(placed), len(refused)) == (2, 4)
    assert {e.error_dict["promotion_code"][0].code for e in refused} == {"promotion_used_up"}
    assert Promotion.objects.get().uses == 5
    assert Order.objects.count() == 2


def test_two_cancellation_jobs_at_once_cancel_each_account_once():
    catalog = make_catalog()
    today = dt.date.today()
    for _ in range(4):
        service = ServiceFactory(
            product=catalog.basic, recurring_amount=Decimal("5.00"), next_due_date=today
        )
        services.request_cancellation(
            service=service,
            when="end_of_period",
            actor=None,
            reason="Closing",
            today=today - dt.timedelta(days=1),
        )
    assert ServiceChange.objects.filter(status="pending").count() == 4

    outcomes = _run_in_parallel(lambda: services.process_due_cancellations(), [(), ()])

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sum(len(done) for done in outcomes) == 4  # each carried out by exactly one job
    assert set(Service.objects.values_list("status", flat=True)) == {"cancelled"}
    assert ServiceChange.objects.filter(status="applied").count() == 4
