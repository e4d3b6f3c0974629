import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Invoice
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from hosting.models import Domain, Service
from orders import services
from orders.models import Order, ServiceChange
from orders.services import ProductLineData
from tests.factories.clients import ClientFactory
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import make_catalog

pytestmark = pytest.mark.django_db
NEW = reverse("orders:order-create")


@pytest.fixture
def catalog(db):
    return make_catalog()


@pytest.fixture
def customer(db):
    return ClientFactory(email="buyer@example.com")


def order_post(customer, products=(), domains=(), addons=(), **options):
    data = {
        "client": customer.pk,
        "order_status": "pending",
        "item_status": "pending",
        "payment_method": "",
        "promotion_code": "",
        "send_confirmation": "on",
        "generate_invoice": "on",
        "admin_notes": "",
        "audit_reason": "",
        "action": "preview",
    }
    for prefix, rows in (("products", products), ("domains", domains), ("addons", addons)):
        data[f"{prefix}-TOTAL_FORMS"] = len(rows)
        data[f"{prefix}-INITIAL_FORMS"] = 0
        for i, row in enumerate(rows):
            for key, value in row.items():
                data[f"{prefix}-{i}-{key}"] = value
    data.update(options)
    return data


def product_row(catalog, **kw):
    return {"product": catalog.basic.pk, "billing_cycle": "monthly", "quantity": 1, **kw}


def domain_row(name="shop.com", **kw):
    return {"name": name, "order_type": "register", "period_years": 1, **kw}


@pytest.mark.parametrize(
    ("role", "list_status", "new_status"),
    [(BILLING, 200, 200), (SUPPORT, 200, 403), (READ_ONLY, 200, 403), (None, 403, 403)],
)
def test_permissions(client_as, role, list_status, new_status):
    http = client_as(role)
    assert http.get(reverse("orders:order-list")).status_code == list_status
    assert http.get(NEW).status_code == new_status


def test_choose_the_client_then_the_form(client_as, customer, catalog):
    http = client_as(BILLING)
    page = http.get(NEW)
    assert b'id="id_client"' in page.content
    page = http.get(NEW, {"client": customer.pk})
    assert page.status_code == 200
    assert b'name="products-0-product"' in page.content
    assert customer.full_name.encode() in page.content


def test_add_a_line_keeps_what_was_typed(client_as, customer, catalog):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, hostname="shop.com")],
        action="add_domain",
        admin_notes="call first",
        send_confirmation="",
    )
    page = http.post(NEW, data)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="domains-0-name"' in html and 'value="shop.com"' in html
    assert "call first" in html
    assert Order.objects.count() == 0
    # An unticked box stays unticked (its default is ticked).
    confirmation = page.context["form"]["send_confirmation"]
    assert confirmation.value() is False


def test_preview_shows_what_will_be_created_and_saves_nothing(client_as, customer, catalog):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, hostname="shop.com")],
        domains=[domain_row()],
        order_status="active",
    )
    page = http.post(NEW, data)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hosting account: Basic - shop.com (pending)" in html
    assert "Domain: shop.com (pending)" in html
    assert "Order confirmation to buyer@example.com" in html
    assert "16.00 GBP" in html  # 5.00 + 1.00 setup + 10.00 registration
    assert Order.objects.count() == 0 and Service.objects.count() == 0


def test_place_and_accept(client_as, customer, catalog):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, hostname="shop.com")],
        domains=[domain_row()],
        addons=[{"definition": catalog.backup.pk, "billing_cycle": "monthly", "target": "line:0"}],
        order_status="active",
        item_status="active",
        action="place",
    )
    page = http.post(NEW, data)
    order = Order.objects.get()
    assert page.status_code == 302 and page.url == order.get_absolute_url()
    assert order.status == "active" and order.invoice.total == Decimal("18.00")
    service = Service.objects.get()
    assert service.addons.get().service == service
    assert Domain.objects.get().service == service
    detail = http.get(order.get_absolute_url())
    assert b"Daily backups" in detail.content and str(order.invoice).encode() in detail.content


