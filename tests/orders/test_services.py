import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from billing import services as billing
from billing.models import CreditEntry, Invoice, InvoiceItem
from clients.models import EmailLog
from hosting.models import Addon, Domain, Service
from orders import services
from orders.models import Order, OrderLine, Promotion, ServiceChange
from orders.services import AddonLineData, DomainLineData, ProductLineData
from tests.factories.billing import TaxRuleFactory, make_invoice, pay
from tests.factories.clients import ClientFactory
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import PromotionFactory, make_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    return make_catalog()


@pytest.fixture
def customer(db):
    return ClientFactory(email="buyer@example.com")


def _place(customer, catalog, actor, **kwargs):
    defaults = {
        "products": [
            ProductLineData(product=catalog.basic, billing_cycle="monthly", hostname="shop.com")
        ],
        "domains": [DomainLineData(name="shop.com")],
        "addons": [AddonLineData(definition=catalog.backup, for_line=0)],
    }
    return services.place_order(client=customer, actor=actor, **{**defaults, **kwargs})


def _counts():
    return (
        Service.objects.count(),
        Domain.objects.count(),
        Addon.objects.count(),
        Invoice.objects.count(),
    )


# Pricing and the preview ---------------------------------------------------------------------


def test_plan_prices_lines_and_says_what_it_will_create_and_send(catalog, customer):
    plan = services.plan_order(
        client=customer,
        products=[
            ProductLineData(
                product=catalog.basic, billing_cycle="monthly", quantity=2, hostname="shop.com"
            )
        ],
        domains=[DomainLineData(name="shop.com", period_years=1)],
        addons=[AddonLineData(definition=catalog.backup, for_line=0)],
        accept=True,
    )
    product, domain, addon = plan.lines
    assert (product.first_period_amount, product.setup_fee) == (Decimal("10.00"), Decimal("1.00"))
    assert (domain.first_payment, domain.recurring_amount) == (Decimal("10.00"), Decimal("12.00"))
    assert domain.parent_index == 0  # ordered with the account of the same name
    assert addon.first_payment == Decimal("2.00")
    assert plan.first_payment_total == Decimal("23.00")
    assert plan.totals.total == Decimal("23.00")  # no tax rule for this client
    assert [x.description for x in plan.invoice_lines][1] == "Setup fee: Basic - shop.com"
    assert any("Invoice: 23.00 GBP" in c for c in plan.creates)
    assert plan.emails == [
        "Order confirmation to buyer@example.com",
        "Invoice with PDF to buyer@example.com",
    ]
    assert not plan.needs_reason
    assert _counts() == (0, 0, 0, 0)  # the preview writes nothing


@pytest.mark.parametrize(
    ("kwargs", "key", "code"),
    [
        ({"domains": [DomainLineData(name="shop.org")]}, "domains.0.name", "bad_domain"),
        (
            {"domains": [DomainLineData(name="a.com"), DomainLineData(name="A.com")]},
            "domains.1.name",
            "domain_twice",
        ),
        (
            {"domains": [DomainLineData(name="move.com", order_type="transfer")]},
            "domains.0.epp_code",
            "epp_required",
        ),
        (
            {"domains": [DomainLineData(name="ns.com", nameservers=["ns1.example.net"])]},
            "domains.0.nameservers",
            "nameserver_count",
        ),
        (
            {"addons": [AddonLineData(definition=None, name="", for_line=0)]},
            "addons.0.definition",
            "addon_named",
        ),
        ({"addons": [AddonLineData(name="Extra", for_line=3)]}, "addons.0.target", "bad_target"),
    ],
)
def test_line_errors_name_their_field(catalog, customer, kwargs, key, code):
    lines = {"products": [ProductLineData(product=catalog.basic, billing_cycle="monthly")]}
    with pytest.raises(ValidationError) as exc:
        services.plan_order(client=customer, **{**lines, **kwargs})
    assert exc.value.error_dict[key][0].code == code


def test_no_catalog_price_needs_a_price_and_an_override_needs_a_reason(
    catalog, customer, staff_admin
):
    with pytest.raises(ValidationError) as exc:
        services.plan_order(
            client=customer,
            products=[ProductLineData(product=catalog.basic, billing_cycle="quarterly")],
        )
    assert exc.value.error_dict["products.0.price"][0].code == "no_catalog_price"
    custom = [ProductLineData(product=catalog.basic, billing_cycle="monthly", price=Decimal(3))]
    with pytest.raises(ValidationError) as exc:
        services.place_order(client=customer, products=custom, actor=staff_admin)
    assert exc.value.code == "reason_required"
    order = services.place_order(
        client=customer, products=custom, actor=staff_admin, reason="Loyal customer"
    )
    assert order.price_override_reason == "Loyal customer"
    assert order.lines.get().price_overridden


