"""Nothing in the application's reach can edit or hide history.

The bypass tests log in as the app's own database role (``settings.AUDIT_APP_ROLE``: neither
superuser nor owner), on the test database, and try every way around the trail that a probe
found; each is refused. A few also hold against the superuser, because triggers (not
privileges) refuse them.
"""

from collections.abc import Iterator

import pgtrigger
import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.db import apply_grants_and_hardening, role_findings
from billing.models import Invoice
from clients.models import Client, ClientEvent
from clients.services import update_client
from tests.factories.billing import make_invoice
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db

REFUSED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException)


def _app_role() -> str:
    role = settings.AUDIT_APP_ROLE
    return role if role and role != connection.settings_dict["USER"] else "whmcs_app"


@pytest.fixture(scope="module")
def committed(django_db_setup, django_db_blocker):
    """History committed once for the module (the app's connection sees only committed rows);
    emptied afterwards by the harness's flush, as after a transactional test."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    with django_db_blocker.unblock():
        role = _app_role()
        with connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cur.fetchone() is None:
                cur.execute(f'CREATE ROLE "{role}" LOGIN')
        apply_grants_and_hardening(app_role=role)
        staff = get_user_model().objects.create_user("tamper-admin", is_staff=True)
        customer = ClientFactory(city="Leeds")
        update_client(client=customer, data={"city": "York"}, actor=staff, reason="moved")
        event = ClientEvent.objects.filter(pgh_obj=customer, pgh_label="update").get()
        invoice = make_invoice(ClientFactory(), actor=staff)
        yield customer, event, invoice
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def history(committed, db):
    return committed[0], committed[1]


@pytest.fixture
def app_db(committed, db) -> Iterator[psycopg.Connection]:
    """A connection to the test database as the app's role."""
    role = _app_role()
    db_settings = connection.settings_dict
    params = {
        "dbname": db_settings["NAME"],
        "user": role,
        "password": settings.AUDIT_APP_DATABASE.get("PASSWORD") or None,
        "host": db_settings.get("HOST") or None,
        "port": db_settings.get("PORT") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}) as conn:
        yield conn


def _refused(conn: psycopg.Connection, *statements: str, params=None) -> str:
    """Run the statements in one transaction; return the refusal's message (fail if none)."""
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement, params if "%s" in statement else None)
    except psycopg.errors.Error as exc:
        return str(exc)
    raise AssertionError(f"not refused: {statements}")


def _trigger(table: str, like: str) -> str:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE %s",
            [table, like],
        )
        return cur.fetchone()[0]


def test_the_app_role_is_neither_superuser_nor_owner_and_cannot_write_history(app_db):
    assert role_findings(app_db.cursor()) == []


def test_the_suites_superuser_connection_is_reported_by_the_check():
    with connection.cursor() as cur:
        findings = role_findings(cur)
    assert any("superuser" in f for f in findings)


def test_ignoring_the_append_only_trigger_does_not_let_the_app_edit_or_delete_events(
    app_db, history
):
    _, event = history
    append_only = _trigger("clients_clientevent", "pgtrigger_append_only%")
    ignore = f"SET LOCAL pgtrigger.ignore = '{{{append_only}}}'"
    table = "clients_clientevent"
    assert _refused(app_db, ignore, f"UPDATE {table} SET city = 'X' WHERE pgh_id = {event.pgh_id}")
    assert _refused(app_db, ignore, f"DELETE FROM {table} WHERE pgh_id = {event.pgh_id}")
    assert _refused(app_db, f"UPDATE {table} SET city = 'X' WHERE pgh_id = {event.pgh_id}")
    assert _refused(app_db, f"DELETE FROM {table}")
    assert _refused(app_db, f"TRUNCATE {table}")
    assert ClientEvent.objects.get(pgh_id=event.pgh_id).city == "York"


def test_ignoring_the_capture_trigger_refuses_the_write_instead_of_hiding_it(app_db, history):
    customer, _ = history
    capture = _trigger("clients_client", "pgtrigger_update_update%")
    message = _refused(
        app_db,
        f"SET LOCAL pgtrigger.ignore = '{{{capture}}}'",
        f"UPDATE clients_client SET city = 'Hidden' WHERE id = {customer.pk}",
    )
    assert "cannot be skipped" in message
    customer.refresh_from_db()
    assert customer.city == "York"


def test_ignoring_an_integrity_trigger_cannot_change_a_published_invoice(app_db, committed):
    invoice = committed[2]
    frozen = _trigger("billing_invoice", "%published_frozen%")
    assert _refused(
        app_db,
        f"SET LOCAL pgtrigger.ignore = '{{{frozen}}}'",
        f"UPDATE billing_invoice SET total = total + 100 WHERE id = {invoice.pk}",
    )
    assert Invoice.objects.get(pk=invoice.pk).total == invoice.total


