"""The replica router: reads of flagged list pages may go to the replica, nothing else does.

The test settings define ``replica`` as a mirror of the test database (its own connection to
the same database), so the decisions are real but need no second server.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from audit.models import AuditSeal
from clients.models import Client
from core import routers
from core.routers import PIN_COOKIE, ReplicaReadsMiddleware, ReplicaRouter, replica_reads

router = ReplicaRouter()
MIDDLEWARE_AFTER = "django.contrib.auth.middleware.AuthenticationMiddleware"


def test_outside_a_flagged_scope_every_read_goes_to_the_primary():
    assert router.db_for_read(Client) == "default"


def test_a_flagged_scope_reads_the_replica_and_writes_the_primary():
    with replica_reads():
        assert router.db_for_read(Client) == "replica"
        assert router.db_for_read(AuditSeal) == "replica"
        assert router.db_for_write(Client) == "default"
    assert router.db_for_read(Client) == "default"


def test_raw_sql_can_ask_for_the_same_alias():
    assert routers.alias_for_reads() == "default"
    with replica_reads():
        assert routers.alias_for_reads() == "replica"


def test_writes_always_go_to_the_primary():
    assert router.db_for_write(Client) == "default"
    with replica_reads():
        assert router.db_for_write(Client) == "default"
        assert router.db_for_write(AuditSeal) == "default"


def test_logins_sessions_and_permissions_are_read_from_the_primary():
    with replica_reads():
        assert router.db_for_read(get_user_model()) == "default"
        assert router.db_for_read(SessionStore.get_model_class()) == "default"


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_without_a_replica_alias_nothing_reads_elsewhere(settings):
    settings.DATABASES = {"default": settings.DATABASES["default"]}
    with replica_reads():
        assert router.db_for_read(Client) == "default"


def test_any_statement_but_a_select_counts_as_a_write():
    state = routers.ReadState(replica_ok=True)
    note = routers._note_writes(state)

    def execute(*args):
        return None

    for sql in ("SELECT 1", "  (SELECT 1) UNION ALL (SELECT 2)", "select id from x"):
        note(execute, sql, None, False, None)
    assert state.wrote is False
    note(execute, "UPDATE clients_client SET status = 'x'", None, False, None)
    assert state.wrote is True
    for sql in ("INSERT INTO t VALUES (1)", "WITH x AS (DELETE FROM t) SELECT 1", "SAVEPOINT s"):
        other = routers.ReadState(replica_ok=True)
        routers._note_writes(other)(execute, sql, None, False, None)
        assert other.wrote, sql


def test_migrations_never_run_on_the_replica():
    assert router.allow_migrate("default", "clients") is True
    assert router.allow_migrate("replica", "clients") is False


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_after_a_write_and_inside_a_transaction_reads_go_to_the_primary():
    with replica_reads() as state:
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            Client.objects.count()
        assert len(on_replica) == 1  # really read there

        with transaction.atomic():
            assert router.db_for_read(Client) == "default"  # a service sees its own writes
        assert router.db_for_read(Client) == "replica"

        SessionStore().create()  # an INSERT on the primary
        assert state.wrote is True
        assert router.db_for_read(Client) == "default"  # for the rest of the scope
        with CaptureQueriesContext(connections["replica"]) as on_replica:
            Client.objects.count()
        assert len(on_replica) == 0


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_the_client_list_reads_the_replica_and_a_browser_that_wrote_reads_the_primary(
    settings, staff_client
):
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(MIDDLEWARE_AFTER) + 1, "core.routers.ReplicaReadsMiddleware")
    settings.MIDDLEWARE = middleware
    from tests.factories.clients import ClientFactory

    ClientFactory(first_name="Replicated")

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        response = staff_client.get("/clients/")
    assert response.status_code == 200
    assert "Replicated" in response.content.decode()
    assert any("clients_client" in q["sql"] for q in on_replica.captured_queries)
    assert not any("auth_user" in q["sql"] for q in on_replica.captured_queries)
    assert not any("django_session" in q["sql"] for q in on_replica.captured_queries)
    assert PIN_COOKIE not in response.cookies  # it only read

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert staff_client.get("/billing/invoices/").status_code == 200
    assert any("billing_invoice" in q["sql"] for q in on_replica.captured_queries)
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert staff_client.get("/audit/").status_code == 200
    # The feed's ORM reads (the seal status) go there; its own SQL (audit/feed.py) still uses
    # the primary connection directly (see the README, "Running at scale").
    assert any("audit_auditseal" in q["sql"] for q in on_replica.captured_queries)

    # A page not in REPLICA_READ_VIEWS reads the primary.
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert staff_client.get("/billing/transactions/").status_code == 200
    assert len(on_replica) == 0

    # A browser that wrote a moment ago reads the primary, so it sees its own write.
    staff_client.cookies[PIN_COOKIE] = str(2**40)
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert staff_client.get("/clients/").status_code == 200
    assert len(on_replica) == 0


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_a_request_that_writes_pins_the_browser_to_the_primary(settings):
    def view(request):
        from django.http import HttpResponse

        SessionStore().create()
        return HttpResponse("ok")

    response = ReplicaReadsMiddleware(view)(RequestFactory().post("/anything"))
    assert int(response.cookies[PIN_COOKIE].value) > 0
    assert response.cookies[PIN_COOKIE]["max-age"] == settings.DATABASE_REPLICA_PIN_SECONDS
    assert response.cookies[PIN_COOKIE]["httponly"]


def test_a_garbled_pin_cookie_reads_the_primary():
    request = RequestFactory().get("/clients/", HTTP_COOKIE=f"{PIN_COOKIE}=nonsense")
    assert ReplicaReadsMiddleware(lambda r: None)._pinned(request) is True
    assert ReplicaReadsMiddleware(lambda r: None)._pinned(RequestFactory().get("/")) is False


def test_settings_wire_the_router():
    from django.conf import settings

    assert settings.DATABASE_ROUTERS == ["core.routers.ReplicaRouter"]
    assert settings.DATABASES["replica"]["TEST"]["MIRROR"] == "default"


def _settings_in_a_subprocess(**environ):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_REPLICA")},
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": "postgres://whmcs_app@db-primary.internal:5432/whmcs",  # never reached
        "DJANGO_SETTINGS_MODULE": "whmcs_manual.settings",
        **environ,
    }
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'aliases': sorted(s.DATABASES), 'routers': s.DATABASE_ROUTERS, "
        "'middleware': s.MIDDLEWARE, 'replica': s.DATABASES.get('replica', {})}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_replica_url_adds_the_alias_the_router_and_the_middleware():
    found = _settings_in_a_subprocess(
        DATABASE_REPLICA_URL="postgres://whmcs_app@db-replica.internal:5432/whmcs"
    )
    assert found["aliases"] == ["default", "replica"]
    assert found["routers"] == ["core.routers.ReplicaRouter"]
    assert "core.routers.ReplicaReadsMiddleware" in found["middleware"]
    assert found["replica"]["HOST"] == "db-replica.internal"
    assert found["replica"]["OPTIONS"]["options"] == "-c default_transaction_read_only=on"


def test_without_a_replica_url_there_is_no_router_and_no_middleware():
    found = _settings_in_a_subprocess()
    assert found["aliases"] == ["default"]
    assert found["routers"] == []
    assert "core.routers.ReplicaReadsMiddleware" not in found["middleware"]