# Accepting ------------------------------------------------------------------------------------


def test_place_and_accept_creates_everything_and_one_invoice(
    catalog, customer, staff_admin, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(customer, catalog, staff_admin, accept=True, item_status="active")
    order.refresh_from_db()
    assert order.status == Order.Status.ACTIVE and order.accepted_by == staff_admin
    product, domain, addon = order.lines.order_by("position")
    service = product.service
    assert service.status == "active" and service.domain == "shop.com"
    assert service.first_payment_amount == Decimal("6.00")
    assert domain.domain.service == service and domain.domain.status == "active"
    assert domain.domain.nameservers == ["ns1.example-hosting.com", "ns2.example-hosting.com"]
    assert addon.addon.service == service
    invoice = order.invoice
    assert invoice.status == Invoice.Status.UNPAID and invoice.total == Decimal("18.00")
    kinds = list(invoice.items.order_by("position").values_list("kind", "service_id"))
    assert kinds[0] == (InvoiceItem.Kind.SERVICE, service.pk)
    assert {m.subject for m in mailoutbox} == {f"Your order #{order.pk}", f"Invoice {invoice}"}
    kinds = set(EmailLog.objects.filter(client=customer).values_list("kind", flat=True))
    assert kinds == {"order", "invoice"}


def test_pending_order_creates_nothing_until_accepted(catalog, customer, staff_admin):
    order = _place(customer, catalog, staff_admin, send_confirmation=False)
    assert order.status == Order.Status.PENDING
    assert _counts() == (0, 0, 0, 0)
    assert OrderLine.objects.filter(order=order).count() == 3
    order = services.accept_order(order=order, actor=staff_admin, send_invoice_email=False)
    assert _counts() == (1, 1, 1, 1)
    assert Service.objects.get().status == "pending"
    with pytest.raises(ValidationError) as exc:
        services.accept_order(order=order, actor=staff_admin)
    assert exc.value.code == "not_pending"


def test_a_failure_in_the_last_line_leaves_nothing_behind(catalog, customer, staff_admin):
    order = _place(customer, catalog, staff_admin, send_confirmation=False)
    # Between ordering and accepting, someone else's shop.com became active.
    from tests.factories.hosting import DomainFactory

    DomainFactory(name="shop.com", tld=catalog.tld, status="active")
    before = _counts()
    events = connection.cursor()
    events.execute("SELECT count(*) FROM hosting_serviceevent")
    service_events = events.fetchone()[0]
    # The domain is line 2 of 3: product created first, then the refusal.
    with pytest.raises(ValidationError) as exc:
        services.accept_order(order=order, actor=staff_admin)
    assert "Line 2" in exc.value.messages[0]
    assert _counts() == before
    events.execute("SELECT count(*) FROM hosting_serviceevent")
    assert events.fetchone()[0] == service_events
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and order.invoice is None


def test_a_refused_addon_on_the_last_line_rolls_back_the_account_and_domain(
    catalog, customer, staff_admin
):
    order = _place(customer, catalog, staff_admin, send_confirmation=False)
    catalog.backup.products.clear()  # the add-on no longer applies to Basic
    with pytest.raises(ValidationError) as exc:
        services.accept_order(order=order, actor=staff_admin)
    assert "Line 3" in exc.value.messages[0]
    assert _counts() == (0, 0, 0, 0)


# Promotions ----------------------------------------------------------------------------------


def test_percentage_promotion_discounts_the_first_period(catalog, customer, staff_admin):
    PromotionFactory(code="HALF", value=Decimal("50"), products=[catalog.basic])
    order = _place(
        customer, catalog, staff_admin, promotion_code="half", accept=True, domains=[], addons=[]
    )
    line = order.lines.get()
    assert line.discount == Decimal("2.50") and line.recurring_amount == Decimal("5.00")
    assert order.invoice.total == Decimal("3.50")  # 5.00 + 1.00 setup - 2.50
    assert order.invoice.items.filter(description__startswith="Promotion HALF").exists()
    assert Promotion.objects.get().uses == 1


def test_recurring_fixed_promotion_lowers_the_recurring_price(catalog, customer, staff_admin):
    PromotionFactory(
        code="TWO", kind="fixed", value=Decimal("2.00"), currency="GBP", recurring=True
    )
    order = _place(customer, catalog, staff_admin, promotion_code="TWO", accept=True, domains=[])
    product = order.lines.get(kind="product")
    assert product.recurring_amount == Decimal("3.00")
    assert product.service.recurring_amount == Decimal("3.00")


@pytest.mark.parametrize(
    ("promo", "code"),
    [
        ({"active": False}, "promotion_unknown"),
        ({"start_date": dt.date.today() + dt.timedelta(days=1)}, "promotion_not_started"),
        ({"end_date": dt.date.today() - dt.timedelta(days=1)}, "promotion_ended"),
        ({"max_uses": 1, "uses": 1}, "promotion_used_up"),
        ({"kind": "fixed", "currency": "EUR"}, "promotion_currency"),
        ({"cycles": ["annually"]}, "promotion_not_applicable"),
    ],
)
def test_promotion_limits(catalog, customer, staff_admin, promo, code):
    PromotionFactory(code="LIMITED", **promo)
    with pytest.raises(ValidationError) as exc:
        _place(customer, catalog, staff_admin, promotion_code="LIMITED")
    assert exc.value.error_dict["promotion_code"][0].code == code
    assert Order.objects.count() == 0


def test_the_last_use_goes_once_and_a_cancelled_pending_order_gives_it_back(
    catalog, customer, staff_admin
):
    PromotionFactory(code="ONCE", max_uses=1)
    order = _place(customer, catalog, staff_admin, promotion_code="ONCE")
    with pytest.raises(ValidationError):
        _place(customer, catalog, staff_admin, promotion_code="ONCE")
    services.change_order_status(
        order=order, status="cancelled", actor=staff_admin, reason="Client changed their mind"
    )
    assert Promotion.objects.get().uses == 0
    _place(customer, catalog, staff_admin, promotion_code="ONCE")


def test_the_database_refuses_uses_beyond_the_limit(catalog):
    promo = PromotionFactory(code="CAP", max_uses=2, uses=2)
    with pytest.raises(IntegrityError, match="orders_promo_max_uses"):
        Promotion.objects.filter(pk=promo.pk).update(uses=3)


# Cancelling orders ---------------------------------------------------------------------------


def test_cancel_an_accepted_order_with_its_records_and_invoice(catalog, customer, staff_admin):
    order = _place(customer, catalog, staff_admin, accept=True, item_status="active")
    services.change_order_status(
        order=order,
        status="cancelled",
        actor=staff_admin,
        reason="Duplicate order",
        cancel_records=True,
        cancel_invoice=True,
    )
    assert set(Service.objects.values_list("status", flat=True)) == {"cancelled"}
    assert set(Domain.objects.values_list("status", flat=True)) == {"cancelled"}
    assert set(Addon.objects.values_list("status", flat=True)) == {"cancelled"}
    assert Invoice.objects.get().status == "cancelled"


def test_fraud_flags_the_records_and_leaves_the_invoice_when_asked(catalog, customer, staff_admin):
    order = _place(customer, catalog, staff_admin, accept=True)
    services.change_order_status(
        order=order, status="fraud", actor=staff_admin, reason="Stolen card", cancel_records=True
    )
    assert Service.objects.get().status == "fraud"
    assert Domain.objects.get().status == "fraud"
    assert Addon.objects.get().status == "cancelled"  # add-ons have no fraud status
    assert Invoice.objects.get().status == "unpaid"


def test_a_paid_invoice_is_not_cancelled_with_the_order(catalog, customer, staff_admin):
    order = _place(customer, catalog, staff_admin, accept=True)
    pay(order.invoice)
    with pytest.raises(ValidationError) as exc:
        services.change_order_status(
            order=order, status="cancelled", actor=staff_admin, reason="x", cancel_invoice=True
        )
    assert exc.value.code == "invoice_not_cancellable"
    assert Order.objects.get().status == "active"


@pytest.mark.parametrize(
    ("status", "to", "code"),
    [
        ("cancelled", "pending", "invalid_transition"),
        ("pending", "active", "use_accept"),
        ("cancelled", "fraud", "invalid_transition"),
    ],
)
def test_order_transitions(catalog, customer, staff_admin, status, to, code):
    order = _place(customer, catalog, staff_admin)
    if status == "cancelled":
        services.change_order_status(order=order, status=status, actor=staff_admin, reason="x")
    with pytest.raises(ValidationError) as exc:
        services.change_order_status(order=order, status=to, actor=staff_admin, reason="x")
    assert exc.value.code == code


def test_the_database_refuses_a_forbidden_order_transition_and_deleting_an_accepted_order(
    catalog, customer, staff_admin
):
    order = _place(customer, catalog, staff_admin, accept=True)
    with (
        pytest.raises(IntegrityError, match="status cannot go from active to pending"),
        transaction.atomic(),
    ):
        Order.objects.filter(pk=order.pk).update(status="pending")
    with pytest.raises(DatabaseError, match="Cannot delete"), transaction.atomic():
        Order.objects.filter(pk=order.pk).delete()


# Upgrades and downgrades ---------------------------------------------------------------------


@pytest.fixture
def monthly_basic(catalog, customer):
    """Basic at 5.00 a month, due in 15 days of a 30-day period."""
    today = dt.date.today()
    due = today + dt.timedelta(days=15)
    service = ServiceFactory(
        client=customer,
        product=catalog.basic,
        recurring_amount=Decimal("5.00"),
        next_due_date=due,
    )
    return service


def _period_days(service):
    from orders.proration import period_ending

    return period_ending(service.next_due_date, "monthly")[1]


def test_upgrade_invoices_the_difference_and_waits_for_payment(catalog, monthly_basic, staff_admin):
    days = _period_days(monthly_basic)
    change = services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    expected_credit = (Decimal("5.00") * 15 / days).quantize(Decimal("0.01"))
    expected_charge = (Decimal("15.00") * 15 / days).quantize(Decimal("0.01"))
    assert change.kind == "upgrade" and change.status == "pending"
    assert (change.credit_amount, change.charge_amount) == (expected_credit, expected_charge)
    invoice = change.invoice
    assert invoice.total == expected_charge - expected_credit and invoice.status == "unpaid"
    monthly_basic.refresh_from_db()
    assert monthly_basic.product == catalog.basic  # not yet
    pay(invoice, actor=staff_admin)
    change.refresh_from_db()
    monthly_basic.refresh_from_db()
    assert change.status == "applied"
    assert monthly_basic.product == catalog.pro
    assert monthly_basic.recurring_amount == Decimal("15.00")
    assert monthly_basic.next_due_date == dt.date.today() + dt.timedelta(days=15)


def test_upgrade_at_once_needs_a_reason(catalog, monthly_basic, staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=monthly_basic,
            product=catalog.pro,
            billing_cycle="monthly",
            apply_now=True,
            actor=staff_admin,
        )
    assert exc.value.code == "reason_required"
    assert Invoice.objects.count() == 0
    change = services.change_service_product(
        service=monthly_basic,
        product=catalog.pro,
        billing_cycle="monthly",
        apply_now=True,
        actor=staff_admin,
        reason="Site under load, client pays by bank transfer",
    )
    assert change.status == "applied" and change.invoice.status == "unpaid"
    monthly_basic.refresh_from_db()
    assert monthly_basic.product == catalog.pro


def _paid_period(service, amount=None, *, actor):
    """The invoice for the account's current period, paid (what a downgrade may credit)."""
    invoice = make_invoice(
        service.client,
        lines=[
            billing.LineData(
                description=f"{service} this period",
                quantity=Decimal(1),
                unit_price=Decimal(amount or service.recurring_amount),
                kind=InvoiceItem.Kind.SERVICE,
                service=service,
            )
        ],
        actor=actor,
    )
    pay(invoice, actor=actor)
    return invoice


def test_downgrade_credits_the_difference_and_applies_at_once(catalog, customer, staff_admin):
    service = ServiceFactory(
        client=customer,
        product=catalog.pro,
        recurring_amount=Decimal("15.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=10),
    )
    _paid_period(service, actor=staff_admin)
    change = services.change_service_product(
        service=service, product=catalog.basic, billing_cycle="monthly", actor=staff_admin
    )
    assert change.kind == "downgrade" and change.status == "applied"
    assert change.settlement == "credit" and change.difference < 0
    assert billing.credit_balance(customer) == -change.difference
    assert change.credit_entry.kind == CreditEntry.Kind.ADDED


def test_downgrade_without_credit_when_configured(catalog, customer, staff_admin, settings):
    settings.PRORATION_CREDIT_DOWNGRADES = False
    service = ServiceFactory(
        client=customer,
        product=catalog.pro,
        recurring_amount=Decimal("15.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=10),
    )
    change = services.change_service_product(
        service=service, product=catalog.basic, billing_cycle="monthly", actor=staff_admin
    )
    assert change.settlement == "none" and change.status == "applied"
    assert billing.credit_balance(customer) == 0


def test_change_refusals(catalog, monthly_basic, staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=monthly_basic,
            product=catalog.basic,
            billing_cycle="monthly",
            actor=staff_admin,
        )
    assert exc.value.code == "nothing_to_change"
    services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=monthly_basic,
            product=catalog.pro,
            billing_cycle="annually",
            actor=staff_admin,
        )
    assert exc.value.code == "already_pending"
    other = ServiceFactory(
        client=monthly_basic.client,
        product=catalog.basic,
        next_due_date=monthly_basic.next_due_date,
    )
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=other,
            product=catalog.pro,
            billing_cycle="monthly",
            recurring_amount=Decimal("9.00"),
            actor=staff_admin,
        )
    assert exc.value.code == "reason_required"
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=other, product=catalog.pro, billing_cycle="one_time", actor=staff_admin
        )
    assert exc.value.error_dict["billing_cycle"][0].code == "no_period"


