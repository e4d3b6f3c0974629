"""/healthz and /readyz: cheap, anonymous, JSON, 200 or 503."""

import pytest
from django.db import connections
from django.test import Client as HttpClient

from audit.models import AuditSeal
from core import health


def test_liveness_answers_without_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = HttpClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_the_database_and_the_storage():
    response = HttpClient().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "storage": "ok"}
    assert body["audit_seal_lag_seconds"] is None  # nothing sealed yet
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readiness_is_503_when_the_database_does_not_answer(monkeypatch):
    def refused(*args, **kwargs):
        raise connections["default"].Database.OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refused)
    response = HttpClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "error"
    assert "refused" not in response.content.decode()  # the reason is logged, not shown


@pytest.mark.django_db
def test_readiness_is_503_when_the_storage_does_not_answer(monkeypatch):
    def unreachable(name):
        raise OSError("bucket unreachable")

    monkeypatch.setattr(health.default_storage, "exists", unreachable)
    response = HttpClient().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "storage": "error"}


@pytest.mark.django_db
def test_readiness_reports_the_seal_lag_once_something_is_sealed():
    from django.utils import timezone

    AuditSeal.objects.create(
        sequence=1,
        created_at=timezone.now() - timezone.timedelta(seconds=90),
        sealed_through=timezone.now(),
        hash="a" * 64,
    )
    lag = HttpClient().get("/readyz").json()["audit_seal_lag_seconds"]
    assert 89 <= lag < 150


def test_probes_need_no_login_no_https_and_no_known_host(settings):
    # A balancer probes plain HTTP on the server's own address, without a session.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["backoffice.example.com"]
    response = HttpClient().get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert "X-Request-ID" not in response  # the audit middleware never ran


def test_other_paths_still_go_through_the_whole_stack():
    response = HttpClient().get("/healthz/extra")
    assert response.status_code == 404
    assert "X-Request-ID" in response  # the audit middleware ran
