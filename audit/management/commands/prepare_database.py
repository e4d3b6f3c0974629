"""Create the database, and the app's role, before the first ``migrate``.

``make run`` with ``DATABASE_URL`` naming a database that does not exist yet used to stop with
``database "…" does not exist``. This connects as the owner (``DATABASE_OWNER_URL``, or
``DATABASE_URL`` alone) to the server's maintenance database and creates what is missing. Where
the owner may create roles, a missing app role (the user of ``DATABASE_URL``) is created too, with
the timeouts the audit seal's horizon relies on.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand
from psycopg import sql

from whmcs_manual.embedded_db import APP_ROLE_SETTINGS


def _connect(db: dict[str, Any], dbname: str) -> psycopg.Connection:
    params: dict[str, Any] = {
        "dbname": dbname,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True)


class Command(BaseCommand):
    help = "Create the database (and the app's role, when allowed) if they do not exist yet."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        owner = settings.OWNER_DATABASE
        name = str(owner["NAME"])
        with _connect(owner, "postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                self.stdout.write(f"Database {name} exists.")
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                self.stdout.write(f"Created database {name}.")
            self._ensure_app_role(conn, owner)

    def _ensure_app_role(self, conn: psycopg.Connection, owner: dict[str, Any]) -> None:
        role = settings.AUDIT_APP_ROLE
        if not role or role == owner.get("USER"):
            self.stdout.write(
                "One database URL: the app connects as the owner. Set DATABASE_OWNER_URL and "
                "a separate DATABASE_URL so the app cannot alter the audit trail."
            )
            return
        may = conn.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if not may or not may[0]:
            if not exists:
                self.stderr.write(f"The app role {role} does not exist; ask a DBA to create it.")
            return
        ident = sql.Identifier(role)
        if not exists:
            password = settings.AUDIT_APP_DATABASE.get("PASSWORD") or None
            statement = sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                ident
            )
            if password:
                statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
            conn.execute(statement)
            self.stdout.write(f"Created the app role {role}.")
        version = conn.info.server_version
        for setting, value in APP_ROLE_SETTINGS.items():
            if setting == "transaction_timeout" and version < 170000:
                continue  # PostgreSQL 17 and later
            conn.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    ident, sql.Identifier(setting), sql.Literal(value)
                )
            )