def test_cancelling_the_upgrade_invoice_withdraws_the_change(catalog, monthly_basic, staff_admin):
    change = services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    billing.change_invoice_status(
        invoice=change.invoice, status="cancelled", actor=staff_admin, reason="Client declined"
    )
    change.refresh_from_db()
    assert change.status == "withdrawn" and "Client declined" in change.withdraw_reason


def test_withdrawing_a_change_cancels_its_invoice(catalog, monthly_basic, staff_admin):
    change = services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    services.withdraw_change(change=change, actor=staff_admin, reason="Asked by phone")
    change.refresh_from_db()
    assert change.status == "withdrawn" and change.invoice.status == "cancelled"
    with pytest.raises(ValidationError) as exc:
        services.withdraw_change(change=change, actor=staff_admin, reason="again")
    assert exc.value.code == "not_pending"


def test_change_rows_are_frozen_and_undeletable(catalog, monthly_basic, staff_admin):
    change = services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    with pytest.raises(IntegrityError, match="only its status can change"), transaction.atomic():
        ServiceChange.objects.filter(pk=change.pk).update(charge_amount=0, difference=0)
    with (
        pytest.raises(IntegrityError, match="status cannot go from pending to bogus"),
        transaction.atomic(),
    ):
        ServiceChange.objects.filter(pk=change.pk).update(status="bogus")
    with pytest.raises(DatabaseError, match="Cannot delete"), transaction.atomic():
        ServiceChange.objects.filter(pk=change.pk).delete()


