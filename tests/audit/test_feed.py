import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import audit.context
from audit.feed import Feed, FeedFilters
from audit.views import spreadsheet_safe
from clients.models import Client
from clients.services import update_client
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _rows(**filters):
    return Feed(FeedFilters(**filters)).page(per_page=100).rows


def test_feed_is_newest_first_and_pages_by_cursor_without_gaps_or_repeats():
    ClientFactory.create_batch(7)
    feed = Feed(FeedFilters(model="clients.client"))
    first = feed.page(per_page=3)
    second = feed.page(cursor=first.next_cursor, per_page=3)
    third = feed.page(cursor=second.next_cursor, per_page=3)
    seen = [r.event.pgh_id for r in first.rows + second.rows + third.rows]
    assert len(seen) == len(set(seen)) == 7
    assert third.next_cursor is None
    times = [r.created_at for r in first.rows + second.rows + third.rows]
    assert times == sorted(times, reverse=True)


def test_feed_never_counts_the_events():
    ClientFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        Feed(FeedFilters()).page(per_page=50)
    assert not any("count(" in q["sql"].lower() for q in queries.captured_queries)


def test_feed_shows_old_and_new_values_with_labels(make_staff):
    customer = ClientFactory(city="Leeds", status="active")
    update_client(
        client=customer,
        data={"city": "York", "status": "inactive"},
        actor=make_staff("Admin"),
        reason="moved",
    )
    row = _rows(operation="update")[0]
    changes = {c.label: (c.old, c.new) for c in row.changes}
    assert changes == {"City": ("Leeds", "York"), "Status": ("Active", "Inactive")}
    assert row.summary == "City, Status changed"
    assert row.reason == "moved"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"operation": "update"}, {"b"}),
        ({"channel": "command"}, {"b"}),
        ({"reason": "BULK fix"}, {"b"}),
        ({"ip": "198.51.100.1"}, {"a"}),
        ({"request_id": "req-a-0000001"}, {"a"}),
        ({"unattributed": True}, {"c"}),
    ],
)
@pytest.mark.django_db(transaction=True)  # each write commits, as separate requests would
def test_feed_filters(filters, expected):
    with audit.context.context(ip="198.51.100.1", request_id="req-a-0000001", channel="web"):
        ClientFactory(last_name="a")
    b = ClientFactory.build(last_name="b")
    with audit.context.context(channel="command", reason="a bulk fix"):
        b.save()
        Client.objects.filter(pk=b.pk).update(city="Bulkville")
    ClientFactory(last_name="c")  # no context at all: unattributed
    # Only clients: the harness re-creates roles after each flush, unattributed, by design.
    found = {r.object_repr.split()[-1] for r in _rows(model="clients.client", **filters)}
    assert found == expected


def test_feed_filters_by_actor_object_and_dates(make_staff):
    alice, bob = make_staff("Admin"), make_staff("Admin")
    first, second = ClientFactory(), ClientFactory()
    update_client(client=first, data={"city": "A"}, actor=alice)
    update_client(client=second, data={"city": "B"}, actor=bob)
    assert {r.object_id for r in _rows(actor_id=alice.pk)} == {first.pk}
    assert {r.object_id for r in _rows(object_id=second.pk, model="clients.client")} == {second.pk}
    today = timezone.localdate()
    assert len(_rows(since=today, until=today, model="clients.client")) == 4
    assert _rows(until=today - dt.timedelta(days=1)) == []


def test_entry_groups_everything_one_request_changed(staff_client):
    customers = ClientFactory.create_batch(2)
    staff_client.post(
        reverse("admin:clients_client_changelist"),
        {
            "action": "mark_inactive",
            "_selected_action": [c.pk for c in customers],
            "audit_reason": "review",
        },
    )
    row = _rows(operation="update")[0]
    response = staff_client.get(reverse("audit:entry", args=[row.context.pk]))
    assert response.status_code == 200
    sections = response.context["sections"]
    # The bulk action ran the client service once per row: a section each, within the action.
    assert [s.metadata["action"] for s in sections] == ["clients.update_client"] * 2
    assert {s.metadata["within"] for s in sections} == {"admin.mark_inactive"}
    assert sum(len(s.records) for s in sections) == 2
    body = response.content.decode()
    assert "review" in body
    assert "Inactive" in body


def test_unattributed_event_has_its_own_page(staff_client):
    customer = ClientFactory()
    with connection.cursor() as cur:
        cur.execute("UPDATE clients_client SET city = 'Psql' WHERE id = %s", [customer.pk])
    row = _rows(unattributed=True)[0]
    response = staff_client.get(reverse("audit:event", args=[row.model_label, row.event.pgh_id]))
    assert response.status_code == 200
    assert "Unattributed" in response.content.decode()


def test_secrets_show_as_changed_never_the_value(staff_client, make_staff):
    user = make_staff(None)
    user.set_password("a-brand-new-password-9")
    user.save()
    row = _rows(model="audit.staffuser", operation="update")[0]
    password = next(c for c in row.changes if c.name == "password")
    assert (password.old, password.new) == ("set", "changed")
    page = staff_client.get(reverse("audit:event", args=[row.model_label, row.event.pgh_id]))
    body = page.content.decode()
    assert "changed" in body
    assert user.password not in body
    assert row.event.password not in body  # not even the stored digest


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
    ],
)
def test_spreadsheet_safe_neutralises_formulas(value, safe):
    assert spreadsheet_safe(value) == safe


