import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from hosting import services
from hosting.models import Domain, Product, SecretReveal, Service, ServiceEvent, Tld
from tests.factories.clients import ClientFactory
from tests.factories.hosting import DomainFactory, ProductFactory, ServerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 1, 31)


def _service_data(product, **extra):
    return {"product": product, "registration_date": TODAY, "billing_cycle": "monthly", **extra}


def test_amounts_come_from_the_catalog_and_next_due_is_one_cycle_later(staff_admin):
    product = ProductFactory(monthly=Decimal("5.00"))
    service = services.create_service(
        client=ClientFactory(currency="GBP"),
        data=_service_data(product, quantity=2),
        actor=staff_admin,
    )
    assert service.recurring_amount == Decimal("10.00")
    assert service.first_payment_amount == Decimal("11.00")  # setup fee + first cycle
    assert service.price_overridden is False
    assert service.next_due_date == dt.date(2026, 2, 28)  # month-end clamps


def test_overriding_the_catalog_price_needs_a_reason(staff_admin):
    product = ProductFactory(monthly=Decimal("5.00"))
    data = _service_data(product, first_payment_amount=Decimal("3"), recurring_amount=Decimal("3"))
    with pytest.raises(ValidationError) as exc:
        services.create_service(client=ClientFactory(), data=data, actor=staff_admin)
    assert exc.value.code == "reason_required"
    service = services.create_service(
        client=ClientFactory(), data=data, actor=staff_admin, reason="loyalty discount"
    )
    assert service.price_overridden is True


def test_no_catalog_price_in_the_clients_currency_asks_for_amounts(staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.create_service(
            client=ClientFactory(currency="EUR"),
            data=_service_data(ProductFactory()),
            actor=staff_admin,
        )
    assert exc.value.code == "no_catalog_price"


def test_retired_products_and_inactive_servers_are_refused(staff_admin):
    retired = ProductFactory(retired=True)
    with pytest.raises(ValidationError) as exc:
        services.create_service(
            client=ClientFactory(), data=_service_data(retired), actor=staff_admin
        )
    assert exc.value.error_dict["product"][0].code == "product_retired"
    data = _service_data(ProductFactory(), server=ServerFactory(active=False))
    with pytest.raises(ValidationError) as exc:
        services.create_service(client=ClientFactory(), data=data, actor=staff_admin)
    assert exc.value.error_dict["server"][0].code == "server_inactive"


def test_retiring_a_product_keeps_existing_services_editable(staff_admin):
    service = ServiceFactory()
    Product.objects.filter(pk=service.product_id).update(retired=True)
    services.update_service(service=service, data={"admin_notes": "still here"}, actor=staff_admin)
    service.refresh_from_db()
    assert service.admin_notes == "still here"
    assert service.product.retired


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("pending", "active", True),
        ("active", "suspended", True),
        ("suspended", "active", True),
        ("active", "terminated", True),
        ("terminated", "active", False),
        ("fraud", "active", False),
        ("pending", "suspended", False),
        ("cancelled", "active", True),
    ],
)
def test_service_status_transitions_follow_the_map(start, target, allowed, staff_admin):
    service = ServiceFactory(status=start, suspension_reason="x" if start == "suspended" else "")
    if allowed:
        services.change_service_status(
            service=service, new_status=target, actor=staff_admin, reason="because"
        )
        service.refresh_from_db()
        assert service.status == target
    else:
        with pytest.raises(ValidationError) as exc:
            services.change_service_status(
                service=service, new_status=target, actor=staff_admin, reason="because"
            )
        assert exc.value.code == "invalid_transition"