# Cancellations -------------------------------------------------------------------------------


def test_immediate_cancellation_cancels_the_account_and_its_addons(
    monthly_basic, staff_admin, catalog
):
    from hosting.services import add_addon

    add_addon(
        service=monthly_basic,
        data={"definition": catalog.backup, "billing_cycle": "monthly"},
        actor=staff_admin,
        status="active",
    )
    with pytest.raises(ValidationError) as exc:
        services.request_cancellation(
            service=monthly_basic, when="immediate", actor=staff_admin, reason=" "
        )
    assert exc.value.code == "reason_required"
    change = services.request_cancellation(
        service=monthly_basic, when="immediate", actor=staff_admin, reason="Moving to a VPS"
    )
    monthly_basic.refresh_from_db()
    assert change.status == "applied" and monthly_basic.status == "cancelled"
    assert monthly_basic.addons.get().status == "cancelled"


def test_end_of_period_cancellation_waits_for_the_daily_command(monthly_basic, staff_admin):
    change = services.request_cancellation(
        service=monthly_basic, when="end_of_period", actor=staff_admin, reason="Closing shop"
    )
    assert change.status == "pending" and change.effective_date == monthly_basic.next_due_date
    with pytest.raises(ValidationError) as exc:
        services.request_cancellation(
            service=monthly_basic, when="end_of_period", actor=staff_admin, reason="again"
        )
    assert exc.value.code == "already_pending"
    call_command("process_cancellations", verbosity=0)  # not due yet
    assert Service.objects.get().status == "active"
    due_day = (monthly_basic.next_due_date).isoformat()
    call_command("process_cancellations", date=due_day, verbosity=0)
    call_command("process_cancellations", date=due_day, verbosity=0)  # idempotent
    change.refresh_from_db()
    assert change.status == "applied"
    assert Service.objects.get().status == "cancelled"
    assert ServiceChange.objects.count() == 1


