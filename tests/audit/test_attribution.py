"""Each event names the service call that wrote it: its action, its reason, its actor.

Composed services (a client with its welcome email, a published and emailed invoice, an order
with its confirmation, a cron run over several cancellations) used to file every row under the
last service to run. These tests use the forms as a person does, default boxes ticked.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from pghistory.models import Context

import audit.context
from billing.models import InvoiceEvent
from clients.models import Client, ClientEvent
from core.roles import BILLING
from hosting.models import ServiceEvent
from orders import services as orders
from orders.models import Order, OrderEvent
from tests.factories.billing import make_invoice
from tests.factories.clients import ClientFactory, client_form_data
from tests.factories.hosting import ServiceFactory
from tests.factories.orders import make_catalog

pytestmark = pytest.mark.django_db


def form_defaults(response) -> dict:
    """What a browser submits for the page's form untouched: initial values, ticked boxes on."""
    form = response.context["form"]
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value
    return data


def test_a_client_created_with_its_default_emails_is_filed_under_create_client(staff_client):
    page = staff_client.get(reverse("clients:client-create"))
    defaults = form_defaults(page)
    assert defaults["send_welcome"] == "on" and defaults["send_password_link"] == "on"
    data = {**defaults, **client_form_data(email="ada@example.com")}
    response = staff_client.post(reverse("clients:client-create"), data)
    assert response.status_code == 302
    customer = Client.objects.get()
    insert = ClientEvent.objects.get(pgh_obj=customer, pgh_label="insert")
    assert insert.pgh_context.metadata["action"] == "clients.create_client"
    # The emails sent with it are entries of their own in the same request.
    request_id = insert.pgh_context.metadata["request_id"]
    actions = set(
        Context.objects.filter(metadata__request_id=request_id).values_list(
            "metadata__action", flat=True
        )
    )
    assert "clients.create_client" in actions
    assert len(actions) > 1


