"""Record-wide history (audit/scope.py): a client's History tab covers the client and every row
that belongs to it, for whoever may view the client, minus what they may not see."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from affiliates.models import Affiliate
from audit import scope
from audit.feed import Feed, FeedFilters
from billing.services import add_credit
from clients.models import Client
from clients.services import add_contact, add_note, set_custom_values
from core.roles import ADMIN, BILLING, SUPPORT
from hosting.services import add_addon
from orders.services import AddonLineData, DomainLineData, ProductLineData, place_order
from support.models import DepartmentRole
from support.services import add_reply
from tests.factories.affiliates import enrol
from tests.factories.billing import line, make_invoice, pay
from tests.factories.clients import ClientFactory, CustomFieldFactory
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.orders import make_catalog
from tests.factories.support import CommunicationFactory, DepartmentFactory, open_ticket

pytestmark = pytest.mark.django_db

# Every kind of row the issue lists under a client, by its event table's model.
CHILD_KINDS = {
    "clients.client",
    "clients.contact",
    "clients.note",
    "clients.customfieldvalue",
    "hosting.service",
    "hosting.addon",
    "hosting.domain",
    "billing.invoice",
    "billing.invoiceitem",
    "billing.transaction",
    "billing.allocation",
    "billing.creditentry",
    "orders.order",
    "orders.orderline",
    "support.ticket",
    "support.ticketreply",
    "support.communication",
    "affiliates.affiliate",
}


def _addon(service, catalog, actor):
    return add_addon(
        service=service,
        data={
            "definition": catalog.backup,
            "billing_cycle": "monthly",
            "recurring_price": Decimal("2.00"),
        },
        actor=actor,
        reason="as agreed",
    )


def _world(customer, actor, catalog):
    """One of each kind of row belonging to ``customer``."""
    add_contact(
        client=customer,
        data={"first_name": "Ada", "last_name": "Byron", "email": "ada@example.com"},
        actor=actor,
    )
    add_note(client=customer, body="Prefers email.", actor=actor)
    set_custom_values(client=customer, values={CustomFieldFactory(): "gold"}, actor=actor)
    service = ServiceFactory(client=customer, product=catalog.basic, domain="byron.com")
    _addon(service, catalog, actor)
    DomainFactory(client=customer, service=service)
    invoice = make_invoice(customer, lines=[line()], actor=actor)
    pay(invoice, actor=actor)
    add_credit(client=customer, amount=Decimal("5.00"), reason="goodwill", actor=actor)
    place_order(
        client=customer,
        products=[
            ProductLineData(product=catalog.basic, billing_cycle="monthly", hostname="shop.com")
        ],
        domains=[DomainLineData(name="shop.com")],
        addons=[AddonLineData(definition=catalog.backup, for_line=0)],
        actor=actor,
    )
    ticket = open_ticket(customer=customer, actor=actor)
    add_reply(ticket=ticket, kind="staff", message="Fixed.", actor=actor)
    CommunicationFactory(client=customer, logged_by=actor)
    enrol(customer, actor=actor)
    return service, invoice, ticket


def _labels(history_rows):
    return {row.model_label for row in history_rows}


def _all_rows(http, url):
    """Every row of a record's History tab, following its cursor."""
    rows, after = [], None
    while True:
        response = http.get(url + "?tab=history" + (f"&after={after}" if after else ""))
        assert response.status_code == 200
        page = response.context["history"]
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        after = page.next_cursor


