import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from hosting.models import Domain, SecretReveal, Service
from tests.factories.clients import ClientFactory
from tests.factories.hosting import DomainFactory, ProductFactory, ServerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _count(http, url):
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("role", "can_edit"), [(ADMIN, True), (BILLING, True), (SUPPORT, True), (READ_ONLY, False)]
)
def test_permissions_on_hosting_pages(role, can_edit, client_as):
    service = ServiceFactory()
    domain = DomainFactory(client=service.client)
    http = client_as(role)
    for url in (
        reverse("hosting:service-list"),
        reverse("hosting:domain-list"),
        service.get_absolute_url(),
        domain.get_absolute_url(),
        service.client.get_absolute_url() + "?tab=services",
        service.client.get_absolute_url() + "?tab=domains",
    ):
        assert http.get(url).status_code == 200, url
    for url in (
        reverse("hosting:service-create", args=[service.client_id]),
        reverse("hosting:service-update", args=[service.pk]),
        reverse("hosting:service-status", args=[service.pk, "suspended"]),
        reverse("hosting:domain-create", args=[service.client_id]),
        reverse("hosting:domain-update", args=[domain.pk]),
        reverse("hosting:addon-create", args=[service.pk]),
    ):
        assert http.get(url).status_code == (200 if can_edit else 403), (url, role)
    # Revealing a stored secret is a right of its own (hosting.reveal_secret), Admins' by default.
    for url in (
        reverse("hosting:service-password", args=[service.pk]),
        reverse("hosting:domain-epp", args=[domain.pk]),
    ):
        assert http.get(url).status_code == (200 if role == ADMIN else 403), (url, role)
    history = service.get_absolute_url() + "?tab=history"
    # Its history: whoever may view the account (the audit feed stays Admin-only).
    assert http.get(history).status_code == 200


def test_catalog_is_for_admins_only_in_the_django_admin(client_as):
    assert client_as(BILLING).get(reverse("admin:hosting_product_add")).status_code == 403
    assert client_as(ADMIN).get(reverse("admin:hosting_product_add")).status_code == 200


def test_lists_and_detail_pages_run_constant_queries(staff_client):
    def add(n):
        for _ in range(n):
            service = ServiceFactory(server=ServerFactory())
            DomainFactory(client=service.client, service=service)

    add(5)
    urls = [reverse("hosting:service-list"), reverse("hosting:domain-list")]
    few = [_count(staff_client, u) for u in urls]
    add(45)
    assert [_count(staff_client, u) for u in urls] == few


def test_profile_tabs_run_constant_queries(staff_client):
    client = ClientFactory()
    url = client.get_absolute_url()

    def add(n):
        for _ in range(n):
            service = ServiceFactory(client=client, server=ServerFactory())
            DomainFactory(client=client, service=service)

    add(5)
    few = [_count(staff_client, url + f"?tab={t}") for t in ("services", "domains")]
    add(45)
    assert [_count(staff_client, url + f"?tab={t}") for t in ("services", "domains")] == few


def test_create_service_form_fills_prices_and_shows_errors(staff_client):
    client = ClientFactory(currency="GBP")
    product = ProductFactory(monthly=Decimal("5.00"))
    url = reverse("hosting:service-create", args=[client.pk])
    bad = staff_client.post(
        url,
        {
            "product": product.pk,
            "registration_date": "2026-01-01",
            "billing_cycle": "monthly",
            "quantity": 1,
            "domain": "-bad-.com",
            "dedicated_ip": "999.1.1.1",
        },
    )
    assert bad.status_code == 400
    assert {"domain", "dedicated_ip"} <= set(bad.context["form"].errors)
    ok = staff_client.post(
        url,
        {
            "product": product.pk,
            "registration_date": "2026-01-01",
            "billing_cycle": "monthly",
            "quantity": 1,
            "domain": "Bücher.de",
            "password": "pw-123456",
            "initial_status": "active",
        },
    )
    assert ok.status_code == 302
    service = Service.objects.get()
    assert service.domain == "xn--bcher-kva.de"
    assert service.recurring_amount == Decimal("5.00")


def test_suspend_from_the_page_needs_a_reason(staff_client):
    service = ServiceFactory()
    url = reverse("hosting:service-status", args=[service.pk, "suspended"])
    assert staff_client.post(url, {"audit_reason": ""}).status_code == 400
    staff_client.post(url, {"audit_reason": "abuse report"})
    service.refresh_from_db()
    assert (service.status, service.suspension_reason) == ("suspended", "abuse report")


def test_unknown_status_in_the_url_is_a_404(staff_client):
    service = ServiceFactory()
    assert (
        staff_client.get(
            reverse("hosting:service-status", args=[service.pk, "exploded"])
        ).status_code
        == 404
    )