def test_publishing_with_the_email_box_ticked_files_the_publish_under_publish(staff_client):
    draft = make_invoice(ClientFactory(), publish=False)
    url = reverse("billing:invoice-publish", args=[draft.pk])
    data = form_defaults(staff_client.get(url)) | {"send_email": "on"}
    response = staff_client.post(url, data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.number and draft.status == "unpaid"
    publish = (
        InvoiceEvent.objects.filter(pgh_obj=draft, pgh_label="update", status="unpaid")
        .select_related("pgh_context")
        .get()
    )
    assert publish.pgh_context.metadata["action"] == "billing.publish_invoice"


def test_a_pending_order_with_its_confirmation_is_filed_under_place_order(client_as):
    from tests.orders.test_views import NEW, order_post, product_row

    catalog = make_catalog()
    customer = ClientFactory(email="buyer@example.com")
    http = client_as(BILLING)
    data = order_post(
        customer,
        products=[product_row(catalog, hostname="shop.com")],
        order_status="pending",
        action="place",
    )
    assert data["send_confirmation"] == "on"  # the form's default
    response = http.post(NEW, data)
    assert response.status_code == 302
    order = Order.objects.get()
    insert = OrderEvent.objects.get(pgh_obj=order, pgh_label="insert")
    assert insert.pgh_context.metadata["action"] == "orders.place_order"


@pytest.fixture
def two_cancellations(staff_admin):
    catalog = make_catalog()
    customer = ClientFactory()
    due = dt.date.today() + dt.timedelta(days=3)
    first, second = (
        ServiceFactory(
            client=customer,
            product=catalog.basic,
            recurring_amount=Decimal("5.00"),
            next_due_date=due,
        )
        for _ in range(2)
    )
    orders.request_cancellation(
        service=first, when="end_of_period", actor=staff_admin, reason="Reason A"
    )
    orders.request_cancellation(
        service=second, when="end_of_period", actor=staff_admin, reason="Reason B"
    )
    return first, second, due


def test_the_cancellation_run_files_each_cancellation_under_its_own_reason(two_cancellations):
    first, second, due = two_cancellations
    call_command("process_cancellations", date=due.isoformat(), verbosity=0)
    for service, reason in ((first, "Reason A"), (second, "Reason B")):
        event = ServiceEvent.objects.get(pgh_obj=service, pgh_label="update", status="cancelled")
        meta = event.pgh_context.metadata
        assert meta["reason"] == reason
        assert meta["channel"] == "command" and meta["command"] == "process_cancellations"
    # One command run: one request id groups both.
    ids = {
        e.pgh_context.metadata["request_id"]
        for e in ServiceEvent.objects.filter(status="cancelled").select_related("pgh_context")
    }
    assert len(ids) == 1


def test_seed_demo_files_each_row_under_the_service_that_wrote_it():
    call_command("seed_demo", verbosity=0)
    actions = set(Context.objects.values_list("metadata__action", flat=True))
    assert {"clients.create_client", "billing.publish_invoice", "orders.place_order"} <= actions
    reasons = Context.objects.exclude(metadata__reason=None).values_list(
        "metadata__reason", flat=True
    )
    assert len(set(reasons)) > 1


def test_an_inner_call_names_its_rows_and_the_outer_call_resumes_after_it(staff_admin):
    with audit.context.context(action="outer.call", reason="outer reason", actor=staff_admin):
        first = ClientFactory()
        with audit.context.context(action="inner.call", reason="inner reason"):
            inner = ClientFactory()
        after = ClientFactory()
    meta = {
        c.pk: ClientEvent.objects.get(pgh_obj=c).pgh_context.metadata for c in (first, inner, after)
    }
    assert meta[first.pk]["action"] == meta[after.pk]["action"] == "outer.call"
    assert meta[first.pk]["reason"] == meta[after.pk]["reason"] == "outer reason"
    assert meta[inner.pk]["action"] == "inner.call"
    assert meta[inner.pk]["reason"] == "inner reason"
    assert meta[inner.pk]["within"] == "outer.call"
    # The actor carries into the inner call; the request id groups all three.
    assert meta[inner.pk]["user"] == staff_admin.pk
    assert len({m["request_id"] for m in meta.values()}) == 1


def test_an_inner_call_without_a_reason_does_not_borrow_its_callers(staff_admin):
    with (
        audit.context.context(action="outer.call", reason="outer reason", actor=staff_admin),
        audit.context.context(action="inner.call"),
    ):
        inner = ClientFactory()
    assert "reason" not in ClientEvent.objects.get(pgh_obj=inner).pgh_context.metadata


def test_the_entry_page_shows_a_section_per_action_of_the_request(staff_client):
    page = staff_client.get(reverse("clients:client-create"))
    data = {**form_defaults(page), **client_form_data(email="ada@example.com")}
    staff_client.post(reverse("clients:client-create"), data)
    insert = ClientEvent.objects.get(pgh_label="insert")
    response = staff_client.get(reverse("audit:entry", args=[insert.pgh_context_id]))
    assert response.status_code == 200
    actions = [s.metadata.get("action") for s in response.context["sections"]]
    assert actions[0] == "clients.create_client"
    assert len(actions) == len(set(actions)) > 1
    body = response.content.decode()
    assert "clients.create_client" in body and "Created" in body


def test_the_feed_filters_by_business_action_and_by_operation(staff_admin, make_staff):
    from audit.feed import Feed, FeedFilters
    from clients.services import update_client

    customer = ClientFactory()
    update_client(client=customer, data={"city": "York"}, actor=staff_admin, reason="moved")
    rows = Feed(FeedFilters(action="clients.update_client")).page().rows
    assert {(r.model_label, r.operation) for r in rows} == {("clients.client", "update")}
    assert rows[0].action == "clients.update_client"
    assert Feed(FeedFilters(action="clients.")).page().rows
    assert not Feed(FeedFilters(action="billing.")).page().rows
    inserts = Feed(FeedFilters(operation="insert", model="clients.client")).page().rows
    assert [r.object_id for r in inserts] == [customer.pk]


def test_the_feed_shows_action_and_operation_as_two_columns(staff_client, staff_admin):
    from clients.services import update_client

    customer = ClientFactory()
    update_client(client=customer, data={"city": "York"}, actor=staff_admin, reason="moved")
    response = staff_client.get(reverse("audit:feed"), {"action": "clients.update_client"})
    body = response.content.decode()
    assert "<code>clients.update_client</code>" in body and "<td>Changed</td>" in body
    assert response.context["form"].fields["operation"].choices[1] == ("insert", "Created")


def test_raw_sql_with_a_literal_percent_runs_inside_a_context(staff_admin):
    from django.db import connection

    customer = ClientFactory(city="Leeds")
    statement = "UPDATE clients_client SET city = 'York' WHERE city LIKE 'L%'"  # no parameters
    with audit.context.context(action="raw.fix", actor=staff_admin), connection.cursor() as cur:
        cur.execute(statement)
    customer.refresh_from_db()
    assert customer.city == "York"
    event = ClientEvent.objects.get(pgh_obj=customer, pgh_label="update")
    assert event.pgh_context.metadata["action"] == "raw.fix"


def test_executemany_inside_a_frame_is_filed_under_it():
    from django.db import connection

    from kb.models import Category, CategoryEvent

    a = Category.objects.create(name="A", slug="a")
    b = Category.objects.create(name="B", slug="b")
    with audit.context.context(action="kb.bulk", reason="r"), connection.cursor() as cur:
        cur.executemany(
            "UPDATE kb_category SET position = %s WHERE id = %s", [(1, a.pk), (2, b.pk)]
        )
    events = CategoryEvent.objects.filter(pgh_label="update").select_related("pgh_context")
    assert {e.pgh_context.metadata["action"] for e in events} == {"kb.bulk"}
    assert events.count() == 2


@pytest.mark.django_db(transaction=True)
def test_what_an_on_commit_callback_writes_is_filed_under_the_call_that_registered_it():
    from django.db import transaction

    from kb.models import Category, CategoryEvent

    category = Category.objects.create(name="A", slug="a")
    with (
        audit.context.root(user=1, channel="web"),
        transaction.atomic(),
        audit.context.context(action="kb.rename", reason="why"),
    ):
        audit.context.on_commit(
            lambda: Category.objects.filter(pk=category.pk).update(name="later")
        )
    event = CategoryEvent.objects.get(pgh_label="update")
    assert event.name == "later"
    assert event.pgh_context.metadata["action"] == "kb.rename"
    assert event.pgh_context.metadata["reason"] == "why"


@pytest.mark.django_db(transaction=True)
def test_a_frame_writing_in_several_transactions_gets_a_context_row_in_each():
    """A context row and its events share created_at: the feed's context walk relies on it."""
    from audit.feed import Feed, FeedFilters
    from kb.models import Category, CategoryEvent

    with audit.context.root(user=4242, username="zed", channel="web"):
        first = Category.objects.create(name="A", slug="a")  # autocommit: transaction 1
        for i in range(60):  # 60 newer service calls
            with audit.context.context(action="kb.x"):
                Category.objects.create(name=f"n{i}", slug=f"n{i}")
        Category.objects.filter(pk=first.pk).update(name="A2")  # the root again, newest
    insert, update = (
        CategoryEvent.objects.filter(pgh_obj=first).order_by("pgh_id").select_related("pgh_context")
    )
    assert insert.pgh_context_id != update.pgh_context_id
    assert update.pgh_context.created_at == update.pgh_created_at
    feed = Feed(FeedFilters(actor_id=4242, model="kb.category"))
    seen, cursor = [], None
    while True:
        page = feed.page(cursor=cursor, per_page=50)
        seen += [r.event.name for r in page.rows]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen[0] == "A2" and len(seen) == 62


@pytest.mark.django_db(transaction=True)  # each call its own transaction and created_at
def test_a_very_sparse_filter_still_finds_the_old_match(monkeypatch, make_staff):
    import audit.feed
    from audit.feed import Feed, FeedFilters
    from clients.services import add_contact

    monkeypatch.setattr(audit.feed, "CONTEXT_BATCHES", 2)  # two small batches, then the rest
    alice = make_staff("Admin")
    customer = ClientFactory()
    add_contact(
        client=customer,
        data={"first_name": "Old", "last_name": "Contact", "email": "old@example.com"},
        actor=alice,
    )
    for i in range(40):
        update_client_city(customer, f"C{i}", alice)
    rows = Feed(FeedFilters(actor_id=alice.pk, model="clients.contact")).page(per_page=5).rows
    assert [r.object_repr for r in rows] == ["Old Contact"]


def update_client_city(customer, city, actor):
    from clients.services import update_client

    update_client(client=customer, data={"city": city}, actor=actor)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_opens_with_a_read_still_gets_its_own_context_row():
    from django.db import transaction

    from kb.models import Category, CategoryEvent

    with audit.context.root(user=1, channel="web"):
        category = Category.objects.create(name="A", slug="a")  # transaction 1
        with transaction.atomic():  # transaction 2 opens with a read, then writes
            Category.objects.select_for_update().get(pk=category.pk)
            Category.objects.filter(pk=category.pk).update(name="B")
    insert, update = CategoryEvent.objects.order_by("pgh_id").select_related("pgh_context")
    assert insert.pgh_context_id != update.pgh_context_id
    assert update.pgh_context.created_at == update.pgh_created_at