def test_client_history_includes_each_kind_of_child_row_and_excludes_other_clients(
    client_as, make_staff
):
    catalog = make_catalog()
    actor = make_staff(ADMIN, username="bea")
    customer = ClientFactory(currency="GBP", email="byron@example.com")
    other = ClientFactory(currency="GBP", email="other@example.com")
    _world(customer, actor, catalog)
    other_service, other_invoice, other_ticket = _world(other, actor, catalog)

    rows = _all_rows(client_as(ADMIN), customer.get_absolute_url())

    assert _labels(rows) >= CHILD_KINDS
    # Nothing of the other client's: not its services, invoices, tickets, nor their children.
    others = {
        ("hosting.service", other_service.pk),
        ("billing.invoice", other_invoice.pk),
        ("support.ticket", other_ticket.pk),
        ("clients.client", other.pk),
    }
    assert not others & {(r.model_label, r.object_id) for r in rows}
    invoice_items = [r for r in rows if r.model_label == "billing.invoiceitem"]
    assert {r.event.invoice_id for r in invoice_items} <= set(
        customer.invoices.values_list("pk", flat=True)
    )
    replies = [r for r in rows if r.model_label == "support.ticketreply"]
    assert {r.event.ticket_id for r in replies} <= set(
        customer.tickets.values_list("pk", flat=True)
    )


def test_client_history_hides_tickets_of_a_department_the_user_cannot_see(client_as, make_staff):
    customer = ClientFactory()
    billing_only = DepartmentFactory(name="Billing disputes")
    DepartmentRole.objects.create(department=billing_only, role=_group(BILLING))
    actor = make_staff(ADMIN)
    hidden = open_ticket(customer=customer, actor=actor, department=billing_only)
    add_reply(ticket=hidden, kind="note", message="Secret dispute note.", actor=actor)
    shown = open_ticket(customer=customer, actor=actor, subject="Mail bounces")

    support_rows = _all_rows(client_as(SUPPORT), customer.get_absolute_url())
    tickets = {r.object_id for r in support_rows if r.model_label == "support.ticket"}
    assert tickets == {shown.pk}
    assert not [r for r in support_rows if r.model_label == "support.ticketreply"]

    billing_rows = _all_rows(client_as(BILLING), customer.get_absolute_url())
    assert hidden.pk in {r.object_id for r in billing_rows if r.model_label == "support.ticket"}


def test_record_wide_history_leaves_out_models_the_user_may_not_view(make_staff):
    from django.contrib.auth.models import Permission

    user = make_staff(None)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_client", "view_note"]))
    user = type(user).objects.get(pk=user.pk)  # a fresh permission cache
    found = scope.for_user(scope.branches(Client, 1), user)
    assert {b.event_model.pgh_tracked_model._meta.label_lower for b in found} == {
        "clients.client",
        "clients.note",
    }


def test_client_history_is_open_to_every_role_that_may_view_the_client(client_as):
    customer = ClientFactory()
    for role in (ADMIN, BILLING, SUPPORT):
        response = client_as(role).get(customer.get_absolute_url() + "?tab=history")
        assert response.status_code == 200, role
    # The feed itself stays Admin-only.
    assert client_as(SUPPORT).get(reverse("audit:feed")).status_code == 403