def test_a_pending_cancellation_blocks_upgrades_until_withdrawn(
    catalog, monthly_basic, staff_admin
):
    change = services.request_cancellation(
        service=monthly_basic, when="end_of_period", actor=staff_admin, reason="Closing shop"
    )
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
        )
    assert exc.value.code == "cancellation_pending"
    services.withdraw_change(change=change, actor=staff_admin, reason="Client stays")
    services.change_service_product(
        service=monthly_basic, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )


# Downgrade credit: only what was paid, with its tax (issue 15 item 4) ------------------------


def test_downgrade_credit_carries_the_tax_the_upgrade_invoice_charged(catalog, staff_admin):
    TaxRuleFactory(country="GB", rate=Decimal("20.000"))
    customer = ClientFactory(currency="GBP", country="GB")
    today = dt.date.today()
    service = ServiceFactory(
        client=customer,
        product=catalog.basic,
        recurring_amount=Decimal("5.00"),
        next_due_date=today + dt.timedelta(days=15),
    )
    _paid_period(service, actor=staff_admin)
    up = services.change_service_product(
        service=service, product=catalog.pro, billing_cycle="monthly", actor=staff_admin
    )
    net = up.difference
    assert up.invoice.total == (net * Decimal("1.2")).quantize(Decimal("0.01"))
    pay(up.invoice, actor=staff_admin)
    down = services.change_service_product(
        service=service,
        product=catalog.basic,
        billing_cycle="monthly",
        actor=staff_admin,
        reason="Client asked to go back",
    )
    assert down.settlement == "credit"
    # Back to the same plan on the same day: the same net, credited with the same 20 % tax.
    assert down.difference == -net
    assert down.credit_entry.amount == up.invoice.total
    assert billing.credit_balance(customer) == up.invoice.total