def test_suspending_records_the_reason_and_unsuspending_clears_it(staff_admin):
    service = ServiceFactory()
    with pytest.raises(ValidationError) as exc:
        services.change_service_status(
            service=service, new_status="suspended", actor=staff_admin, reason=""
        )
    assert exc.value.code == "reason_required"
    services.change_service_status(
        service=service, new_status="suspended", actor=staff_admin, reason="unpaid invoice"
    )
    service.refresh_from_db()
    assert service.suspension_reason == "unpaid invoice"
    event = ServiceEvent.objects.filter(pgh_obj_id=service.pk).latest("pgh_id")
    assert event.pgh_context.metadata["reason"] == "unpaid invoice"
    services.change_service_status(
        service=service, new_status="active", actor=staff_admin, reason="paid"
    )
    service.refresh_from_db()
    assert service.suspension_reason == ""


def test_the_database_refuses_a_suspension_without_a_reason():
    service = ServiceFactory()
    with pytest.raises(DatabaseError), transaction.atomic():
        Service.objects.filter(pk=service.pk).update(status="suspended")


def test_passwords_are_encrypted_at_rest_and_reveals_are_recorded(staff_admin):
    service = services.create_service(
        client=ClientFactory(),
        data=_service_data(ProductFactory()),
        actor=staff_admin,
        password="s3cret-Pass",
    )
    assert "s3cret" not in service.password
    event = ServiceEvent.objects.get(pgh_obj_id=service.pk)
    assert event.password.startswith("sha256:")
    with pytest.raises(ValidationError):
        services.reveal_service_password(service=service, actor=staff_admin, reason="")
    assert (
        services.reveal_service_password(
            service=service, actor=staff_admin, reason="client on the phone"
        )
        == "s3cret-Pass"
    )
    reveal = SecretReveal.objects.get()
    assert reveal.revealed_by == staff_admin and reveal.reason == "client on the phone"


def test_update_service_stores_the_typed_password_with_the_edit(staff_admin):
    service = ServiceFactory()
    services.update_service(
        service=service, data={"admin_notes": "moved"}, actor=staff_admin, password="N3w-pass"
    )
    assert (
        services.reveal_service_password(
            service=Service.objects.get(pk=service.pk), actor=staff_admin, reason="checking"
        )
        == "N3w-pass"
    )


def test_a_refused_edit_stores_no_password(staff_admin):
    service = ServiceFactory()
    before = Service.objects.get(pk=service.pk).password
    with pytest.raises(ValidationError):
        services.update_service(
            service=service, data={"quantity": 0}, actor=staff_admin, password="N3w-pass"
        )
    assert Service.objects.get(pk=service.pk).password == before


@pytest.fixture
def sold(db):
    for name in ("com", "de", "co.uk"):
        tld = Tld.objects.create(name=name)
        tld.prices.create(
            currency="GBP",
            years=1,
            register=Decimal("10"),
            transfer=Decimal("9"),
            renew=Decimal("11"),
        )
        tld.prices.create(
            currency="GBP",
            years=2,
            register=Decimal("20"),
            transfer=Decimal("18"),
            renew=Decimal("22"),
        )


def _domain_data(name="bücher.de", **extra):
    return {
        "name": name,
        "order_type": "register",
        "period_years": 1,
        "registration_date": TODAY,
        "nameservers": ["ns1.example.net", "ns2.example.net"],
        **extra,
    }


def test_domain_is_stored_as_a_label_with_derived_expiry_and_tld_prices(staff_admin, sold):
    domain = services.create_domain(
        client=ClientFactory(), data=_domain_data(period_years=2), actor=staff_admin
    )
    assert domain.name == "xn--bcher-kva.de"
    assert str(domain) == "bücher.de"
    assert domain.tld.name == "de"
    assert domain.expiry_date == dt.date(2028, 1, 31)
    assert (domain.first_payment_amount, domain.recurring_amount) == (Decimal("20"), Decimal("22"))


def test_correcting_the_expiry_needs_a_reason(staff_admin, sold):
    data = _domain_data(expiry_date=dt.date(2027, 3, 1))
    with pytest.raises(ValidationError) as exc:
        services.create_domain(client=ClientFactory(), data=data, actor=staff_admin)
    assert exc.value.code == "reason_required"
    domain = services.create_domain(
        client=ClientFactory(), data=data, actor=staff_admin, reason="registry shows 1 March"
    )
    assert domain.expiry_date == dt.date(2027, 3, 1)