def test_faking_the_context_id_cannot_rewrite_a_committed_entry(app_db, history):
    _, event = history
    statements = (
        f"SET LOCAL pghistory.context_id = '{event.pgh_context_id}'",
        'UPDATE pghistory_context SET metadata = metadata || \'{"reason": "forged"}\' '
        f"WHERE id = '{event.pgh_context_id}'",
    )
    assert "cannot be changed" in _refused(app_db, *statements)
    # Not even the superuser: the row belongs to the transaction that wrote it.
    with (
        pytest.raises(DatabaseError, match="cannot be changed"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        for statement in statements:
            cur.execute(statement)
    event.pgh_context.refresh_from_db()
    assert event.pgh_context.metadata["reason"] == "moved"


def test_the_app_cannot_delete_or_truncate_context_rows(app_db, history):
    _, event = history
    assert _refused(app_db, f"DELETE FROM pghistory_context WHERE id = '{event.pgh_context_id}'")
    assert _refused(app_db, "TRUNCATE pghistory_context")


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE clients_client CASCADE",
        "TRUNCATE billing_invoice",
        "ALTER TABLE clients_client DISABLE TRIGGER ALL",
        "ALTER TABLE clients_clientevent DISABLE TRIGGER USER",
        "SET session_replication_role = replica",
        "CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name NAME) "
        "RETURNS BOOLEAN AS $$ BEGIN RETURN TRUE; END; $$ LANGUAGE plpgsql",
        "CREATE SCHEMA sneaky",
        # A temp table named like an event table would take the capture triggers' INSERTs.
        "CREATE TEMP TABLE clients_clientevent AS SELECT * FROM public.clients_clientevent",
        "CREATE TEMP TABLE pghistory_context (id uuid)",
        "CREATE FUNCTION public.pg_current_xact_id() RETURNS xid8 AS 'SELECT 1::text::xid8' "
        "LANGUAGE sql",
    ],
)
def test_the_app_role_cannot_switch_off_or_route_around_triggers(app_db, history, statement):
    assert _refused(app_db, statement)


def test_the_app_role_cannot_drop_a_trigger(app_db, history):
    capture = _trigger("clients_client", "pgtrigger_update_update%")
    assert _refused(app_db, f"DROP TRIGGER {capture} ON clients_client")


def test_truncate_of_a_business_table_is_refused_even_to_the_superuser(history):
    with (
        pytest.raises(DatabaseError, match="TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("TRUNCATE clients_client CASCADE")
    assert Client.objects.exists()


def test_pgtrigger_ignore_in_the_shell_refuses_the_write(history):
    customer, _ = history
    with (
        pytest.raises(DatabaseError, match="cannot be skipped"),
        pgtrigger.ignore("clients.Client:update_update"),
        transaction.atomic(),
    ):
        Client.objects.filter(pk=customer.pk).update(city="Hidden")
    customer.refresh_from_db()
    assert customer.city == "York"


def test_every_business_and_event_table_refuses_truncate_by_an_enabled_trigger():
    """TRUNCATE fires no row trigger: each table needs its own statement-level refusal (a
    cascade is refused by whichever table fires first, which hides a table without one)."""
    from audit.tracking import event_models, tracked_models

    tables = {m._meta.db_table for m in tracked_models() if not m._meta.proxy}
    tables |= {m._meta.db_table for m in event_models()} | {"pghistory_context"}
    with connection.cursor() as cur:
        # tgtype bit 5 (32) is TRUNCATE; tgenabled 'D' is disabled.
        cur.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgtype & 32 = 32 AND t.tgenabled <> 'D' AND c.relname = ANY(%s)",
            [sorted(tables)],
        )
        guarded = {row[0] for row in cur.fetchall()}
    assert tables - guarded == set()


def test_the_app_cannot_write_the_archive_and_moves_only_sealed_events_through_its_function(
    app_db, history
):
    _customer, event = history
    archive = "audit_archived_event"
    assert _refused(
        app_db,
        f"INSERT INTO {archive} VALUES ('clients_clientevent', 'clients.client', 1, now(),"
        " 'update', 1, NULL, '{}')",
    )
    assert _refused(app_db, f"DELETE FROM {archive}")
    assert _refused(app_db, f"UPDATE {archive} SET pgh_label = 'x'")
    assert _refused(app_db, f"TRUNCATE {archive}")
    # The move function is the app's only way; it refuses what no seal covers.
    message = _refused(
        app_db,
        "SELECT audit_archive_move('clients_clientevent', 'clients.client',"
        " now() - interval '10 years', now())",
    )
    assert "only sealed events move" in message
    # Nor does it move rows of a table that is not an event table.
    message = _refused(
        app_db,
        "SELECT audit_archive_move('clients_client', 'clients.client', now(), now())",
    )
    assert "not an event table" in message
    assert _refused(
        app_db, f"DELETE FROM {ClientEvent._meta.db_table} WHERE pgh_id = {event.pgh_id}"
    )
