"""The archive: sealed months leave the live event tables, provably, and stay readable and verified.

Events are back-dated (as a superuser could, triggers off) to put them in past months; then
they are sealed, archived with a retention of zero days, read through the feed and verified.
"""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit import archive, seal
from audit.feed import Feed, FeedFilters
from audit.models import AuditArchiveCheck, AuditArchivedMonth, AuditVerification
from clients import services
from clients.models import Client, ClientEvent
from tests.audit.test_seal import as_superuser

pytestmark = pytest.mark.django_db

EVENTS = ClientEvent._meta.db_table
ARCHIVE = archive.ARCHIVE_TABLE


@pytest.fixture(autouse=True)
def _seal_settings(settings, tmp_path):
    settings.AUDIT_SEAL_HORIZON_SECONDS = 0
    settings.AUDIT_SEAL_EXPORT = str(tmp_path / "seals.jsonl")


def months_ago(n: int) -> dt.datetime:
    start = archive.month_start(timezone.now())
    for _ in range(n):
        start = archive.month_start(start - dt.timedelta(days=1))
    return start + dt.timedelta(days=3, hours=10)


def client_in_month(staff_admin, n: int, ago: int) -> Client:
    """A client created, then changed, its events and contexts dated ``ago`` months back."""
    customer = services.create_client(
        data={
            "first_name": "Ada",
            "last_name": f"Old{n}",
            "email": f"old{n}@example.com",
            "country": "GB",
        },
        actor=staff_admin,
        reason="",
    )
    services.update_client(
        client=customer, data={"city": "York"}, actor=staff_admin, reason="moved"
    )
    when = months_ago(ago)
    events = list(ClientEvent.objects.filter(pgh_obj_id=customer.pk))
    ids = [e.pgh_id for e in events]
    contexts = list({str(e.pgh_context_id) for e in events})
    as_superuser(
        f"UPDATE {EVENTS} SET pgh_created_at = %s + (pgh_id - %s) * interval '1 second'"
        " WHERE pgh_id = ANY(%s)",
        [when, min(ids), ids],
    )
    as_superuser(
        "UPDATE pghistory_context SET created_at = %s, updated_at = %s WHERE id = ANY(%s::uuid[])",
        [when, when, contexts],
    )
    return customer


def archived(customer: Client) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT pgh_id, pgh_label, model, data FROM {ARCHIVE} WHERE pgh_obj_id = %s"
            " ORDER BY pgh_id",
            [customer.pk],
        )
        return [
            {"pgh_id": i, "label": label, "model": model, "data": json.loads(data)}
            for i, label, model, data in cur.fetchall()
        ]


def seal_and_archive() -> archive.ArchiveRun:
    # Small seals, as the five-minute sealer makes: a seal's range then meets one month.
    seal.seal_pending(max_rows=2)
    return archive.archive_sealed(after_days=0)


def verify(*args: str) -> tuple[int, list[tuple]]:
    try:
        call_command("audit_verify", *args, stdout=StringIO())
        status = 0
    except Exception:
        status = 1
    findings = AuditVerification.objects.first().findings
    return status, [(f["kind"], f["table"], f["id"]) for f in findings]


def test_sealed_months_past_the_retention_move_to_the_archive_whole_and_unchanged(staff_admin):
    old = client_in_month(staff_admin, 1, ago=2)
    live_before = {e.pgh_id: e for e in ClientEvent.objects.filter(pgh_obj_id=old.pk)}

    run = seal_and_archive()

    assert not ClientEvent.objects.filter(pgh_obj_id=old.pk).exists()
    rows = archived(old)
    assert [r["pgh_id"] for r in rows] == sorted(live_before)
    assert {r["model"] for r in rows} == {"clients.client"}
    assert rows[-1]["data"]["city"] == "York"
    assert run.rows >= 2
    # Every whole month from the oldest event up to this one, each once.
    assert [m.month for m in run.months] == [
        months_ago(2).date().replace(day=1),
        months_ago(1).date().replace(day=1),
    ]
    assert archive.archived_through() == archive.month_start(timezone.now())
    assert archive.archive_sealed(after_days=0).months == []  # nothing moves twice