@pytest.mark.parametrize(
    ("nameservers", "code"),
    [
        (["ns1.example.net"], "nameserver_count"),
        ([f"ns{i}.example.net" for i in range(6)], "nameserver_count"),
        (["ns1.example.net", "ns1.example.net"], "nameserver_repeated"),
        (["ns1.example.net", "localhost"], "invalid_nameserver"),
    ],
)
def test_nameserver_rules(nameservers, code, staff_admin, sold):
    with pytest.raises(ValidationError) as exc:
        services.create_domain(
            client=ClientFactory(), data=_domain_data(nameservers=nameservers), actor=staff_admin
        )
    assert exc.value.code == code


def test_transfer_needs_an_epp_code_stored_encrypted(staff_admin, sold):
    with pytest.raises(ValidationError) as exc:
        services.create_domain(
            client=ClientFactory(), data=_domain_data(order_type="transfer"), actor=staff_admin
        )
    assert exc.value.error_dict["epp_code"][0].code == "epp_required"
    domain = services.create_domain(
        client=ClientFactory(),
        data=_domain_data(order_type="transfer"),
        actor=staff_admin,
        epp_code="AbC-123",
    )
    assert "AbC-123" not in domain.epp_code  # stored encrypted (a Fernet token)
    assert domain.first_payment_amount == Decimal("9")
    assert (
        services.reveal_epp_code(domain=domain, actor=staff_admin, reason="transfer out")
        == "AbC-123"
    )
    # The trail keeps only a digest of the stored (encrypted) code: never the code, never
    # the ciphertext that the keys would open.
    from hosting.models import DomainEvent

    event = DomainEvent.objects.get(pgh_obj=domain, pgh_label="insert")
    assert event.epp_code.startswith("sha256:") and len(event.epp_code) == 7 + 64
    assert event.epp_code != domain.epp_code and "AbC" not in event.epp_code


def test_period_must_be_one_to_ten_years(staff_admin, sold):
    with pytest.raises(ValidationError) as exc:
        services.create_domain(
            client=ClientFactory(),
            data=_domain_data(period_years=11),
            actor=staff_admin,
            reason="x",
        )
    assert "period_years" in exc.value.error_dict


def test_the_same_domain_cannot_be_active_twice(staff_admin, sold):
    first = services.create_domain(client=ClientFactory(), data=_domain_data(), actor=staff_admin)
    services.change_domain_status(domain=first, new_status="active", actor=staff_admin, reason="ok")
    second = services.create_domain(
        client=ClientFactory(),
        data=_domain_data("BÜCHER.de"),
        actor=staff_admin,
        reason="Transfer to the new owner being recorded",
    )
    with pytest.raises(ValidationError) as exc:
        services.change_domain_status(
            domain=second, new_status="active", actor=staff_admin, reason="ok"
        )
    codes = {e.code for errors in exc.value.error_dict.values() for e in errors}
    assert "domain_active_elsewhere" in codes
    second.refresh_from_db()
    assert second.status == "pending"