def test_csv_export_of_a_filtered_feed(staff_client):
    ClientFactory(first_name="=cmd|' /C calc'!A0", last_name="Evil")
    ClientFactory(last_name="Other")
    response = staff_client.get(reverse("audit:export"), {"model": "clients.client"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    # Header lines first (what was exported, its seal status), then the columns.
    while rows[0][0].startswith("# "):
        rows.pop(0)
    assert rows[0][0] == "time (UTC)"
    assert len(rows) == 3
    assert any(cell.startswith("'=cmd") for row in rows for cell in row)
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_invalid_feed_filters_come_back_with_field_errors(staff_client):
    response = staff_client.get(reverse("audit:feed"), {"ip": "not-an-ip", "object_id": "x"})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"ip", "object_id"}
    assert response.context["page"] is None


def test_malformed_cursor_starts_from_the_top(staff_client):
    ClientFactory()
    response = staff_client.get(reverse("audit:feed"), {"after": "garbage!!"})
    assert response.status_code == 200
    assert response.context["page"].rows


def test_foreign_keys_show_the_related_objects_name(make_staff):
    user = make_staff("Billing", username="bea")
    row = next(r for r in _rows(model="audit.staffmembership") if r.object_id)
    changes = {c.name: c.new for c in row.changes}
    assert changes["user"] == user.username
    assert changes["group"] == "Billing"


def test_staff_account_changes_in_the_admin_carry_the_reason(staff_client, make_staff):
    user = make_staff("Support", username="sam")
    url = reverse("admin:auth_user_change", args=[user.pk])
    form = staff_client.get(url).context["adminform"].form
    assert "audit_reason" in form.fields
    data = {
        "username": "sam",
        "first_name": "Sam",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "groups": [g.pk for g in user.groups.all()],
        "date_joined_0": timezone.localtime(user.date_joined).strftime("%Y-%m-%d"),
        "date_joined_1": timezone.localtime(user.date_joined).strftime("%H:%M:%S"),
        "audit_reason": "name from HR",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = _rows(model="audit.staffuser", operation="update", object_id=user.pk)[0]
    assert row.reason == "name from HR"
    assert row.channel == "admin"
    assert "First name" in [c.label for c in row.changes]


def test_actor_filter_is_the_same_whether_entries_are_listed_or_joined(make_staff, monkeypatch):
    import audit.feed

    alice, bob = make_staff("Admin"), make_staff("Admin")
    first, second = ClientFactory(), ClientFactory()
    update_client(client=first, data={"city": "A"}, actor=alice)
    update_client(client=second, data={"city": "B"}, actor=bob)
    listed = [r.object_id for r in _rows(actor_id=alice.pk, model="clients.client")]
    monkeypatch.setattr(audit.feed, "CONTEXT_LIST_LIMIT", 0)  # too many entries to list
    joined = [r.object_id for r in _rows(actor_id=alice.pk, model="clients.client")]
    assert listed == joined == [first.pk]


def test_an_actors_feed_pages_through_every_entry_once_newest_first(make_staff):
    alice, bob = make_staff("Admin"), make_staff("Admin")
    customers = ClientFactory.create_batch(3)
    for i in range(40):  # 40 service calls each: 40 contexts of alice's, 40 of bob's
        for actor in (alice, bob):
            update_client(client=customers[i % 3], data={"city": f"{actor.pk}-{i}"}, actor=actor)
    feed = Feed(FeedFilters(actor_id=alice.pk))
    seen, cursor = [], None
    while True:
        page = feed.page(cursor=cursor, per_page=15)
        seen.extend(page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 40 == len({(r.model_label, r.event.pgh_id) for r in seen})
    assert {r.metadata["user"] for r in seen} == {alice.pk}
    stamps = [(r.created_at, r.event.pgh_id) for r in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_an_actor_filter_finds_a_rare_record_type_behind_many_newer_entries(make_staff):
    from clients.services import add_contact

    alice = make_staff("Admin")
    customer = ClientFactory()
    add_contact(
        client=customer,
        data={"first_name": "Old", "last_name": "Contact", "email": "old@example.com"},
        actor=alice,
    )
    for i in range(300):  # newer entries of another record type: several batches to walk
        update_client(client=customer, data={"city": f"C{i}"}, actor=alice)
    rows = Feed(FeedFilters(actor_id=alice.pk, model="clients.contact")).page(per_page=5).rows
    assert [r.object_repr for r in rows] == ["Old Contact"]


def test_the_export_link_carries_the_feeds_filters(staff_client):
    response = staff_client.get(reverse("audit:feed"), {"model": "clients.client", "after": "x"})
    body = response.content.decode()
    assert 'href="/audit/export.csv?model=clients.client"' in body
    assert "export.csv??" not in body


def test_a_page_costs_the_same_queries_whatever_record_types_it_holds(make_staff):
    from tests.factories.clients import ClientGroupFactory, ContactFactory, NoteFactory

    def queries(**filters):
        with CaptureQueriesContext(connection) as captured:
            rows = Feed(FeedFilters(**filters)).page(per_page=50).rows
        return len(captured), {r.model_label for r in rows}

    admin = make_staff("Admin")
    # In a group: the page names a related row, as the richer one below does.
    customer = ClientFactory(group=ClientGroupFactory())
    update_client(client=customer, data={"city": "A"}, actor=admin)
    queries()  # warms Django's content type cache, which names the roles' permissions
    one, types = queries(model="clients.client")
    assert types == {"clients.client"}
    ContactFactory(client=customer)
    NoteFactory(client=customer, author=admin)
    many, types = queries()
    assert len(types) >= 5
    assert many == one