def test_a_removed_product_line_moves_the_addon_target_with_it(client_as, customer, catalog):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, DELETE="on"), product_row(catalog, hostname="two.com")],
        addons=[{"definition": catalog.backup.pk, "billing_cycle": "monthly", "target": "line:1"}],
        order_status="active",
        action="place",
    )
    assert http.post(NEW, data).status_code == 302
    assert Service.objects.get().domain == "two.com"
    assert Service.objects.get().addons.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domains-0-name": "shop.org"}, "We do not sell .org domains."),
        ({"domains-0-order_type": "transfer"}, "A transfer needs the EPP code."),
        ({"products-0-price": "abc"}, "Enter a number."),
        ({"products-0-price": "1e400"}, "no more than 12 digits in total"),
        ({"products-0-quantity": "0"}, "greater than or equal to 1"),
        ({"promotion_code": "NOPE"}, "There is no active promotion with this code."),
        ({"products-0-price": "3.00"}, "Say why a price differs from the catalog."),
    ],
)
def test_bad_input_comes_back_with_the_input_and_saves_nothing(
    client_as, customer, catalog, change, message
):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, hostname="keep-me.com")],
        domains=[domain_row()],
        order_status="active",
        action="place",
    )
    data.update(change)
    page = http.post(NEW, data)
    assert page.status_code == 400
    html = page.content.decode()
    assert message in html
    assert 'value="keep-me.com"' in html
    assert Order.objects.count() == 0 and Service.objects.count() == 0


def test_a_line_error_lands_on_its_row(client_as, customer, catalog):
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog)],
        domains=[domain_row("ok.com"), domain_row("bad.org")],
        action="preview",
    )
    page = http.post(NEW, data)
    assert page.status_code == 400
    row = page.context["lines"].sets["domains"].forms[1]
    assert row.errors["name"] == ["We do not sell .org domains."]
    assert not page.context["lines"].sets["domains"].forms[0].errors