def test_the_database_refuses_a_second_active_domain_even_from_bulk_updates(sold):
    DomainFactory(name="dup.com", status="active")
    other = DomainFactory(name="dup.com", status="pending")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.filter(pk=other.pk).update(status="active")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_activations_of_one_domain_let_exactly_one_win(make_staff):
    Tld.objects.create(name="com")
    actor = make_staff("Admin")
    domains = [DomainFactory(name="race.com", status="pending") for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def activate(domain):
        try:
            barrier.wait(timeout=10)
            services.change_domain_status(
                domain=domain, new_status="active", actor=actor, reason="race"
            )
            outcomes.append("ok")
        except Exception as exc:  # the loser's outcome, whatever it is, is checked below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(d,)) for d in domains]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(outcomes) == 2, outcomes
    assert outcomes.count("ok") == 1
    (lost,) = [o for o in outcomes if o != "ok"]
    # The loser gets the form's coded error, not a database exception (a 500).
    assert isinstance(lost, ValidationError), repr(lost)
    errors = (
        [e for errs in lost.error_dict.values() for e in errs]
        if hasattr(lost, "error_dict")
        else lost.error_list
    )
    assert {e.code for e in errors} == {"domain_active_elsewhere"}, lost.messages
    assert Domain.objects.filter(name="race.com", status="active").count() == 1


def test_predefined_addons_must_apply_to_the_product(staff_admin, catalog):
    from hosting.models import AddonDefinition

    vps = Product.objects.get(name="VPS 4 GB")
    service = ServiceFactory(product=vps)
    backups = AddonDefinition.objects.get(name="Daily backups")  # shared hosting only
    with pytest.raises(ValidationError) as exc:
        services.add_addon(
            service=service,
            data={"definition": backups, "billing_cycle": "monthly"},
            actor=staff_admin,
        )
    assert exc.value.error_dict["definition"][0].code == "addon_not_for_product"
    ip = AddonDefinition.objects.get(name="Dedicated IP")
    addon = services.add_addon(
        service=service, data={"definition": ip, "billing_cycle": "monthly"}, actor=staff_admin
    )
    assert addon.recurring_price == Decimal("3.00")


def test_custom_addon_needs_a_name_and_a_price(staff_admin):
    service = ServiceFactory()
    with pytest.raises(ValidationError):
        services.add_addon(
            service=service,
            data={"billing_cycle": "monthly", "recurring_price": Decimal("1")},
            actor=staff_admin,
        )
    addon = services.add_addon(
        service=service,
        data={
            "name": "Extra mailbox",
            "billing_cycle": "annually",
            "recurring_price": Decimal("12"),
        },
        actor=staff_admin,
    )
    assert str(addon) == "Extra mailbox"


def test_a_secret_too_long_for_its_column_is_refused_by_the_service(staff_admin):
    from hosting import crypto

    service = ServiceFactory()
    domain = DomainFactory()
    wide = "€" * 101  # 101 characters, 303 bytes: its token would not fit 500 characters
    with pytest.raises(ValidationError) as refused:
        services.set_service_password(service=service, password=wide, actor=staff_admin)
    assert refused.value.error_dict["password"][0].code == "secret_too_long"
    with pytest.raises(ValidationError) as refused:
        services.set_epp_code(domain=domain, epp_code=wide, actor=staff_admin)
    assert refused.value.error_dict["epp_code"][0].code == "secret_too_long"
    assert len(crypto.encrypt("€" * 100)) <= Service._meta.get_field("password").max_length


# The business rules, written out (not read back from the map): a domain flagged as fraud never
# goes live again, whatever the map says; only the listed moves are allowed.
@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("pending", "active", True),
        ("active", "expired", True),
        ("expired", "active", True),
        ("cancelled", "active", True),
        ("transferred_away", "active", True),
        ("fraud", "cancelled", True),
        ("fraud", "active", False),
        ("fraud", "expired", False),
        ("pending", "expired", False),
        ("cancelled", "fraud", False),
    ],
)
def test_domain_status_moves_follow_the_business_rules(start, target, allowed, staff_admin):
    from django.db import DatabaseError, transaction

    from tests.factories.hosting import DomainFactory

    domain = DomainFactory(status=start)
    if allowed:
        services.change_domain_status(
            domain=domain, new_status=target, actor=staff_admin, reason="because"
        )
        domain.refresh_from_db()
        assert domain.status == target
        return
    with pytest.raises(ValidationError) as exc:
        services.change_domain_status(
            domain=domain, new_status=target, actor=staff_admin, reason="because"
        )
    assert exc.value.code == "invalid_transition"
    # The database refuses it too (the admin, the shell).
    with pytest.raises(DatabaseError), transaction.atomic():
        type(domain).objects.filter(pk=domain.pk).update(status=target)