def test_events_of_the_retention_window_and_unsealed_ones_stay_live(staff_admin):
    old = client_in_month(staff_admin, 1, ago=2)
    seal.seal_pending()
    recent = services.create_client(
        data={"first_name": "Bo", "last_name": "New", "email": "new@example.com", "country": "GB"},
        actor=staff_admin,
        reason="",
    )

    archive.archive_sealed(after_days=0)

    assert ClientEvent.objects.filter(pgh_obj_id=recent.pk).exists()
    assert archived(old)
    with pytest.raises(DatabaseError, match="only sealed events move"), transaction.atomic():
        connection.cursor().execute(
            "SELECT audit_archive_move(%s, %s, %s, %s)",
            [EVENTS, "clients.client", timezone.now(), timezone.now() + dt.timedelta(days=1)],
        )


def test_nothing_is_archived_before_anything_is_sealed(staff_admin):
    client_in_month(staff_admin, 1, ago=2)

    with pytest.raises(ValidationError) as refused:
        archive.archive_sealed(after_days=0)

    assert refused.value.code == "archive_unsealed"


def test_a_delete_of_an_event_the_archive_does_not_hold_is_refused_even_to_the_owner(
    staff_admin,
):
    customer = client_in_month(staff_admin, 1, ago=2)
    event = ClientEvent.objects.filter(pgh_obj_id=customer.pk).first()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute(f"DELETE FROM {EVENTS} WHERE pgh_id = %s", [event.pgh_id])


def test_a_delete_is_refused_when_the_archived_copy_differs_in_any_column(staff_admin):
    customer = client_in_month(staff_admin, 1, ago=2)
    seal.seal_pending()
    event = ClientEvent.objects.filter(pgh_obj_id=customer.pk).first()
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE audit_archived_event_probe PARTITION OF audit_archived_event"
            " FOR VALUES FROM ('1900-01-01') TO ('3000-01-01')"
        )
        # A copy with one column changed: a forged "archive" that would lose the original.
        cur.execute(
            f"INSERT INTO {ARCHIVE} SELECT %s, 'clients.client', e.pgh_id, e.pgh_created_at,"
            " e.pgh_label, e.pgh_obj_id, e.pgh_context_id,"
            " jsonb_set(to_jsonb(e), '{city}', '\"Forged\"') FROM "
            f"{EVENTS} e WHERE e.pgh_id = %s",
            [EVENTS, event.pgh_id],
        )

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        connection.cursor().execute(f"DELETE FROM {EVENTS} WHERE pgh_id = %s", [event.pgh_id])


