from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.users import StaffFactory

ROLES = (ADMIN, BILLING, SUPPORT, READ_ONLY)


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_append_only_triggers():
    """Let Django's test teardown empty the database between transactional tests.

    The audit tables refuse TRUNCATE, which is how ``flush`` resets the database after a
    ``transaction=True`` test or a live-server test. Only here, in the test harness, the flush
    runs with ``session_replication_role = replica`` (superuser only; triggers do not fire).
    The application itself never does this.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return original(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


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
    go to the user (``client_as(None, is_superuser=True)``)."""

    def login(role: str | None, **user: object) -> HttpClient:
        http = HttpClient()
        http.force_login(make_staff(role, **user))
        return http

    return login


@pytest.fixture
def staff_client(staff_admin) -> HttpClient:
    http = HttpClient()
    http.force_login(staff_admin)
    return http


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Ticket attachments go to a fresh folder per test, never the developer's ``.data``."""
    from django.utils.functional import empty

    from support.models import private_storage

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    private_storage._wrapped = empty
    yield
    private_storage._wrapped = empty