def test_client_history_runs_the_same_queries_however_many_child_rows(client_as, make_staff):
    catalog = make_catalog()
    actor = make_staff(ADMIN)
    customer = ClientFactory(currency="GBP")
    http = client_as(ADMIN)
    url = customer.get_absolute_url() + "?tab=history"
    _world(customer, actor, catalog)
    http.get(url)  # warm caches (content types)
    with CaptureQueriesContext(connection) as few:
        assert http.get(url).status_code == 200
    for _ in range(3):
        service = ServiceFactory(client=customer, product=catalog.basic)
        _addon(service, catalog, actor)
        make_invoice(customer, lines=[line(), line()], actor=actor)
    with CaptureQueriesContext(connection) as many:
        assert http.get(url).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_client_history_pages_by_cursor_without_gaps_or_repeats(make_staff):
    catalog = make_catalog()
    customer = ClientFactory(currency="GBP")
    _world(customer, make_staff(ADMIN), catalog)
    feed = Feed(FeedFilters(client_id=customer.pk))
    everything = feed.page(per_page=1000).rows
    seen, cursor = [], None
    while True:
        page = feed.page(cursor=cursor, per_page=7)
        seen.extend((r.model_label, r.event.pgh_id) for r in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [(r.model_label, r.event.pgh_id) for r in everything]
    assert len(set(seen)) == len(seen)


def test_service_history_covers_its_addons_and_notes_about_it(client_as, make_staff):
    catalog = make_catalog()
    actor = make_staff(ADMIN)
    customer = ClientFactory(currency="GBP")
    service = ServiceFactory(client=customer, product=catalog.basic, domain="byron.com")
    other = ServiceFactory(client=customer, product=catalog.basic, domain="other.com")
    _addon(service, catalog, actor)
    _addon(other, catalog, actor)
    add_note(client=customer, body="About this account.", actor=actor, about=service)
    add_note(client=customer, body="About the client.", actor=actor)

    rows = _all_rows(client_as(SUPPORT), service.get_absolute_url())

    assert {"hosting.service", "hosting.addon", "clients.note"} <= _labels(rows)
    assert {r.event.service_id for r in rows if r.model_label == "hosting.addon"} == {service.pk}
    assert [r.event.body for r in rows if r.model_label == "clients.note"] == [
        "About this account."
    ]


def test_invoice_history_covers_its_items_and_allocations(client_as, make_staff):
    customer = ClientFactory(currency="GBP")
    invoice = make_invoice(customer, lines=[line(), line("Setup")])
    make_invoice(customer, lines=[line("Another invoice")])
    pay(invoice, actor=make_staff(ADMIN))
    rows = _all_rows(client_as(BILLING), invoice.get_absolute_url())
    assert {"billing.invoice", "billing.invoiceitem", "billing.allocation"} <= _labels(rows)
    assert {r.event.invoice_id for r in rows if r.model_label == "billing.invoiceitem"} == {
        invoice.pk
    }


def test_feed_filter_by_client_matches_its_records_and_combines_with_actor(client_as, make_staff):
    catalog = make_catalog()
    bea, cai = make_staff(ADMIN, username="bea"), make_staff(ADMIN, username="cai")
    customer = ClientFactory(currency="GBP")
    other = ClientFactory(currency="GBP")
    service = ServiceFactory(client=customer, product=catalog.basic)
    _addon(service, catalog, bea)
    add_note(client=customer, body="By cai.", actor=cai)
    add_note(client=other, body="Elsewhere.", actor=bea)
    http = client_as(ADMIN)

    page = http.get(reverse("audit:feed"), {"client": customer.pk}).context["page"]
    labels = _labels(page.rows)
    assert {"hosting.addon", "clients.note", "hosting.service", "clients.client"} <= labels
    assert other.pk not in {r.object_id for r in page.rows if r.model_label == "clients.client"}

    by_bea = http.get(reverse("audit:feed"), {"client": customer.pk, "actor": bea.pk})
    assert _labels(by_bea.context["page"].rows) == {"hosting.addon"}


def test_feed_filter_by_business_action(client_as, make_staff):
    customer = ClientFactory()
    add_credit(client=customer, amount=Decimal("5.00"), reason="goodwill", actor=make_staff())
    add_note(client=customer, body="x", actor=make_staff())
    http = client_as(ADMIN)
    rows = http.get(reverse("audit:feed"), {"action": "billing.add_credit"}).context["page"].rows
    assert rows
    assert {r.action for r in rows} == {"billing.add_credit"}


def _group(name):
    from django.contrib.auth.models import Group

    return Group.objects.get(name=name)


def test_affiliate_rows_belong_to_the_client(make_staff):
    customer = ClientFactory(currency="GBP")
    enrol(customer, actor=make_staff(ADMIN))
    rows = Feed(FeedFilters(client_id=customer.pk)).page(per_page=100).rows
    affiliate = Affiliate.objects.get(client=customer)
    assert ("affiliates.affiliate", affiliate.pk) in {(r.model_label, r.object_id) for r in rows}
