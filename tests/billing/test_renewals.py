"""Issue 15 item 1: paying an invoice that bills a record's period moves the record on.

A line pulled from a hosting account, domain or add-on bills one period (its next due date to
the day before the following one). Paying the invoice moves the record's next due date past
that period, once; and a period already on an unpaid or paid invoice is not billed again.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from billing import services
from hosting.models import Addon, ServiceEvent
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory
from tests.factories.hosting import DomainFactory, ServiceFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2027, 12, 1)
NEXT = dt.date(2028, 12, 1)


def _annual_service(customer=None):
    return ServiceFactory(
        client=customer or ClientFactory(),
        billing_cycle="annually",
        recurring_amount=D("60.00"),
        registration_date=dt.date(2026, 12, 1),
        next_due_date=DUE,
    )


def _code(exc_info) -> str:
    error = exc_info.value
    return error.error_list[0].code


def test_a_service_line_bills_the_period_from_its_next_due_date():
    line = services.line_for_service(_annual_service())
    assert "(01/12/2027 - 30/11/2028)" in line.description
    assert (line.period_start, line.period_end) == (DUE, dt.date(2028, 11, 30))


def test_paying_a_renewal_moves_the_services_next_due_date_on_by_one_period():
    service = _annual_service()
    invoice = make_invoice(service.client, lines=[services.line_for_service(service)])
    pay(invoice)
    service.refresh_from_db()
    assert service.next_due_date == NEXT


def test_paying_a_domain_renewal_moves_the_domains_next_due_date_on_by_its_years():
    domain = DomainFactory(
        registration_date=dt.date(2026, 12, 1),
        expiry_date=DUE,
        next_due_date=DUE,
        period_years=2,
    )
    invoice = make_invoice(domain.client, lines=[services.line_for_domain(domain)])
    pay(invoice)
    domain.refresh_from_db()
    assert domain.next_due_date == dt.date(2029, 12, 1)


def test_paying_an_addon_renewal_moves_the_addons_next_due_date_on_by_its_cycle():
    service = _annual_service()
    addon = Addon.objects.create(
        service=service,
        name="Backups",
        recurring_price=D("2.00"),
        billing_cycle="monthly",
        next_due_date=DUE,
        status=Addon.Status.ACTIVE,
    )
    invoice = make_invoice(service.client, lines=[services.line_for_addon(addon)])
    pay(invoice)
    addon.refresh_from_db()
    assert addon.next_due_date == dt.date(2028, 1, 1)


def test_paying_refunding_and_paying_the_same_period_again_moves_the_date_once():
    service = _annual_service()
    first = make_invoice(service.client, lines=[services.line_for_service(service)])
    again = make_invoice(service.client, lines=[services.line_for_service(service)], publish=False)
    payment = pay(first)
    service.refresh_from_db()
    assert service.next_due_date == NEXT
    services.refund_payment(payment=payment, actor=None, reason="Paid by mistake")
    services.publish_invoice(invoice=again, actor=None)  # the refunded invoice bills nothing now
    pay(again)
    service.refresh_from_db()
    assert service.next_due_date == NEXT


def test_paying_an_old_period_again_never_moves_the_date_back():
    service = _annual_service()
    old_line = services.line_for_service(service)
    first = pay(make_invoice(service.client, lines=[old_line]))
    service.refresh_from_db()
    pay(make_invoice(service.client, lines=[services.line_for_service(service)]))
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2029, 12, 1)
    services.refund_payment(payment=first, actor=None, reason="Paid by mistake")

    pay(make_invoice(service.client, lines=[old_line]))  # the refunded period billed anew

    service.refresh_from_db()
    assert service.next_due_date == dt.date(2029, 12, 1)


def test_an_upgrade_line_for_a_service_does_not_move_its_due_date():
    service = _annual_service()
    upgrade = services.LineData(
        description="Upgrade", quantity=D(1), unit_price=D("5.00"), kind="service", service=service
    )
    pay(make_invoice(service.client, lines=[upgrade]))
    service.refresh_from_db()
    assert service.next_due_date == DUE


def test_a_period_on_an_unpaid_invoice_cannot_be_published_again():
    service = _annual_service()
    make_invoice(service.client, lines=[services.line_for_service(service)])
    second = make_invoice(service.client, lines=[services.line_for_service(service)], publish=False)
    with pytest.raises(ValidationError) as exc:
        services.publish_invoice(invoice=second, actor=None)
    assert _code(exc) == "period_already_billed"


def test_the_database_refuses_a_second_live_invoice_for_the_same_period():
    service = _annual_service()
    make_invoice(service.client, lines=[services.line_for_service(service)])
    second = make_invoice(service.client, lines=[services.line_for_service(service)], publish=False)
    with (
        pytest.raises(DatabaseError, match="already billed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE billing_invoice SET status = 'unpaid', number = 'RAW-1', sequence = 999 "
            "WHERE id = %s",
            [second.pk],
        )


def test_the_database_refuses_a_period_without_exactly_one_record():
    invoice = make_invoice(lines=[("1", "10")], publish=False)
    with (
        pytest.raises(DatabaseError, match="billing_item_period_of_one_record"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE billing_invoiceitem SET period_start = %s, period_end = %s "
            "WHERE invoice_id = %s",
            [DUE, NEXT, invoice.pk],
        )


def _offered(staff_client, customer) -> dict:
    response = staff_client.get(reverse("billing:invoice-create") + f"?client={customer.pk}")
    assert response.status_code == 200
    return response.context["candidates"]


def test_a_period_on_an_unpaid_or_paid_invoice_is_not_offered_again(staff_client):
    service = _annual_service()
    domain = DomainFactory(client=service.client, expiry_date=DUE, next_due_date=DUE)
    assert [s.pk for s in _offered(staff_client, service.client)["services"]] == [service.pk]
    invoice = make_invoice(
        service.client,
        lines=[services.line_for_service(service), services.line_for_domain(domain)],
    )
    offered = _offered(staff_client, service.client)
    assert offered["services"] == [] and offered["domains"] == []
    pay(invoice)
    # Paid: the records moved on, and their next period is offered.
    offered = _offered(staff_client, service.client)
    assert [s.next_due_date for s in offered["services"]] == [NEXT]
    assert [d.pk for d in offered["domains"]] == [domain.pk]


def test_a_pulled_line_for_an_already_billed_period_is_not_added(staff_client):
    service = _annual_service()
    make_invoice(service.client, lines=[services.line_for_service(service)])
    response = staff_client.post(
        reverse("billing:invoice-create"),
        {
            "client": service.client.pk,
            "action": "pull",
            "pick": [f"service:{service.pk}"],
            "form-TOTAL_FORMS": "0",
            "form-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["formset"].initial == []


def test_the_renewal_is_filed_under_the_payment_with_its_actor(staff_admin):
    service = _annual_service()
    invoice = make_invoice(service.client, lines=[services.line_for_service(service)])
    pay(invoice, actor=staff_admin)
    event = ServiceEvent.objects.filter(pgh_obj=service, pgh_label="update").latest("pgh_id")
    assert event.next_due_date == NEXT
    metadata = event.pgh_context.metadata
    assert metadata["action"] == "hosting.renew_after_payment"
    assert metadata["within"] == "billing.record_payment"
    assert metadata["user"] == staff_admin.pk
    assert invoice.number in metadata["reason"]
    previous = ServiceEvent.objects.filter(pgh_obj=service).exclude(pgh_id=event.pgh_id)
    assert previous.latest("pgh_id").next_due_date == DUE