def test_script_in_notes_is_shown_as_text(client_as, customer, catalog, staff_admin):
    order = services.place_order(
        client=customer,
        products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
        admin_notes="<script>alert(1)</script>",
        actor=staff_admin,
    )
    html = client_as(BILLING).get(order.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_accept_and_cancel_through_the_pages(client_as, customer, catalog, staff_admin):
    order = services.place_order(
        client=customer,
        products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
        actor=staff_admin,
    )
    http = client_as(BILLING)
    accept = reverse("orders:order-accept", args=[order.pk])
    assert http.get(accept).status_code == 200
    page = http.post(accept, {"item_status": "active", "generate_invoice": "on"})
    assert page.status_code == 302
    order.refresh_from_db()
    assert order.status == "active" and order.invoice is not None
    cancel = reverse("orders:order-status", args=[order.pk, "cancelled"])
    assert http.post(cancel, {"reason": ""}).status_code == 400
    page = http.post(
        cancel, {"reason": "Duplicate", "cancel_records": "on", "cancel_invoice": "on"}
    )
    assert page.status_code == 302
    assert Service.objects.get().status == "cancelled"
    assert Invoice.objects.get().status == "cancelled"
    assert http.get(reverse("orders:order-status", args=[order.pk, "bogus"])).status_code == 404


def test_orders_list_filters_and_runs_constant_queries(
    client_as, catalog, staff_admin, django_assert_max_num_queries
):
    http = client_as(BILLING)
    buyers = [ClientFactory() for _ in range(3)]
    for buyer in buyers * 4:
        services.place_order(
            client=buyer,
            products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
            actor=staff_admin,
            send_confirmation=False,
            accept=True,
            send_invoice_email=False,
        )
    url = reverse("orders:order-list")
    with django_assert_max_num_queries(12):
        page = http.get(url)
    assert len(page.context["object_list"]) == 12
    page = http.get(url, {"client": buyers[0].pk, "status": "active"})
    assert len(page.context["object_list"]) == 4
    today = dt.date.today().isoformat()
    assert len(http.get(url, {"placed_from": today}).context["object_list"]) == 12
    assert http.get(url, {"placed_from": "yesterday"}).status_code == 200
    order = Order.objects.first()
    with django_assert_max_num_queries(16):
        http.get(order.get_absolute_url())
    with django_assert_max_num_queries(20):
        http.get(buyers[0].get_absolute_url() + "?tab=orders")


# Service changes ------------------------------------------------------------------------------


@pytest.fixture
def service(catalog, customer):
    return ServiceFactory(
        client=customer,
        product=catalog.basic,
        recurring_amount=Decimal("5.00"),
        next_due_date=dt.date.today() + dt.timedelta(days=15),
    )


def test_upgrade_preview_then_confirm(client_as, service, catalog):
    http = client_as(BILLING)
    url = reverse("orders:service-change", args=[service.pk])
    assert http.get(url).status_code == 200
    data = {"product": catalog.pro.pk, "billing_cycle": "monthly", "send_invoice_email": ""}
    page = http.post(url, {**data, "action": "preview"})
    assert page.status_code == 200
    plan = page.context["plan"]
    assert plan.kind == "upgrade" and plan.proration.days_left == 15
    assert b"Confirming creates an invoice" in page.content
    assert ServiceChange.objects.count() == 0
    page = http.post(url, {**data, "action": "confirm"})
    assert page.status_code == 302
    change = ServiceChange.objects.get()
    assert change.invoice.total == plan.proration.difference
    tab = http.get(service.get_absolute_url() + "?tab=changes")
    assert tab.status_code == 200
    assert str(change.invoice).encode() in tab.content
    overview = http.get(service.get_absolute_url())
    assert b"waiting for invoice" in overview.content


def test_upgrade_page_refusals_keep_the_input(client_as, service, catalog):
    http = client_as(BILLING)
    url = reverse("orders:service-change", args=[service.pk])
    page = http.post(
        url,
        {
            "product": catalog.pro.pk,
            "billing_cycle": "monthly",
            "recurring_amount": "7.77",
            "action": "confirm",
        },
    )
    assert page.status_code == 400
    assert b"Say why the new price differs from the catalog." in page.content
    assert b'value="7.77"' in page.content
    page = http.post(url, {"product": "999999", "billing_cycle": "weekly", "action": "preview"})
    assert page.status_code == 400
    assert ServiceChange.objects.count() == 0


def test_cancellation_and_withdraw_pages(client_as, service):
    http = client_as(BILLING)
    url = reverse("orders:service-cancel", args=[service.pk])
    assert http.post(url, {"when": "end_of_period", "reason": ""}).status_code == 400
    page = http.post(url, {"when": "end_of_period", "reason": "Closing the shop"})
    assert page.status_code == 302
    change = ServiceChange.objects.get()
    assert change.status == "pending"
    withdraw = reverse("orders:change-withdraw", args=[change.pk])
    assert http.post(withdraw, {"reason": "Stays"}).status_code == 302
    change.refresh_from_db()
    assert change.status == "withdrawn"


def test_support_can_see_changes_but_not_request_them(client_as, service):
    http = client_as(SUPPORT)
    assert http.get(service.get_absolute_url() + "?tab=changes").status_code == 200
    assert http.get(reverse("orders:service-change", args=[service.pk])).status_code == 403
    assert http.get(reverse("orders:service-cancel", args=[service.pk])).status_code == 403


@pytest.mark.parametrize("role", [ADMIN, BILLING, SUPPORT, READ_ONLY, "superuser"])
def test_the_admin_page_of_an_order_opens_for_whoever_may_view_orders(
    role, client_as, customer, catalog, staff_admin
):
    order = services.place_order(
        client=customer,
        products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
        actor=staff_admin,
    )
    http = client_as(None, is_superuser=True) if role == "superuser" else client_as(role)
    response = http.get(reverse("admin:orders_order_change", args=[order.pk]))
    allowed = response.wsgi_request.user.has_perm("orders.view_order")
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert catalog.basic.name in response.content.decode()


def test_an_epp_code_too_long_to_store_is_an_error_on_its_row(client_as, customer, catalog):
    wide = "€" * 200  # 200 characters but 600 bytes: the encrypted token would not fit
    data = order_post(
        customer,
        domains=[domain_row(order_type="transfer", epp_code=wide)],
        action="place",
    )
    page = client_as(BILLING).post(NEW, data)
    assert page.status_code == 400
    row = page.context["lines"].sets["domains"].forms[0]
    assert "epp_code" in row.errors
    assert row["name"].value() == "shop.com"
    assert not Order.objects.exists()
