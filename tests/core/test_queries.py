"""Key pages run a constant number of queries whatever the row count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.services import update_client
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _count(http, url):
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_client_list_queries_do_not_grow_with_rows(staff_client, django_assert_max_num_queries):
    from tests.factories.clients import ClientGroupFactory

    # Clients in groups: the list shows each one's group, which must come with the rows.
    groups = ClientGroupFactory.create_batch(3)
    for i in range(5):
        ClientFactory(group=groups[i % 3])
    url = reverse("clients:client-list")
    few = _count(staff_client, url)
    for i in range(45):
        ClientFactory(group=groups[i % 3])
    assert _count(staff_client, url) == few
    with django_assert_max_num_queries(12):
        staff_client.get(url + "?q=a&status=active&sort=name")


def test_client_detail_and_history_queries_do_not_grow(
    staff_client, staff_admin, django_assert_max_num_queries
):
    customer = ClientFactory()
    url = reverse("clients:client-detail", args=[customer.pk])
    for i in range(5):
        update_client(client=customer, data={"city": f"City {i}"}, actor=staff_admin)
    few_detail, few_history = _count(staff_client, url), _count(staff_client, url + "?tab=history")
    for i in range(45):
        update_client(client=customer, data={"city": f"Town {i}"}, actor=staff_admin)
    assert _count(staff_client, url) == few_detail
    assert _count(staff_client, url + "?tab=history") == few_history
    with django_assert_max_num_queries(14):
        staff_client.get(url + "?tab=history")


def test_audit_feed_queries_do_not_grow(staff_client, staff_admin, django_assert_max_num_queries):
    # Hydration is one query for the page, whatever rows and record types it holds.
    for customer in ClientFactory.create_batch(5):
        update_client(client=customer, data={"city": "X"}, actor=staff_admin)
    url = reverse("audit:feed") + "?model=clients.client"
    few = _count(staff_client, url)
    for customer in ClientFactory.create_batch(60):
        update_client(client=customer, data={"city": "X"}, actor=staff_admin)
    assert _count(staff_client, url) == few
    # 12: the session's second factor (django-otp's device row) is read on every request, and
    # the archived months (audit/archive.py: whether the page reaches into the archive).
    with django_assert_max_num_queries(12):
        staff_client.get(reverse("audit:feed"))


@pytest.mark.parametrize("tab", ["summary", "contacts", "notes", "custom", "emails", "history"])
def test_each_profile_tab_runs_the_same_queries_with_5_and_50_rows(tab, staff_client, staff_admin):
    from clients import services
    from tests.factories.clients import ContactFactory, CustomFieldFactory, NoteFactory

    customer = ClientFactory()
    url = reverse("clients:client-detail", args=[customer.pk]) + f"?tab={tab}"

    def add(n):
        for i in range(n):
            ContactFactory(client=customer)
            NoteFactory(client=customer, author=staff_admin, pinned=i % 2 == 0)
            field = CustomFieldFactory()
            services.set_custom_values(client=customer, values={field: "v"}, actor=staff_admin)
            services.send_client_email(client=customer, subject="s", body="b", actor=staff_admin)
            update_client(client=customer, data={"city": f"C{n}{i}"}, actor=staff_admin)

    add(5)
    few = _count(staff_client, url)
    add(45)
    assert _count(staff_client, url) == few


def test_the_client_admin_never_counts_every_client(staff_client):
    """A filtered changelist counts its matches only, never the whole table as well."""
    ClientFactory.create_batch(3, status="active")
    with CaptureQueriesContext(connection) as ctx:
        response = staff_client.get(
            reverse("admin:clients_client_changelist") + "?status__exact=active"
        )
    assert response.status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
    assert counts and all("WHERE" in sql for sql in counts), counts