def test_downgrading_an_account_that_was_never_paid_for_credits_nothing(
    catalog, customer, staff_admin
):
    service = ServiceFactory(
        client=customer,
        product=catalog.pro,
        status="pending",
        recurring_amount=Decimal("15.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=14),
    )
    change = services.change_service_product(
        service=service, product=catalog.basic, billing_cycle="monthly", actor=staff_admin
    )
    assert change.difference < 0
    assert change.settlement == "none" and change.credit_entry is None
    assert billing.credit_balance(customer) == 0
    service.refresh_from_db()
    assert service.product == catalog.basic


def test_downgrade_credit_is_capped_at_what_was_paid_for_the_period(catalog, customer, staff_admin):
    service = ServiceFactory(
        client=customer,
        product=catalog.pro,
        recurring_amount=Decimal("15.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=15),
    )
    _paid_period(service, "3.00", actor=staff_admin)  # a discounted first month
    change = services.change_service_product(
        service=service, product=catalog.basic, billing_cycle="monthly", actor=staff_admin
    )
    assert -change.difference > Decimal("3.00")
    assert change.credit_entry.amount == Decimal("3.00")


# Proration never runs past one period (issue 15 item 10) ------------------------------------


def test_a_due_date_typo_far_in_the_future_needs_a_reason_and_credits_one_period_at_most(
    catalog, customer, staff_admin
):
    today = dt.date.today()
    service = ServiceFactory(
        client=customer,
        product=catalog.pro,
        recurring_amount=Decimal("15.00"),
        next_due_date=today.replace(year=today.year + 180),
    )
    _paid_period(service, actor=staff_admin)
    with pytest.raises(ValidationError) as exc:
        services.change_service_product(
            service=service, product=catalog.basic, billing_cycle="monthly", actor=staff_admin
        )
    assert exc.value.code == "due_beyond_period"
    assert str(service.next_due_date.year) in str(exc.value)
    assert billing.credit_balance(customer) == 0
    change = services.change_service_product(
        service=service,
        product=catalog.basic,
        billing_cycle="monthly",
        actor=staff_admin,
        reason="Paid ahead for years under the old contract",
    )
    assert change.days_left == change.days_in_period
    assert -change.difference == Decimal("10.00")  # one month of 15.00 - 5.00, no more