def test_revealing_the_password_shows_it_once_and_records_it(staff_client):
    from hosting import crypto

    service = ServiceFactory(password=crypto.encrypt("hunter22"))
    url = reverse("hosting:service-password", args=[service.pk])
    assert "hunter22" not in staff_client.get(url).content.decode()
    response = staff_client.post(
        url, {"audit_reason": "client on the phone", "reason_code": "client_request"}
    )
    assert "hunter22" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert SecretReveal.objects.filter(service=service).count() == 1


def test_domain_form_keeps_input_and_flags_fields(staff_client):
    from hosting.models import Tld

    Tld.objects.create(name="com").prices.create(
        currency="GBP",
        years=1,
        register=Decimal("10"),
        transfer=Decimal("10"),
        renew=Decimal("10"),
    )
    client = ClientFactory(currency="GBP")
    url = reverse("hosting:domain-create", args=[client.pk])
    data = {
        "name": "exämple.org",
        "order_type": "register",
        "period_years": 1,
        "registration_date": "2026-01-01",
        "ns1": "ns1.example.net",
        "ns2": "localhost",
        "registrar_lock": "on",
    }
    bad = staff_client.post(url, data)
    assert bad.status_code == 400
    assert bad.context["form"]["name"].value() == "exämple.org"
    errors = bad.context["form"].errors
    assert "ns1" in errors
    good = staff_client.post(url, {**data, "name": "exämple.com", "ns2": "ns2.example.net"})
    assert good.status_code == 302
    domain = Domain.objects.get()
    assert domain.name == "xn--exmple-cua.com"
    assert domain.expiry_date == dt.date(2027, 1, 1)


def test_admin_bulk_suspend_and_due_date_need_a_reason(staff_client):
    chosen = ServiceFactory.create_batch(2)
    ids = [s.pk for s in chosen]
    changelist = reverse("admin:hosting_service_changelist")
    staff_client.post(changelist, {"action": "suspend", "_selected_action": ids})
    assert not Service.objects.filter(status="suspended").exists()
    staff_client.post(
        changelist, {"action": "suspend", "_selected_action": ids, "audit_reason": "chargeback"}
    )
    assert Service.objects.filter(status="suspended", suspension_reason="chargeback").count() == 2
    staff_client.post(
        changelist,
        {
            "action": "set_next_due_date",
            "_selected_action": ids,
            "apply": "1",
            "next_due_date": "2027-01-01",
            "audit_reason": "billing correction",
        },
    )
    assert set(Service.objects.values_list("next_due_date", flat=True)) == {dt.date(2027, 1, 1)}


def test_service_and_domain_search_accept_unicode(staff_client):
    ServiceFactory(domain="xn--bcher-kva.de")
    DomainFactory(name="xn--bcher-kva.com")
    services_found = staff_client.get(reverse("hosting:service-list"), {"q": "bücher"})
    assert len(services_found.context["object_list"]) == 1
    domains_found = staff_client.get(reverse("hosting:domain-list"), {"q": "BÜCHER"})
    assert len(domains_found.context["object_list"]) == 1


def test_admin_domain_form_picks_services_by_autocomplete(staff_client):
    domain = DomainFactory()
    ServiceFactory.create_batch(3)
    page = staff_client.get(reverse("admin:hosting_domain_change", args=[domain.pk]))
    widget = page.context["adminform"].form.fields["service"].widget
    assert type(widget.widget).__name__ == "AutocompleteSelect"


def test_dashboard_lists_accounts_due_this_week_and_expiring_domains(client_as):
    from django.utils import timezone

    today = timezone.localdate()
    due = ServiceFactory(next_due_date=today + dt.timedelta(days=3), domain="due-soon.example")
    ServiceFactory(next_due_date=today + dt.timedelta(days=30), domain="later.example")
    DomainFactory(name="expiring.com", expiry_date=today + dt.timedelta(days=10))
    body = client_as(BILLING).get(reverse("core:dashboard")).content.decode()
    assert due.get_absolute_url() in body
    assert "later.example" not in body
    assert "expiring.com" in body
    assert "Hosting" not in client_as(None).get(reverse("core:dashboard")).content.decode()


def test_addon_status_changes_from_the_account_page_with_a_reason(staff_client, staff_admin):
    from hosting import services as hosting_services
    from hosting.models import Addon

    service = ServiceFactory()
    addon = hosting_services.add_addon(
        service=service,
        data={"name": "Extra IP", "billing_cycle": "monthly", "recurring_price": Decimal("3")},
        actor=staff_admin,
    )
    page = staff_client.get(service.get_absolute_url()).content.decode()
    assert f'id="addon-status-{addon.pk}"' in page
    url = reverse("hosting:addon-status", args=[addon.pk])
    staff_client.post(url, {"status": "active", "audit_reason": ""})
    assert Addon.objects.get().status == "pending"
    staff_client.post(url, {"status": "terminated", "audit_reason": "skip ahead"})
    assert Addon.objects.get().status == "pending"  # not allowed from pending
    staff_client.post(url, {"status": "active", "audit_reason": "paid"})
    assert Addon.objects.get().status == "active"


