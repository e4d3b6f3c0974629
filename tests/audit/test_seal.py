"""Tamper evidence: seals over the trail, and what audit_verify finds when a superuser rewrites it.

The tampering below runs with ``session_replication_role = replica``, the way a superuser would
switch the append-only triggers off. Only these tests do that.
"""

import datetime as dt
import json
from io import StringIO

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit import seal
from audit.models import AuditSeal, AuditVerification
from clients import services
from clients.models import Client, ClientEvent

pytestmark = pytest.mark.django_db

EVENTS = ClientEvent._meta.db_table
CONTEXTS = seal.CONTEXT_TABLE


@pytest.fixture(autouse=True)
def _seal_settings(settings, tmp_path):
    settings.AUDIT_SEAL_HORIZON_SECONDS = 0
    settings.AUDIT_SEAL_EXPORT = str(tmp_path / "seals.jsonl")


def make_client(staff_admin, n: int = 0, reason: str = "") -> Client:
    data = {"first_name": "Ada", "last_name": f"Client{n}", "email": f"ada{n}@example.com"}
    return services.create_client(data={**data, "country": "GB"}, actor=staff_admin, reason=reason)


def as_superuser(sql: str, params=()) -> None:
    """Run ``sql`` past the append-only triggers, as a superuser could."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        try:
            cur.execute(sql, params)
        finally:
            # SET LOCAL outlives the savepoint; the test's own writes must fire triggers again.
            cur.execute("SET LOCAL session_replication_role = origin")


def run_verify(*args: str) -> tuple[int, str, list[tuple]]:
    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
        status = 0
    except CommandError as exc:
        status = exc.returncode
    findings = AuditVerification.objects.first().findings
    return status, out.getvalue(), [(f["kind"], f["table"], f["id"]) for f in findings]


def seal_findings() -> set[tuple[str, int]]:
    """(kind, seal sequence) of the last verification's findings."""
    return {(f["kind"], f["seal"]) for f in AuditVerification.objects.first().findings}


def other_connection(*, autocommit: bool) -> psycopg.Connection:
    """A second session on the test database, like another process's."""
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        host=params["HOST"],
        port=params["PORT"],
        autocommit=autocommit,
    )


def seal_at(minutes: float) -> AuditSeal:
    """A seal as the database clock would make it ``minutes`` from now (idle seals)."""
    (made,) = seal.seal_pending(now=timezone.now() + dt.timedelta(minutes=minutes)).seals
    return made


def client_event(customer: Client) -> ClientEvent:
    return ClientEvent.objects.get(pgh_obj_id=customer.pk)


def test_a_clean_trail_verifies_ok_and_exits_zero(staff_admin):
    make_client(staff_admin, 1)
    make_client(staff_admin, 2)
    call_command("audit_seal", stdout=StringIO())

    status, output, findings = run_verify()

    assert (status, findings) == (0, [])
    assert "OK" in output
    verification = AuditVerification.objects.get()
    assert verification.ok and verification.problems == 0
    assert verification.rows_checked == AuditSeal.objects.get().row_count > 2
    assert verification.sealed_through == AuditSeal.objects.get().sealed_through


def test_a_seal_covers_events_and_contexts_with_their_columns_and_a_chained_hash(staff_admin):
    make_client(staff_admin)
    first = seal.seal_pending().seals[0]
    second = seal_at(2)

    assert {EVENTS, CONTEXTS} <= first.tables.keys()
    assert first.tables[CONTEXTS]["columns"] == ["created_at", "id", "metadata"]
    assert "city" in first.tables[EVENTS]["columns"]
    assert (first.sequence, first.prev_hash, first.sealed_from) == (1, "", None)
    assert (second.prev_hash, second.sealed_from) == (first.hash, first.sealed_through)
    assert len(bytes(first.row_digests)) == sum(
        entry["count"] * seal.Table(name).record_width for name, entry in first.tables.items()
    )


def test_an_edited_event_field_is_named_with_its_table_and_id(staff_admin):
    event = client_event(make_client(staff_admin))
    seal.seal_pending()
    as_superuser(f"UPDATE {EVENTS} SET city = 'Forged' WHERE pgh_id = %s", [event.pgh_id])

    status, output, findings = run_verify()

    assert status == 1
    assert findings == [(seal.EDITED, EVENTS, event.pgh_id)]
    assert f"edited: {EVENTS} id={event.pgh_id} seal #1" in output


