from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.second_factor import force_login_verified
from tests.factories.users import StaffFactory

ROLES = (ADMIN, BILLING, SUPPORT, READ_ONLY)

# The test databases are thrown away: their commits need not wait for the disk (tens of
# milliseconds each here, and transactional and browser tests commit hundreds of times). libpq
# reads PGOPTIONS for every connection the suite opens, its subprocesses' included.
os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")


# Keeping the test database between runs -------------------------------------------------------
#
# Building it runs every migration (triggers included) and takes over a minute, so it is kept
# when that is safe: the database carries, as its comment, a fingerprint of everything that
# shapes its schema (the migration files, the installed apps, the versions of Django and of the
# trigger libraries). A different fingerprint, a missing database or ``--create-db`` builds it
# afresh. A reused database is flushed once first, so nothing a killed run left behind (a
# transactional test that never reached its teardown) leaks into this run.


def schema_fingerprint() -> str:
    import hashlib
    from importlib.metadata import version
    from pathlib import Path

    from django.apps import apps

    digest = hashlib.sha256()
    for name in ("django", "django-pghistory", "django-pgtrigger"):
        digest.update(f"{name}={version(name)};".encode())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        digest.update(f"app={config.label};".encode())
        migrations = Path(config.path) / "migrations"
        for path in sorted(migrations.glob("*.py")) if migrations.is_dir() else ():
            digest.update(path.name.encode() + path.read_bytes())
    return f"whmcs test schema {digest.hexdigest()[:32]}"


def _kept_database_matches() -> bool:
    from django.db import connection

    name = connection.creation._get_test_db_name()
    try:
        with connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [name],
            )
            row = cursor.fetchone()
    except Exception:
        return False
    return row is not None and row[0] == schema_fingerprint()


@pytest.fixture(scope="session")
def django_db_keepdb() -> bool:
    return True


@pytest.fixture(scope="session")
def django_db_createdb(
    request: pytest.FixtureRequest, django_db_blocker, django_db_modify_db_settings
) -> bool:
    # After django_db_modify_db_settings: under pytest-xdist each worker's database name has
    # its suffix (_gw0, _gw1) by then, and that is the database to look at.
    if request.config.getvalue("create_db"):
        return True
    with django_db_blocker.unblock():
        return not _kept_database_matches()


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup, django_db_createdb, django_db_blocker, _flush_past_the_append_only_triggers
):
    from django.core.management import call_command
    from django.db import connection

    with django_db_blocker.unblock():
        if not django_db_createdb:
            call_command("flush", interactive=False, verbosity=0)
        with connection.cursor() as cursor:
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"COMMENT ON DATABASE {name} IS %s", [schema_fingerprint()])


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_append_only_triggers():
    """Let Django's test teardown empty the database between transactional tests, quickly.

    The audit tables refuse TRUNCATE, which is how ``flush`` resets the database after a
    ``transaction=True`` test or a live-server test. Only here, in the test harness, the flush
    runs with ``session_replication_role = replica`` (superuser only; triggers do not fire).
    The application itself never does this.

    It also deletes rather than truncates: a TRUNCATE of the ~150 tables gives each a new file
    and waits on the disk at commit (about 4 s per transactional test here), while a DELETE of
    the few rows a test leaves costs milliseconds. With triggers off, foreign keys are not
    checked, so the order of the tables does not matter.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original_flush, original_execute = (
        DatabaseOperations.sql_flush,
        DatabaseOperations.execute_sql_flush,
    )

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences:
            return original_flush(
                self, style, tables, reset_sequences=True, allow_cascade=allow_cascade
            )
        # Table names come from Django's introspection, quoted.
        return [f"DELETE FROM {self.quote_name(table)}" for table in tables]  # noqa: S608

    def execute_sql_flush(self, sql_list):
        return original_execute(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.sql_flush = sql_flush
    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.sql_flush = original_flush
    DatabaseOperations.execute_sql_flush = original_execute


@pytest.fixture
def make_staff(db) -> Callable:
    def make(role: str | None = ADMIN, **kwargs):
        return StaffFactory(role=role, **kwargs)

    return make


@pytest.fixture
def staff_admin(make_staff):
    return make_staff(ADMIN, username="alice-admin")


@pytest.fixture
def client_as(make_staff) -> Callable[..., HttpClient]:
    """A logged-in test client for a user of the given role (None: no role at all); keywords
    go to the user (``client_as(None, is_superuser=True)``). A user who needs a second factor
    (Admin, Billing, superuser) has passed it (``tests.factories.second_factor``)."""

    def login(role: str | None, **user: object) -> HttpClient:
        return force_login_verified(HttpClient(), make_staff(role, **user))

    return login


@pytest.fixture
def staff_client(staff_admin) -> HttpClient:
    return force_login_verified(HttpClient(), staff_admin)


@pytest.fixture(autouse=True)
def _four_eyes_off_unless_asked(request, settings):
    """Four eyes is on by default in the product; the tests of each service and page check what
    it does at once, so they run without thresholds. ``@pytest.mark.four_eyes`` (tests/approvals)
    keeps the shipped ones."""
    if request.node.get_closest_marker("four_eyes") is None:
        settings.APPROVAL_THRESHOLDS = {}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Ticket attachments go to a fresh folder per test, never the developer's ``.data``."""
    from django.utils.functional import empty

    from support.models import private_storage

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    private_storage._wrapped = empty
    yield
    private_storage._wrapped = empty
