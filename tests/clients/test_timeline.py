"""The client timeline: every kind of entry, newest first, filterable, paginated by a cursor,
and a number of queries that does not grow with the number of entries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clients import services as client_services
from clients.models import Note
from clients.timeline import decode_cursor, timeline_page
from support import services as support
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory
from tests.factories.support import CommunicationFactory, open_ticket

pytestmark = pytest.mark.django_db


def _everything(customer, staff):
    """One entry of every kind for ``customer``, returned with the kinds expected."""
    Note.objects.create(client=customer, author=staff, body="Prefers email")
    CommunicationFactory(client=customer, logged_by=staff, summary="Called about renewal")
    ticket = open_ticket(customer=customer, actor=staff, suppress_email=True)
    support.add_reply(ticket=ticket, kind="note", message="Internal remark", actor=staff)
    invoice = make_invoice(customer, actor=staff)
    pay(invoice, actor=staff)
    client_services.send_client_email(
        client=customer, subject="Hello", body="Hi", include_contacts=False, actor=staff
    )
    client_services.update_client(
        client=customer, data={"city": "Paris"}, actor=staff, reason="moved", custom_values={}
    )


def test_timeline_merges_every_kind_newest_first(staff_admin):
    customer = ClientFactory()
    _everything(customer, staff_admin)
    page = timeline_page(client=customer, user=staff_admin)
    kinds = {e.kind for e in page.entries}
    assert {"note", "communication", "ticket", "reply", "invoice", "payment", "email", "audit"} <= (
        kinds
    )
    times = [e.at for e in page.entries]
    assert times == sorted(times, reverse=True)


def test_timeline_filters_by_kind(staff_admin):
    customer = ClientFactory()
    _everything(customer, staff_admin)
    page = timeline_page(client=customer, user=staff_admin, kinds=["ticket", "reply"])
    assert {e.kind for e in page.entries} == {"ticket", "reply"}


def test_timeline_shows_only_what_the_user_may_see(make_staff, staff_admin):
    customer = ClientFactory()
    _everything(customer, staff_admin)
    support_user = make_staff("Support")
    kinds = {e.kind for e in timeline_page(client=customer, user=support_user).entries}
    assert "audit" not in kinds  # the audit trail is for Admins
    assert "ticket" in kinds


def test_timeline_pages_follow_a_cursor_without_gaps_or_repeats(staff_admin):
    customer = ClientFactory()
    base = timezone.now() - dt.timedelta(days=10)
    for n in range(25):  # same timestamps across kinds to exercise the tie-break
        moment = base + dt.timedelta(hours=n // 2)
        CommunicationFactory(client=customer, logged_by=staff_admin, occurred_at=moment)
        Note.objects.filter(
            pk=Note.objects.create(client=customer, author=staff_admin, body=f"n{n}").pk
        ).update(created_at=moment)
    seen, cursor = [], None
    while True:
        page = timeline_page(
            client=customer,
            user=staff_admin,
            kinds=["note", "communication"],
            cursor=cursor,
            per_page=7,
        )
        seen += [(e.kind, e.pk) for e in page.entries]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 50 and len(set(seen)) == 50


def test_a_malformed_cursor_starts_from_the_top(staff_admin):
    assert decode_cursor("not-a-cursor") is None
    customer = ClientFactory()
    Note.objects.create(client=customer, author=staff_admin, body="x")
    page = timeline_page(client=customer, user=staff_admin, kinds=["note"], cursor="%%%")
    assert len(page.entries) == 1


def test_timeline_tab_runs_a_constant_number_of_queries(
    staff_client, staff_admin, django_assert_max_num_queries
):
    customer = ClientFactory()
    _everything(customer, staff_admin)
    url = reverse("clients:client-detail", args=[customer.pk]) + "?tab=timeline"
    with django_assert_max_num_queries(40) as few:
        response = staff_client.get(url)
    assert b"Internal remark" in response.content and b"Called about renewal" in response.content
    for n in range(40):
        _everything_light(customer, staff_admin, n)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = staff_client.get(url)
    assert response.status_code == 200
    assert len(response.context["timeline"].entries) == 30
    assert len(many.captured_queries) <= len(few.captured_queries)


def _everything_light(customer, staff, n):
    Note.objects.create(client=customer, author=staff, body=f"note {n}")
    CommunicationFactory(client=customer, logged_by=staff)


def test_timeline_tab_filter_and_older_link(staff_client, staff_admin):
    customer = ClientFactory()
    for n in range(35):
        Note.objects.create(client=customer, author=staff_admin, body=f"note {n}")
    url = reverse("clients:client-detail", args=[customer.pk]) + "?tab=timeline&kind=note"
    response = staff_client.get(url)
    assert response.status_code == 200
    assert b"Older entries" in response.content
    older = staff_client.get(url + "&after=" + response.context["timeline"].next_cursor)
    assert len(older.context["timeline"].entries) == 5