def test_a_new_product_with_the_old_amounts_resent_is_an_override_that_needs_a_reason(
    staff_admin,
):
    """Issue 15, item 9: changing product (5 -> 50 a month) with the form's old amounts kept
    5.00 unflagged; and once flagged, later overrides needed no reason."""
    basic, big = ProductFactory(monthly=Decimal("5.00")), ProductFactory(monthly=Decimal("50.00"))
    service = services.create_service(
        client=ClientFactory(currency="GBP"), data=_service_data(basic), actor=staff_admin
    )
    amounts = {
        "first_payment_amount": service.first_payment_amount,
        "recurring_amount": service.recurring_amount,
    }
    with pytest.raises(ValidationError) as exc:
        services.update_service(
            service=service, data={"product": big, **amounts}, actor=staff_admin
        )
    assert exc.value.code == "reason_required"
    service = services.update_service(
        service=service, data={"product": big, **amounts}, actor=staff_admin, reason="old deal"
    )
    assert service.price_overridden is True and service.recurring_amount == Decimal("5.00")
    # A further override is a new decision: it needs its own reason.
    with pytest.raises(ValidationError) as exc:
        services.update_service(
            service=service, data={"recurring_amount": Decimal("4.00")}, actor=staff_admin
        )
    assert exc.value.code == "reason_required"
    # A change that leaves the override as it was (the admin notes) asks for nothing.
    services.update_service(service=service, data={"admin_notes": "call first"}, actor=staff_admin)


def test_a_client_with_hosting_but_no_invoice_cannot_change_currency(staff_admin):
    """Issue 15, item 8: the lock held only from the first invoice, so a client's accounts
    kept their GBP amounts while the client (and its next invoices) moved to EUR."""
    from clients.services import update_client

    customer = ClientFactory(currency="GBP")
    ServiceFactory(client=customer)
    with pytest.raises(ValidationError) as exc:
        update_client(client=customer, data={"currency": "EUR"}, actor=staff_admin)
    assert exc.value.code == "currency_locked"
    customer.refresh_from_db()
    assert customer.currency == "GBP"
    # A client with nothing priced yet may still change.
    empty = ClientFactory(currency="GBP")
    update_client(client=empty, data={"currency": "EUR"}, actor=staff_admin)


# The same name entered twice (issue 15 item 20) ---------------------------------------------


def test_a_name_pending_or_active_elsewhere_needs_a_reason_to_be_entered_again(
    staff_admin, sold, client_as
):
    first = services.create_domain(
        client=ClientFactory(), data=_domain_data(name="shop.de"), actor=staff_admin
    )
    other = ClientFactory()
    with pytest.raises(ValidationError) as exc:
        services.create_domain(client=other, data=_domain_data(name="shop.de"), actor=staff_admin)
    assert exc.value.code == "reason_required"
    assert f"#{first.pk}" in str(exc.value) and "pending" in str(exc.value)
    assert Domain.objects.filter(name="shop.de").count() == 1
    # The form says so, with the input kept.
    page = client_as("Admin").post(
        reverse("hosting:domain-create", args=[other.pk]),
        {
            "name": "shop.de",
            "order_type": "register",
            "registrar": "",
            "period_years": "1",
            "registration_date": TODAY.isoformat(),
            "ns1": "ns1.example.net",
            "ns2": "ns2.example.net",
            "audit_reason": "",
        },
    )
    assert page.status_code == 400
    assert "already pending" in page.content.decode()
    assert page.context["form"]["name"].value() == "shop.de"
    # With a reason (a transfer between clients is being recorded), it is entered.
    again = services.create_domain(
        client=other,
        data=_domain_data(name="shop.de"),
        actor=staff_admin,
        reason="Moving to the reseller's account",
    )
    assert again.status == "pending"
    # Renaming another record onto it is the same case.
    third = services.create_domain(
        client=ClientFactory(), data=_domain_data(name="shop2.de"), actor=staff_admin
    )
    with pytest.raises(ValidationError) as exc:
        services.update_domain(domain=third, data={"name": "shop.de"}, actor=staff_admin)
    assert exc.value.code == "reason_required"