def test_a_deleted_event_is_named_with_its_table_and_id(staff_admin):
    event = client_event(make_client(staff_admin))
    seal.seal_pending()
    as_superuser(f"DELETE FROM {EVENTS} WHERE pgh_id = %s", [event.pgh_id])

    status, _, findings = run_verify()

    assert status == 1
    assert findings == [(seal.DELETED, EVENTS, event.pgh_id)]


def test_an_event_forged_into_a_sealed_range_is_named_as_inserted(staff_admin):
    event = client_event(make_client(staff_admin))
    seal.seal_pending()
    columns = [f.column for f in ClientEvent._meta.concrete_fields if f.column != "pgh_id"]
    values = ["'Forged'" if c == "city" else c for c in columns]
    as_superuser(
        f"INSERT INTO {EVENTS} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM {EVENTS} WHERE pgh_id = %s",
        [event.pgh_id],
    )
    forged = ClientEvent.objects.get(city="Forged")

    status, _, findings = run_verify()

    assert status == 1
    assert findings == [(seal.INSERTED, EVENTS, forged.pgh_id)]


def test_an_event_moved_out_of_its_sealed_range_is_named_as_edited(staff_admin):
    event = client_event(make_client(staff_admin))
    seal.seal_pending()
    as_superuser(
        f"UPDATE {EVENTS} SET pgh_created_at = now() + interval '1 day' WHERE pgh_id = %s",
        [event.pgh_id],
    )

    _, output, findings = run_verify()

    assert findings == [(seal.EDITED, EVENTS, event.pgh_id)]
    assert "moved out of the range" in output


def test_a_context_whose_reason_was_changed_is_named_as_edited(staff_admin):
    customer = make_client(staff_admin, reason="asked by phone")
    context_id = client_event(customer).pgh_context_id
    seal.seal_pending()
    as_superuser(
        'UPDATE pghistory_context SET metadata = metadata || \'{"reason": "forged"}\''
        " WHERE id = %s",
        [context_id],
    )

    status, _, findings = run_verify()

    assert status == 1
    assert findings == [(seal.EDITED, CONTEXTS, str(context_id))]


def test_a_seal_whose_hash_was_edited_breaks_it_and_the_chain_after_it(staff_admin):
    make_client(staff_admin)
    first = seal.seal_pending().seals[0]
    second = seal_at(2)
    as_superuser(
        "UPDATE audit_auditseal SET hash = md5(hash) || md5(hash) WHERE id = %s", [first.pk]
    )

    status, _, _ = run_verify()

    assert status == 1
    assert seal_findings() == {
        (seal.SEAL_BROKEN, first.sequence),
        (seal.CHAIN_BROKEN, second.sequence),
    }


