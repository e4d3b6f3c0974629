"""The queue works as the app's database role: its tables and functions are granted by the
same hardening as the business tables (``audit/db.py``), and nothing of the trail's guard is
loosened for it."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from procrastinate import PsycopgConnector
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.db import apply_grants_and_hardening, role_findings
from tests.jobs.threads import outside_any_event_loop

pytestmark = pytest.mark.django_db(transaction=True)


def _app_role() -> str:
    role = settings.AUDIT_APP_ROLE
    return role if role and role != connection.settings_dict["USER"] else "whmcs_app"


@pytest.fixture
def as_app_role():
    role = _app_role()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE ROLE "{role}" LOGIN')
    apply_grants_and_hardening(app_role=role)
    db = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": role,
        "password": settings.AUDIT_APP_DATABASE.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    yield {k: v for k, v in params.items() if v}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_periodic_defers")


def test_the_app_role_defers_fetches_and_finishes_jobs(as_app_role):
    with app.replace_connector(PsycopgConnector(kwargs=as_app_role)), app.open():
        job_id = app.tasks["audit.seal"].defer()

    def work() -> None:
        with app.replace_connector(PsycopgConnector(kwargs=as_app_role)):
            app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)

    outside_any_event_loop(work)
    job = ProcrastinateJob.objects.get(pk=job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)
    # The worker's periodic deferrer wrote its ticks as the app role too.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_periodic_defers")
        assert cursor.fetchone()[0] > 0


def test_granting_the_queue_leaves_the_app_role_unable_to_rewrite_history(as_app_role):
    with psycopg.connect(**as_app_role) as conn:
        assert role_findings(conn.cursor()) == []
        privileges = conn.execute(
            "SELECT has_table_privilege('procrastinate_jobs', 'UPDATE'), "
            "has_table_privilege('procrastinate_jobs', 'TRUNCATE')"
        ).fetchone()
    assert privileges == (True, False)
