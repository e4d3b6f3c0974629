"""The shape of the database set-up: two roles, the check that guards it, the embedded server."""

import json
import os
import uuid

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command

from audit.checks import check_app_database_role
from whmcs_manual import embedded_db

pytestmark = pytest.mark.django_db


def test_check_deploy_is_an_error_in_production_when_the_app_can_rewrite_history(settings):
    # The suite connects as a superuser that owns every table: exactly what must be reported.
    settings.DEBUG = False
    messages = check_app_database_role()
    assert messages and {m.id for m in messages} == {"audit.E001"}
    assert any("superuser" in m.msg for m in messages)
    settings.DEBUG = True
    assert {m.id for m in check_app_database_role()} == {"audit.W001"}


def test_prepare_database_creates_a_database_that_does_not_exist_yet(settings):
    name = f"whmcs_prepare_{uuid.uuid4().hex[:8]}"
    settings.OWNER_DATABASE = {**settings.DATABASES["default"], "NAME": name}
    call_command("prepare_database", verbosity=0)
    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "user": db["USER"],
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        conn.execute(f'DROP DATABASE "{name}"')


def test_the_embedded_server_forgets_processes_that_died_without_their_exit_hook(tmp_path):
    handles = tmp_path / ".handle_pids.json"
    dead = 2**22 + 12345  # above pid_max on Linux: never a live process
    handles.write_text(json.dumps([os.getpid(), dead]))
    embedded_db._drop_dead_handles(tmp_path)
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_a_cluster_of_another_postgresql_version_is_moved_aside_not_crashed_on(tmp_path, capsys):
    old = tmp_path / "pg"
    old.mkdir()
    (old / "PG_VERSION").write_text("16\n")
    embedded_db._move_aside_other_versions(old)
    assert not old.exists()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("pg-16-")]
    assert len(moved) == 1 and (moved[0] / "PG_VERSION").read_text() == "16\n"
    assert "moved the PostgreSQL 16 data" in capsys.readouterr().out


def test_a_cluster_of_this_version_stays_where_it_is(tmp_path):
    current = tmp_path / "pg"
    current.mkdir()
    (current / "PG_VERSION").write_text(embedded_db.PG_MAJOR)
    embedded_db._move_aside_other_versions(current)
    assert current.exists()


def test_settings_name_the_app_role_separately_from_the_owner():
    assert settings.AUDIT_APP_ROLE
    assert settings.AUDIT_APP_DATABASE["USER"] == settings.AUDIT_APP_ROLE
    assert settings.OWNER_DATABASE["NAME"]


def test_migrate_grants_the_app_role_its_rights_once_after_the_last_app(monkeypatch):
    """post_migrate is sent only for apps with models: the hook must fire even when the last
    installed app has none (the demo data app)."""
    from django.core.management.sql import emit_post_migrate_signal

    import audit.db

    calls = []
    monkeypatch.setattr(audit.db, "apply_grants_and_hardening", lambda: calls.append(1))
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert calls == [1]