HUGE_SECRET = "p" * 100_000
END_OF_TIME = "9999-12-31"


def _com_prices():
    from hosting.models import Tld

    Tld.objects.get_or_create(name="com")[0].prices.create(
        currency="GBP", years=1, register=Decimal(10), transfer=Decimal(10), renew=Decimal(10)
    )


def _post_edit(http, url, **changes):
    """The edit form as the page fills it, with ``changes``."""
    form = http.get(url).context["form"]
    return http.post(url, {**{name: form[name].value() or "" for name in form.fields}, **changes})


def test_an_overlong_password_and_a_far_date_are_field_errors_on_a_new_account(staff_client):
    client = ClientFactory(currency="GBP")
    product = ProductFactory(monthly=Decimal("5.00"))
    url = reverse("hosting:service-create", args=[client.pk])
    data = {
        "product": product.pk,
        "registration_date": END_OF_TIME,
        "billing_cycle": "monthly",
        "quantity": 1,
        "domain": "kept.example",
        "password": HUGE_SECRET,
        "initial_status": "active",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert {"password", "registration_date"} <= set(form.errors)
    assert form["domain"].value() == "kept.example"
    assert form["registration_date"].value() == END_OF_TIME
    assert not Service.objects.exists()


def test_an_overlong_password_and_a_far_date_are_field_errors_on_an_account_edit(staff_client):
    service = ServiceFactory(domain="kept.example")
    response = _post_edit(
        staff_client,
        reverse("hosting:service-update", args=[service.pk]),
        password=HUGE_SECRET,
        next_due_date=END_OF_TIME,
        audit_reason="moved",
    )
    assert response.status_code == 400
    assert {"password", "next_due_date"} <= set(response.context["form"].errors)
    assert response.context["form"]["audit_reason"].value() == "moved"


def test_an_overlong_epp_code_and_a_far_date_are_field_errors_on_a_new_domain(staff_client):
    _com_prices()
    client = ClientFactory(currency="GBP")
    url = reverse("hosting:domain-create", args=[client.pk])
    data = {
        "name": "kept.com",
        "order_type": "transfer",
        "period_years": 1,
        "registration_date": END_OF_TIME,
        "ns1": "ns1.example.net",
        "ns2": "ns2.example.net",
        "epp_code": HUGE_SECRET,
    }
    response = staff_client.post(url, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert {"epp_code", "registration_date"} <= set(form.errors)
    assert form["name"].value() == "kept.com"
    assert not Domain.objects.exists()


def test_a_far_registration_date_is_a_field_error_on_a_domain_edit(staff_client):
    domain = DomainFactory()
    response = _post_edit(
        staff_client,
        reverse("hosting:domain-update", args=[domain.pk]),
        registration_date=END_OF_TIME,
    )
    assert response.status_code == 400
    assert "registration_date" in response.context["form"].errors


def test_an_overlong_epp_code_is_a_field_error_when_set_on_its_own(staff_client):
    domain = DomainFactory()
    response = staff_client.post(
        reverse("hosting:domain-epp-set", args=[domain.pk]), {"secret": HUGE_SECRET}
    )
    assert response.status_code == 400
    assert "secret" in response.context["form"].errors


def test_an_epp_code_refused_by_the_service_comes_back_on_the_form(staff_client, monkeypatch):
    from django.core.exceptions import ValidationError

    from hosting import services

    def refuse(**kwargs):
        raise ValidationError({"epp_code": ValidationError("Registry says no.", code="refused")})

    monkeypatch.setattr(services, "set_epp_code", refuse)
    domain = DomainFactory()
    response = staff_client.post(
        reverse("hosting:domain-epp-set", args=[domain.pk]), {"secret": "abc-123"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["secret"] == ["Registry says no."]


def test_a_predefined_addon_from_the_service_page_takes_the_catalog_price(staff_client, catalog):
    """Issue 15, item 11: the form came pre-filled with a 0.00 setup fee, so leaving the
    prices empty (as its help text says) always failed with "Enter the price."."""
    from hosting.models import Addon, AddonDefinition, AddonPrice, Product
    from tests.audit.test_attribution import form_defaults

    vps = Product.objects.get(name="VPS 4 GB")
    service = ServiceFactory(product=vps)
    ip = AddonDefinition.objects.get(name="Dedicated IP")
    url = reverse("hosting:addon-create", args=[service.pk])
    page = staff_client.get(url)
    defaults = form_defaults(page)
    assert defaults.get("setup_fee") in (None, "") and defaults.get("recurring_price") in (None, "")
    response = staff_client.post(url, {**defaults, "definition": ip.pk})
    assert response.status_code == 302, response.context["form"].errors
    addon = Addon.objects.get(service=service)
    price = AddonPrice.objects.get(addon=ip, currency=service.currency, cycle="monthly")
    assert (addon.setup_fee, addon.recurring_price) == (price.setup_fee, price.price)
