"""Four eyes: entries over their threshold wait for a second person with the right."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalRequest
from approvals.thresholds import check
from billing.models import CreditEntry, Invoice, Transaction
from clients.models import Client
from tests.factories.billing import line, make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = [pytest.mark.django_db, pytest.mark.four_eyes]


@pytest.fixture
def paid(make_staff):
    """A payment of 300 on a published invoice."""
    clerk = make_staff("Billing", username="bob-billing")
    invoice = make_invoice(lines=[line(unit_price="300.00", taxed=False)], actor=clerk)
    return pay(invoice, actor=clerk, reason="wire")


def _refund(http, payment, amount, reason="Customer cancelled"):
    return http.post(
        reverse("billing:refund-create", args=[payment.pk]),
        {"amount": amount, "transaction_id": "", "reason": reason, "reason_code": "cancelled"},
    )


def test_a_refund_at_the_threshold_is_recorded_at_once(client_as, paid):
    response = _refund(client_as("Billing"), paid, "100.00")
    assert response.status_code == 302
    assert Transaction.objects.filter(refund_of=paid).count() == 1
    assert not ApprovalRequest.objects.exists()


def test_a_refund_above_the_threshold_waits_and_changes_nothing(client_as, paid):
    http = client_as("Billing", username="maker")
    response = _refund(http, paid, "150.00")
    made = ApprovalRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
    assert not Transaction.objects.filter(refund_of=paid).exists()
    assert made.status == "pending" and made.maker.username == "maker"
    assert made.amount == Decimal("150.00") and made.right == "billing.refund_payment"
    page = http.get(made.get_absolute_url(), follow=True)
    assert b"Waiting for approval" in page.content
    assert b"someone else must approve" in page.content  # the maker sees no Approve button
    assert b"Approve and apply" not in page.content


def test_approval_runs_the_refund_as_the_maker_with_the_approver_in_the_trail(client_as, paid):
    _refund(client_as("Billing", username="maker"), paid, "150.00")
    made = ApprovalRequest.objects.get()
    checker = client_as("Billing", username="checker")
    assert b"Approve and apply" in checker.get(made.get_absolute_url()).content
    response = checker.post(
        reverse("approvals:request-approve", args=[made.pk]), {"reason": "Checked the ticket"}
    )
    assert response.status_code == 302
    refund = Transaction.objects.get(refund_of=paid)
    assert refund.amount_out == Decimal("150.00")
    made.refresh_from_db()
    assert made.status == "approved" and made.decided_by.username == "checker"
    assert made.result_url == refund.get_absolute_url()
    event = refund.events.get(pgh_label="insert") if hasattr(refund, "events") else None
    metadata = _context_of(refund)
    assert metadata["action"] == "billing.refund_payment"
    assert metadata["username"] == "maker" and metadata["reason"] == "Customer cancelled"
    assert metadata["approved_by_name"] == "checker"
    assert metadata["approval_request"] == made.pk
    assert metadata["within"] == "approvals.approve_request"
    del event


def _context_of(record):
    from audit.tracking import event_model_for

    event = event_model_for(type(record)).objects.filter(pgh_obj_id=record.pk).order_by("pgh_id")
    return event.select_related("pgh_context").first().pgh_context.metadata


def test_the_maker_can_never_approve_their_own_request_not_even_as_admin(make_staff, paid):
    boss = make_staff("Admin", username="boss", is_superuser=True)
    other = make_staff("Admin", username="other-admin")
    del other
    needed = check("billing.refund_payment", label="Refunds", amount=Decimal("150"), currency="USD")
    made = services.request_approval(
        action="billing.refund_payment",
        needed=needed,
        maker=boss,
        kwargs={"payment": paid, "amount": Decimal("150"), "reason": "r"},
        summary="Refund",
    )
    with pytest.raises(ValidationError) as refused:
        services.approve_request(request=made, approver=boss, reason="mine")
    assert refused.value.code == "own_request"
    assert not Transaction.objects.filter(refund_of=paid).exists()


def test_a_sole_admin_may_approve_their_own_when_the_setting_allows_it_and_it_is_flagged(
    make_staff, paid, settings
):
    settings.APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE = True
    boss = make_staff("Admin", username="only-admin")
    made = _request_refund(paid, boss)
    services.approve_request(request=made, approver=boss, reason="nobody else here")
    made.refresh_from_db()
    assert made.status == "approved" and made.self_approved
    assert _context_of(Transaction.objects.get(refund_of=paid))["self_approved"] is True


def test_the_sole_admin_setting_does_not_help_when_another_admin_exists(make_staff, paid, settings):
    settings.APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE = True
    boss = make_staff("Admin", username="boss")
    make_staff("Admin", username="second-admin")
    made = _request_refund(paid, boss)
    with pytest.raises(ValidationError) as refused:
        services.approve_request(request=made, approver=boss, reason="x")
    assert refused.value.code == "own_request"


def _request_refund(payment, maker, amount="150"):
    needed = check(
        "billing.refund_payment", label="Refunds", amount=Decimal(amount), currency="USD"
    )
    return services.request_approval(
        action="billing.refund_payment",
        needed=needed,
        maker=maker,
        kwargs={"payment": payment, "amount": Decimal(amount), "reason": "cancelled"},
        summary=f"Refund {amount}",
        reason="cancelled",
    )


def test_an_approver_without_the_right_is_refused(make_staff, paid):
    made = _request_refund(paid, make_staff("Billing", username="maker"))
    support = make_staff("Support", username="sam")
    with pytest.raises(ValidationError) as refused:
        services.approve_request(request=made, approver=support, reason="ok")
    assert refused.value.code == "not_allowed"
    assert made not in services.waiting_for(support)


def test_reject_needs_a_reason_applies_nothing_and_is_final(make_staff, paid):
    made = _request_refund(paid, make_staff("Billing", username="maker"))
    checker = make_staff("Billing", username="checker")
    with pytest.raises(ValidationError):
        services.reject_request(request=made, approver=checker, reason=" ")
    services.reject_request(request=made, approver=checker, reason="No ticket for it")
    made.refresh_from_db()
    assert made.status == "rejected" and made.decision_reason == "No ticket for it"
    assert not Transaction.objects.filter(refund_of=paid).exists()
    with pytest.raises(ValidationError) as again:
        services.approve_request(request=made, approver=checker, reason="changed my mind")
    assert again.value.code == "already_decided"


def test_only_the_maker_can_withdraw(make_staff, paid):
    maker = make_staff("Billing", username="maker")
    made = _request_refund(paid, maker)
    with pytest.raises(ValidationError) as refused:
        services.withdraw_request(request=made, maker=make_staff("Billing", username="x"))
    assert refused.value.code == "not_allowed"
    services.withdraw_request(request=made, maker=maker, reason="typed the wrong amount")
    made.refresh_from_db()
    assert made.status == "withdrawn"


def test_a_request_past_its_time_expires_and_can_no_longer_be_approved(make_staff, paid):
    made = _request_refund(paid, make_staff("Billing", username="maker"))
    checker = make_staff("Billing", username="checker")
    later = made.expires_at + dt.timedelta(seconds=1)
    ApprovalRequest.objects.filter(pk=made.pk).update(
        created_at=made.created_at - dt.timedelta(days=4),
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    with pytest.raises(ValidationError) as refused:
        services.approve_request(request=made, approver=checker, reason="ok")
    assert refused.value.code == "expired"
    assert services.expire_requests(now=later) == 1
    made.refresh_from_db()
    assert made.status == "expired"
    assert services.expire_requests(now=later) == 0
    assert not Transaction.objects.filter(refund_of=paid).exists()


def test_what_the_service_would_refuse_comes_back_on_the_form_at_once(client_as, paid):
    response = _refund(client_as("Billing"), paid, "350.00")  # more than was paid
    assert response.status_code == 400
    assert not ApprovalRequest.objects.exists()
    assert not Transaction.objects.filter(refund_of=paid).exists()


def test_a_decided_request_cannot_be_changed_even_in_sql(make_staff, paid):
    made = _request_refund(paid, make_staff("Billing", username="maker"))
    services.reject_request(request=made, approver=make_staff("Billing"), reason="no")
    with (
        pytest.raises(ProgrammingError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE approvals_approvalrequest SET status = 'pending' WHERE id = %s", [made.pk]
        )


def test_the_database_refuses_a_maker_deciding_their_own_request(make_staff, paid):
    maker = make_staff("Billing", username="maker")
    made = _request_refund(paid, maker)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=made.pk).update(
            status="rejected", decided_by=maker, decided_at=timezone.now(), decision_reason="x"
        )


@pytest.mark.parametrize(
    ("currency", "amount", "waits"),
    [("USD", "150.00", True), ("EUR", "150.00", False), ("EUR", "600.00", True)],
)
def test_money_thresholds_are_per_currency(settings, currency, amount, waits):
    settings.APPROVAL_THRESHOLDS = {"billing.refund_payment": {"above": {"*": "100", "EUR": "500"}}}
    answer = check(
        "billing.refund_payment", label="Refunds", amount=Decimal(amount), currency=currency
    )
    assert (answer is not None) == waits


def test_credit_above_its_threshold_waits_and_below_is_added(client_as):
    customer = ClientFactory()
    http = client_as("Billing")
    url = reverse("billing:credit-change", args=[customer.pk])
    http.post(
        url, {"action": "add", "amount": "50.00", "reason": "kind", "reason_code": "goodwill"}
    )
    assert CreditEntry.objects.filter(client=customer).count() == 1
    http.post(
        url, {"action": "add", "amount": "50.01", "reason": "kind", "reason_code": "goodwill"}
    )
    assert CreditEntry.objects.filter(client=customer).count() == 1
    assert ApprovalRequest.objects.get().right == "billing.add_credit"


def test_every_mark_paid_without_money_waits(client_as, make_staff):
    invoice = make_invoice(actor=make_staff("Billing"))
    client_as("Billing").post(
        reverse("billing:invoice-mark-paid", args=[invoice.pk]),
        {"reason": "settled by phone", "reason_code": "settled_outside"},
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNPAID
    assert ApprovalRequest.objects.get().action == "billing.mark_invoice_paid"


def test_money_dated_more_than_seven_days_back_waits(client_as, make_staff):
    invoice = make_invoice(actor=make_staff("Billing"))
    http = client_as("Billing")
    url = reverse("billing:payment-create", args=[invoice.pk])
    form = {
        "amount": "1.00",
        "gateway": "bank_transfer",
        "transaction_id": "",
        "fees": "0.00",
        "audit_reason": "late entry",
    }
    week_ago = timezone.localtime() - dt.timedelta(days=7)
    http.post(url, {**form, "date": week_ago.strftime("%Y-%m-%dT%H:%M")})
    assert Transaction.objects.filter(kind="payment").count() == 1
    older = timezone.localtime() - dt.timedelta(days=8)
    http.post(url, {**form, "date": older.strftime("%Y-%m-%dT%H:%M")})
    assert Transaction.objects.filter(kind="payment").count() == 1
    assert ApprovalRequest.objects.get().right == "billing.backdate_transaction"


def test_every_client_delete_waits_and_the_admin_cannot_delete_around_it(client_as, staff_client):
    customer = ClientFactory()
    client_as("Admin").post(
        reverse("clients:client-delete", args=[customer.pk]),
        {"audit_reason": "typo", "reason_code": "mistake"},
    )
    assert Client.objects.filter(pk=customer.pk).exists()
    assert ApprovalRequest.objects.get().action == "clients.delete_client"
    response = staff_client.post(
        reverse("admin:clients_client_delete", args=[customer.pk]),
        {"post": "yes", "audit_reason": "typo"},
    )
    assert response.status_code == 302
    assert Client.objects.filter(pk=customer.pk).exists()


def test_an_approved_client_delete_deletes_it(make_staff):
    customer = ClientFactory()
    maker, checker = make_staff("Admin", username="a1"), make_staff("Admin", username="a2")
    made = services.request_approval(
        action="clients.delete_client",
        needed=check("clients.delete_client", label="Client deletes"),
        maker=maker,
        kwargs={"client": customer, "reason": "entered twice"},
        summary="Delete",
    )
    assert Client.objects.filter(pk=customer.pk).exists()  # the dry run was rolled back
    services.approve_request(request=made, approver=checker, reason="duplicate confirmed")
    assert not Client.objects.filter(pk=customer.pk).exists()


def test_the_dashboard_shows_what_waits_for_the_current_user(client_as, make_staff, paid):
    made = _request_refund(paid, make_staff("Billing", username="maker"))
    page = client_as("Billing", username="checker").get(reverse("core:dashboard"))
    assert made.summary.encode() in page.content
    assert b"Waiting for your approval" in page.content


def test_the_queue_lists_what_waits_for_me_and_not_my_own(client_as, make_staff, paid):
    maker = make_staff("Billing", username="maker")
    made = _request_refund(paid, maker)
    mine = client_as("Billing", username="maker").get(reverse("approvals:request-list"))
    assert made.summary.encode() not in mine.content
    theirs = client_as("Billing", username="checker").get(reverse("approvals:request-list"))
    assert made.summary.encode() in theirs.content


def _account_form(product, **extra):
    return {
        "product": product.pk,
        "registration_date": "2026-01-01",
        "billing_cycle": "monthly",
        "quantity": 1,
        "domain": "cheap.example",
        "password": "pw-secret-123456",
        "initial_status": "active",
        "audit_reason": "Agreed discount",
        **extra,
    }


def test_a_price_below_half_the_catalog_waits_with_its_password_kept_secret(client_as, make_staff):
    from hosting.models import Service
    from tests.factories.hosting import ProductFactory

    customer = ClientFactory(currency="GBP")
    product = ProductFactory(monthly=Decimal("10.00"))
    http = client_as("Billing", username="maker")
    url = reverse("hosting:service-create", args=[customer.pk])
    http.post(url, _account_form(product, recurring_amount="5.00", first_payment_amount="5.00"))
    assert Service.objects.count() == 1  # half the catalog: not below it
    http.post(url, _account_form(product, recurring_amount="4.99", first_payment_amount="4.99"))
    assert Service.objects.count() == 1
    made = ApprovalRequest.objects.get()
    assert made.right == "hosting.override_price" and made.secrets
    assert "pw-secret-123456" not in str(made.payload) and "pw-secret-123456" not in made.secrets
    page = client_as("Billing", username="checker").get(made.get_absolute_url())
    assert b"pw-secret-123456" not in page.content and b"kept encrypted" in page.content
    services.approve_request(request=made, approver=User_(page), reason="Deal approved")
    made.refresh_from_db()
    assert made.status == "approved" and made.secrets == ""
    service = Service.objects.exclude(recurring_amount=Decimal("5.00")).get()
    assert service.recurring_amount == Decimal("4.99") and service.password  # stored, encrypted
    from audit.tracking import event_model_for

    stored = event_model_for(ApprovalRequest).objects.filter(pgh_obj_id=made.pk)
    assert all(not e.secrets or e.secrets.startswith("sha256:") for e in stored)


def User_(response):
    return response.wsgi_request.user


def test_an_affiliate_payout_above_its_threshold_waits(client_as, make_staff):
    from affiliates.models import Payout
    from tests.factories.affiliates import cleared_commission, enrol

    clerk = make_staff("Billing", username="maker")
    affiliate = enrol(actor=clerk, payout_threshold=Decimal("1"))
    cleared_commission(affiliate, "500.00", actor=clerk)
    http = client_as("Billing", username="maker")
    url = reverse("affiliates:payout-create", args=[affiliate.pk])
    form = {
        "method": "credit",
        "reference": "",
        "reason": "monthly",
        "gateway": "",
        "reason_code": "scheduled",
    }
    http.post(url, {**form, "amount": "200.00"})
    assert Payout.objects.count() == 1
    http.post(url, {**form, "amount": "200.01"})
    assert Payout.objects.count() == 1
    assert ApprovalRequest.objects.get().right == "affiliates.pay_out_affiliate"


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_apply_the_refund_once(make_staff):
    from tests.billing.test_concurrency_and_guards import _run_in_parallel

    clerk = make_staff("Billing", username="maker")
    invoice = make_invoice(lines=[line(unit_price="300.00", taxed=False)], actor=clerk)
    payment = pay(invoice, actor=clerk)
    made = _request_refund(payment, clerk)
    first, second = make_staff("Billing", username="c1"), make_staff("Billing", username="c2")
    outcomes = _run_in_parallel(
        lambda who: services.approve_request(request=made, approver=who, reason="ok"),
        [(first,), (second,)],
    )
    assert sum(isinstance(o, ApprovalRequest) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(refused) == 1 and refused[0].code == "already_decided"
    assert Transaction.objects.filter(refund_of=payment).count() == 1


def test_an_order_line_below_half_the_catalog_is_refused_with_where_to_send_it(client_as):
    from orders.models import Order
    from tests.orders.test_views import NEW, order_post, product_row
    from tests.orders.test_views import make_catalog as catalog_of

    catalog, customer = catalog_of(), ClientFactory()
    unit = catalog.basic.prices.get(cycle="monthly", currency=customer.currency).price
    cheap = (unit / 2 - Decimal("0.01")).quantize(Decimal("0.01"))
    row = product_row(catalog, hostname="cheap.example", price=str(cheap))
    data = order_post(customer, products=[row], audit_reason="friend", action="place")
    page = client_as("Billing").post(NEW, data)
    assert page.status_code == 400
    assert b"change the hosting account&#x27;s price from its" in page.content
    assert not Order.objects.exists() and not ApprovalRequest.objects.exists()


def test_a_plan_change_below_half_the_catalog_is_refused_on_its_price(client_as):
    from tests.factories.hosting import ServiceFactory
    from tests.orders.test_views import make_catalog as catalog_of

    catalog, customer = catalog_of(), ClientFactory()
    service = ServiceFactory(client=customer, product=catalog.basic, recurring_amount="5.00")
    unit = catalog.pro.prices.get(cycle="monthly", currency=customer.currency).price
    data = {
        "product": catalog.pro.pk,
        "billing_cycle": "monthly",
        "recurring_amount": str((unit / 3).quantize(Decimal("0.01"))),
        "reason": "deal",
        "action": "confirm",
    }
    page = client_as("Billing").post(reverse("orders:service-change", args=[service.pk]), data)
    assert page.status_code == 400
    assert page.context["form"].errors["recurring_amount"][0].startswith("Prices below 50 %")


def test_a_refusal_at_approval_time_comes_back_on_the_page_and_the_request_stays(
    client_as, make_staff, paid
):
    from billing import services as billing

    made = _request_refund(paid, make_staff("Billing", username="maker"), amount="250")
    # Meanwhile most of the payment is refunded another way: 250 no longer fits.
    billing.refund_payment(payment=paid, amount=Decimal("100"), actor=None, reason="partial")
    page = client_as("Billing", username="checker").post(
        reverse("approvals:request-approve", args=[made.pk]), {"reason": "ok"}
    )
    assert page.status_code == 400
    assert page.context["decision_form"].errors  # the service's refusal, on the page
    made.refresh_from_db()
    assert made.status == "pending"
    assert Transaction.objects.filter(refund_of=paid).count() == 1