def test_the_archive_itself_refuses_update_delete_and_truncate(staff_admin):
    client_in_month(staff_admin, 1, ago=2)
    seal_and_archive()

    for statement in (
        f"UPDATE {ARCHIVE} SET pgh_label = 'x'",
        f"DELETE FROM {ARCHIVE}",
        f"TRUNCATE {ARCHIVE}",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(statement)


def test_the_feed_and_the_entry_page_read_archived_events_past_the_live_ones(
    staff_admin, staff_client
):
    old = client_in_month(staff_admin, 1, ago=2)
    seal_and_archive()
    recent = services.create_client(
        data={"first_name": "Bo", "last_name": "New", "email": "new@example.com", "country": "GB"},
        actor=staff_admin,
        reason="",
    )

    first = Feed(FeedFilters(model="clients.client")).page(per_page=1)
    rest = Feed(FeedFilters(model="clients.client")).page(cursor=first.next_cursor, per_page=10)

    assert first.rows[0].object_id == recent.pk
    archived_rows = [r for r in rest.rows if r.object_id == old.pk]
    assert [r.operation for r in archived_rows] == ["update", "insert"]
    change = next(c for c in archived_rows[0].changes if c.name == "city")
    assert (change.old, change.new) == ("—", "York")  # the prior snapshot read from the archive
    assert archived_rows[0].reason == "moved"
    context_id = archived_rows[0].context.id
    page = staff_client.get(reverse("audit:entry", args=[context_id]))
    assert page.status_code == 200
    assert "York" in page.content.decode()
    event = staff_client.get(
        reverse("audit:event", args=["clients.client", archived_rows[0].event.pgh_id])
    )
    assert event.status_code == 200
    assert "York" in event.content.decode()


def test_a_trail_with_archived_months_verifies_ok_and_records_each_month(staff_admin):
    client_in_month(staff_admin, 1, ago=3)
    client_in_month(staff_admin, 2, ago=2)
    seal_and_archive()

    status, findings = verify()

    assert (status, findings) == (0, [])
    checks = AuditArchiveCheck.objects.order_by("month")
    assert [c.month for c in checks] == [
        m.month for m in AuditArchivedMonth.objects.order_by("month")
    ]
    assert all(c.ok for c in checks)


def test_an_archived_row_edited_by_a_superuser_is_found_by_a_full_verification(staff_admin):
    customer = client_in_month(staff_admin, 1, ago=2)
    seal_and_archive()
    verify()
    pgh_id = archived(customer)[-1]["pgh_id"]
    as_superuser(
        f"UPDATE {ARCHIVE} SET data = jsonb_set(data, '{{city}}', '\"Forged\"') WHERE pgh_id = %s",
        [pgh_id],
    )

    status, findings = verify("--full")

    assert status == 1
    assert ("edited", EVENTS, pgh_id) in findings


def test_checked_months_are_skipped_and_checked_again_in_turn_one_a_run(staff_admin):
    client_in_month(staff_admin, 1, ago=3)
    later = client_in_month(staff_admin, 2, ago=2)
    seal_and_archive()
    assert verify() == (0, [])  # every month checked once, and recorded
    everything = AuditVerification.objects.first().rows_checked
    assert verify() == (0, [])  # rechecks the month checked longest ago: three months back
    assert AuditVerification.objects.first().rows_checked < everything
    pgh_id = archived(later)[-1]["pgh_id"]
    as_superuser(
        f"UPDATE {ARCHIVE} SET data = jsonb_set(data, '{{city}}', '\"Forged\"') WHERE pgh_id = %s",
        [pgh_id],
    )

    # Two months back was checked longer ago than three months back now; then the month with
    # no events; its turn comes at the latest after every other archived month's.
    results = [verify() for _ in range(len(AuditArchivedMonth.objects.all()))]

    assert any(("edited", EVENTS, pgh_id) in findings for _, findings in results)
    # The month of the edit fails (and the empty month after it, which the same seal's range
    # reaches into); the month before does not.
    failed = {c.month for c in AuditArchiveCheck.objects.filter(ok=False)}
    assert months_ago(2).date().replace(day=1) in failed
    assert months_ago(3).date().replace(day=1) not in failed
    # A failed month is no longer skipped: every later run checks it and fails.
    assert verify()[0] == 1


def test_an_archive_entry_whose_columns_disagree_with_its_row_is_reported(staff_admin):
    customer = client_in_month(staff_admin, 1, ago=2)
    seal_and_archive()
    pgh_id = archived(customer)[0]["pgh_id"]
    as_superuser(f"UPDATE {ARCHIVE} SET pgh_context_id = NULL WHERE pgh_id = %s", [pgh_id])

    status, findings = verify()

    assert status == 1
    assert ("edited", EVENTS, pgh_id) in findings


def test_a_forged_month_check_is_reported_and_the_month_checked_again(staff_admin):
    client_in_month(staff_admin, 1, ago=2)
    seal_and_archive()
    month = AuditArchivedMonth.objects.order_by("month").first()
    AuditArchiveCheck.objects.create(
        month=month.month, created_at=timezone.now(), ok=True, rows=0, hash="0" * 64
    )

    status, findings = verify()

    assert status == 1
    assert ("check_forged", "", None) in findings


def test_audit_archive_command_says_what_it_moved(staff_admin):
    client_in_month(staff_admin, 1, ago=2)
    seal.seal_pending()
    out = StringIO()

    call_command("audit_archive", "--after-days", "0", stdout=out)

    assert "event(s) archived" in out.getvalue()


def test_paging_through_the_archive_crosses_months_newest_first_with_nothing_twice(
    staff_admin,
):
    older = client_in_month(staff_admin, 1, ago=3)
    newer = client_in_month(staff_admin, 2, ago=2)
    seal_and_archive()
    feed = FeedFilters(model="clients.client")

    seen, cursor = [], None
    while True:
        page = Feed(feed).page(cursor=cursor, per_page=1)
        seen += [(r.object_id, r.operation) for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [
        (newer.pk, "update"),
        (newer.pk, "insert"),
        (older.pk, "update"),
        (older.pk, "insert"),
    ]
