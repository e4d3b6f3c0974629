"""The database's side of the trail's promise: roles, grants, and triggers nobody can skip.

Two roles share the database. The **owner** owns the schema and runs ``migrate``; the **app**
(``settings.AUDIT_APP_ROLE``, the user of ``DATABASE_URL``) serves requests and runs commands. The
app is neither superuser nor owner of anything, so it cannot disable, drop or replace a trigger,
set ``session_replication_role``, or truncate a table; on the trail's tables it may only read
and append. After every ``migrate`` (``post_migrate``) this module:

- re-grants the app its rights on every table, including event tables added by the migration;
- replaces pgtrigger's ``_pgtrigger_should_ignore`` (which each trigger installation re-creates)
  with one that refuses the write instead of skipping the trigger: ``SET pgtrigger.ignore`` is a
  setting any session may change, so honouring it would let anyone skip the capture,
  append-only and integrity triggers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection

# Recognised by the system check: the installed function is ours, not pgtrigger's original.
HARDENED_MARKER = "audit: triggers cannot be skipped"

HARDENED_IGNORE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name NAME)
RETURNS BOOLEAN AS $$
DECLARE
    _ignore TEXT := current_setting('pgtrigger.ignore', true);
BEGIN
    IF _ignore IS NOT NULL AND _ignore NOT IN ('', '{{}}') THEN
        RAISE EXCEPTION '{HARDENED_MARKER} (pgtrigger.ignore = %, trigger %)',
            _ignore, trigger_name USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN FALSE;
END;
$$ LANGUAGE plpgsql;
"""

CONTEXT_TABLE = "pghistory_context"
# Sealed events moved out of the live event tables (``audit.archive``): the app reads it, and
# writes it only through ``audit_archive_move``, a function that runs as the owner.
ARCHIVE_TABLE = "audit_archived_event"
ARCHIVE_MOVE_FUNCTION = "audit_archive_move(text, text, timestamptz, timestamptz)"
# Tables the app may read but never write: Django's migration history.
READ_ONLY_TABLES = ("django_migrations",)


def append_only_tables() -> list[str]:
    """Tables the app may only read and append to: event tables and the trail's own logs."""
    from django.apps import apps

    from audit.tracking import event_models

    tables = {m._meta.db_table for m in event_models()}
    for model in apps.get_models():
        if getattr(model, "audit_append_only", False):
            tables.add(model._meta.db_table)
    return sorted(tables)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def grant_statements(
    app_role: str,
    tables: Iterable[str],
    archive_partitions: Iterable[str] = (),
    *,
    archive: bool = True,
) -> list[str]:
    role = _quote(app_role)
    partitions = ", ".join(_quote(t) for t in archive_partitions)
    frozen = ", ".join(_quote(t) for t in (*tables, CONTEXT_TABLE, *READ_ONLY_TABLES))
    return [
        # No temporary tables (a temp table named like an event table shadows it for the
        # triggers' unqualified INSERTs) and no objects of its own in the schema (a function
        # named like one the guards call): PUBLIC holds both by default.
        "REVOKE TEMPORARY ON DATABASE " + _quote(connection.settings_dict["NAME"]) + " FROM PUBLIC",
        "REVOKE TEMPORARY ON DATABASE "
        + _quote(connection.settings_dict["NAME"])
        + f" FROM {role}",
        f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON {_quote(READ_ONLY_TABLES[0])} FROM {role}",
        f"REVOKE UPDATE, DELETE ON {frozen} FROM {role}",
        # pghistory upserts the context row (INSERT ... ON CONFLICT DO UPDATE), which needs
        # UPDATE on the columns it sets; the context trigger lets only the transaction that
        # created a row change it.
        f"GRANT UPDATE (metadata, updated_at) ON {_quote(CONTEXT_TABLE)} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ] + (
        [
            # The archive: read through its parent only; rows arrive through the move function.
            f"REVOKE INSERT, UPDATE, DELETE ON {_quote(ARCHIVE_TABLE)} FROM {role}",
            *([f"REVOKE ALL ON {partitions} FROM {role}"] if partitions else []),
            f"GRANT EXECUTE ON FUNCTION {ARCHIVE_MOVE_FUNCTION} TO {role}",
        ]
        if archive
        else []  # a database migrated to before audit.0011
    )


def archive_partitions(cursor: Any) -> list[str]:
    """The archive's monthly partitions (made by ``audit_archive_move`` as months move)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s) ORDER BY 1",
        [ARCHIVE_TABLE],
    )
    return [row[0] for row in cursor.fetchall()]


def role_exists(cursor: Any, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def apply_grants_and_hardening(app_role: str | None = None) -> None:
    """Install the hardened ignore check and grant the app role its rights (run as the owner)."""
    app_role = settings.AUDIT_APP_ROLE if app_role is None else app_role
    with connection.cursor() as cursor:
        cursor.execute(HARDENED_IGNORE_FUNCTION)
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        if not app_role or app_role == owner or not role_exists(cursor, app_role):
            return
        partitions = archive_partitions(cursor)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [ARCHIVE_TABLE])
        archive = cursor.fetchone()[0]
        statements = grant_statements(app_role, append_only_tables(), partitions, archive=archive)
        for statement in statements:
            cursor.execute(statement)


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from core.db import is_last_app_migrated

    # Sent once per app with models; act once, after the last (every table exists by then).
    if using == "default" and is_last_app_migrated(sender):
        apply_grants_and_hardening()


def role_findings(cursor: Any) -> list[str]:
    """What makes the connected role able to edit or hide history (empty: nothing)."""
    findings = []
    cursor.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    superuser, bypass = cursor.fetchone()
    if superuser:
        findings.append("the app's database role is a superuser")
    if bypass:
        findings.append("the app's database role bypasses row security")
    cursor.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND pg_has_role(current_user, c.relowner, 'USAGE')"
    )
    owned = cursor.fetchone()[0]
    if owned:
        findings.append(f"the app's database role owns {owned} table(s)")
    tables = [*append_only_tables(), ARCHIVE_TABLE, *archive_partitions(cursor), CONTEXT_TABLE]
    cursor.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL AND ("
        "has_table_privilege(current_user, t, 'DELETE') "
        "OR has_table_privilege(current_user, t, 'TRUNCATE') "
        "OR (t <> %s AND has_table_privilege(current_user, t, 'UPDATE')))",
        [tables, CONTEXT_TABLE],
    )
    writable = [row[0] for row in cursor.fetchall()]
    if writable:
        findings.append(
            f"the app's database role can UPDATE, DELETE or TRUNCATE {len(writable)} event "
            f"table(s), e.g. {writable[0]}"
        )
    cursor.execute(
        "SELECT has_database_privilege(current_user, current_database(), 'TEMP'), "
        "has_schema_privilege(current_user, 'public', 'CREATE')"
    )
    temp, create = cursor.fetchone()
    if temp:
        findings.append(
            "the app's database role can create temporary tables (which can shadow event tables)"
        )
    if create:
        findings.append("the app's database role can create objects in schema public")
    cursor.execute(
        "SELECT pg_get_functiondef('public._pgtrigger_should_ignore(name)'::regprocedure) "
        "WHERE to_regprocedure('public._pgtrigger_should_ignore(name)') IS NOT NULL"
    )
    row = cursor.fetchone()
    if row is not None and HARDENED_MARKER not in row[0]:
        findings.append("pgtrigger.ignore can skip triggers (run migrate to harden it)")
    return findings