def test_a_seal_whose_digest_was_rewritten_to_match_an_edit_is_broken(staff_admin):
    event = client_event(make_client(staff_admin))
    first = seal.seal_pending().seals[0]
    as_superuser(f"UPDATE {EVENTS} SET city = 'Forged' WHERE pgh_id = %s", [event.pgh_id])
    forged = seal.Table(EVENTS)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT encode(sha256(string_agg({forged.record_sql(first.tables[EVENTS]['columns'])},"
            f" ''::bytea ORDER BY r.pgh_id)), 'hex') FROM {EVENTS} r"
        )
        digest = cur.fetchone()[0]
    as_superuser(
        "UPDATE audit_auditseal SET tables = jsonb_set(tables, %s, to_jsonb(%s::text))"
        " WHERE id = %s",
        [[EVENTS, "digest"], digest, first.pk],
    )

    status, _, _ = run_verify()

    assert status == 1
    assert seal_findings() == {(seal.SEAL_BROKEN, first.sequence)}


def test_a_seal_with_a_malformed_table_list_is_broken_and_its_rows_cannot_be_checked(staff_admin):
    make_client(staff_admin)
    first = seal.seal_pending().seals[0]
    as_superuser(
        "UPDATE audit_auditseal SET tables = jsonb_set(tables, %s, %s::jsonb) WHERE id = %s",
        [[EVENTS, "columns"], json.dumps(["city); DROP TABLE x; --"]), first.pk],
    )

    status, _, findings = run_verify()

    assert status == 1
    assert (seal.SEAL_BROKEN, first.sequence) in seal_findings()
    assert (seal.UNCHECKABLE, EVENTS, None) in findings


def test_a_deleted_seal_is_reported_missing(staff_admin):
    make_client(staff_admin)
    seal.seal_pending()
    deleted = seal_at(2)
    third = seal_at(4)
    as_superuser("DELETE FROM audit_auditseal WHERE id = %s", [deleted.pk])

    status, output, _ = run_verify()

    assert status == 1
    assert seal_findings() == {(seal.SEAL_MISSING, third.sequence)}
    assert "1 seal(s) missing after seal #1 (#2)" in output


def test_old_unsealed_events_are_reported(staff_admin):
    event = client_event(make_client(staff_admin))

    status, output, findings = run_verify()

    assert status == 1
    assert (seal.UNSEALED, EVENTS, event.pgh_id) in findings
    assert {table for kind, table, _ in findings if kind == seal.UNSEALED} >= {EVENTS, CONTEXTS}
    assert "not sealed" in output


def test_rows_younger_than_the_horizon_are_left_for_later(settings, staff_admin):
    settings.AUDIT_SEAL_HORIZON_SECONDS = 600
    make_client(staff_admin)

    run = seal.seal_pending()

    assert all(EVENTS not in s.tables for s in run.seals)
    status, _, findings = run_verify()
    assert (status, findings) == (0, [])  # not yet twice the horizon old: nothing to report


def test_sealing_twice_seals_nothing_new_the_second_time(staff_admin):
    make_client(staff_admin)
    first = seal.seal_pending()

    second = seal.seal_pending()

    assert first.rows > 0
    assert (second.rows, second.seals) == (0, [])
    assert AuditSeal.objects.count() == 1


def test_a_transaction_still_open_holds_the_seal_back(staff_admin):
    make_client(staff_admin)
    with other_connection(autocommit=False) as other:
        # A transaction that began before the sealer's horizon and may still write rows dated
        # from its start: nothing from its start on may be sealed yet.
        (started,) = other.execute("SELECT now()").fetchone()
        run = seal.seal_pending()
    assert run.seals[0].sealed_through <= started


def test_a_second_sealer_is_refused_while_one_runs(staff_admin):
    make_client(staff_admin)
    with other_connection(autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [seal._LOCK_ID])
        with pytest.raises(ValidationError) as exc:
            seal.seal_pending()
    assert exc.value.code == "sealer_busy"
    assert not AuditSeal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_backlog_larger_than_the_cap_becomes_several_chained_seals(staff_admin):
    # Each service call commits its own transaction: four distinct timestamps.
    customers = [make_client(staff_admin, n) for n in range(4)]

    run = seal.seal_pending(max_rows=3)

    with_clients = [s for s in run.seals if EVENTS in s.tables]
    assert [s.tables[EVENTS]["count"] for s in with_clients] == [1, 1, 1, 1]
    assert sorted(s.tables[EVENTS]["first_id"] for s in with_clients) == sorted(
        client_event(c).pgh_id for c in customers
    )
    for before, after in zip(run.seals, run.seals[1:], strict=False):
        assert (after.prev_hash, after.sealed_from) == (before.hash, before.sealed_through)
    assert all(s.row_count <= 3 for s in with_clients)
    status, _, findings = run_verify()
    assert (status, findings) == (0, [])


def test_rows_are_checked_on_the_columns_their_seal_recorded(staff_admin, monkeypatch):
    make_client(staff_admin)
    current = seal.sealed_tables()
    # As if clients_clientevent had no "city" column when it was sealed, and gained it since.
    older = {**current, EVENTS: tuple(c for c in current[EVENTS] if c != "city")}
    monkeypatch.setattr(seal, "sealed_tables", lambda: older)
    (sealed,) = seal.seal_pending().seals
    monkeypatch.undo()

    status, _, findings = run_verify()

    assert "city" not in sealed.tables[EVENTS]["columns"]
    assert (status, findings) == (0, [])


def test_the_export_gets_one_line_per_seal(settings, staff_admin):
    make_client(staff_admin)
    seals = [seal.seal_pending().seals[0], seal_at(2), seal_at(4)]

    with open(settings.AUDIT_SEAL_EXPORT, encoding="utf-8") as export:
        lines = [json.loads(line) for line in export]

    assert lines == [seal.export_record(s) for s in seals]
    assert run_verify("--export", settings.AUDIT_SEAL_EXPORT)[0] == 0


def test_verify_with_the_export_catches_a_seal_row_that_differs_from_its_line(
    settings, staff_admin
):
    make_client(staff_admin)
    seal.seal_pending()
    second = seal_at(2)
    as_superuser(
        "UPDATE audit_auditseal SET created_at = created_at - interval '1 hour' WHERE id = %s",
        [second.pk],
    )

    status, output, _ = run_verify("--export", settings.AUDIT_SEAL_EXPORT)

    assert status == 1
    assert (seal.EXPORT_MISMATCH, second.sequence) in seal_findings()
    assert "differs from its export line in: created_at" in output


def test_verify_with_the_export_catches_the_newest_seal_deleted(settings, staff_admin):
    make_client(staff_admin)
    seal.seal_pending()
    newest = seal_at(2)
    as_superuser("DELETE FROM audit_auditseal WHERE id = %s", [newest.pk])
    assert run_verify()[0] == 0  # the chain alone cannot tell its last link is gone

    status, output, _ = run_verify("--export", settings.AUDIT_SEAL_EXPORT)

    assert status == 1
    assert seal_findings() == {(seal.EXPORT_ONLY, newest.sequence)}
    assert "a genuine seal was deleted" in output


def test_sealing_refuses_to_go_on_when_the_export_knows_a_seal_the_database_lost(staff_admin):
    make_client(staff_admin)
    seal.seal_pending()
    newest = seal_at(2)
    as_superuser("DELETE FROM audit_auditseal WHERE id = %s", [newest.pk])

    with pytest.raises(ValidationError) as exc:
        seal_at(4)

    assert exc.value.code == "export_diverged"
    assert AuditSeal.objects.count() == 1


def test_sealing_and_verifying_refuse_to_run_without_a_key(settings, staff_admin):
    make_client(staff_admin)
    settings.AUDIT_SEAL_KEY = ""

    for command in ("audit_seal", "audit_verify"):
        with pytest.raises(CommandError, match="AUDIT_SEAL_KEY"):
            call_command(command, stdout=StringIO())
    assert not AuditSeal.objects.exists()


def test_a_seal_made_with_another_key_does_not_verify(settings, staff_admin):
    make_client(staff_admin)
    seal.seal_pending()
    settings.AUDIT_SEAL_KEY = "another-key-" + "x" * 40

    _, _, findings = run_verify()

    assert findings == [(seal.SEAL_BROKEN, "", None)]


@pytest.mark.parametrize("statement", ["UPDATE {t} SET ok = NOT ok", "DELETE FROM {t}"])
def test_seals_and_verifications_refuse_update_and_delete(statement, staff_admin):
    make_client(staff_admin)
    seal.seal_pending()
    seal.verify()
    for model in (AuditSeal, AuditVerification):
        sql = statement.format(t=model._meta.db_table)
        if model is AuditSeal:
            sql = sql.replace("ok = NOT ok", "hash = ''")
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
        assert getattr(model, "audit_append_only", False) is True
        assert getattr(model, "audit_track", True) is False


def test_status_says_how_far_the_trail_is_sealed_and_how_the_last_verification_went(staff_admin):
    assert seal.status() == seal.SealStatus(None, None, None, None)
    assert str(seal.status()) == "never sealed · never verified"
    make_client(staff_admin)
    made = seal.seal_pending().seals[0]
    seal.verify()
    event = ClientEvent.objects.first()
    as_superuser(f"DELETE FROM {EVENTS} WHERE pgh_id = %s", [event.pgh_id])
    seal.verify()

    current = seal.status()

    assert current.sealed_through == made.sealed_through
    assert (current.verified_ok, current.problems) == (False, 1)
    assert str(current).endswith(": 1 problem(s)")
    assert str(current).startswith("sealed up to ")
    html = render_to_string("audit/includes/_seal_status.html", {"seal_status": current})
    assert "Sealed up to" in html and "1 problem" in html and "text-bg-danger" in html
    assert "<script" not in html and "style=" not in html
