"""JSON logs carrying the audit trail's request id; Prometheus metrics at /metrics."""

import io
import json
import logging
import logging.config

import pytest
from django.http import HttpResponse
from django.test import Client as HttpClient
from django.test import RequestFactory

from audit.logs import logging_config
from audit.middleware import AuditMiddleware
from clients.models import EmailLog
from clients.outbox import queue_email


@pytest.fixture
def json_log(settings):
    """The JSON configuration LOG_FORMAT=json selects, its console writing to a buffer."""
    logging.config.dictConfig(logging_config(log_format="json", level="INFO"))
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    handler.setStream(buffer)

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield lines
    logging.config.dictConfig(settings.LOGGING)


def test_logs_are_plain_text_by_default(settings):
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"
    assert "json" not in settings.LOGGING["formatters"]


def test_a_log_line_carries_the_request_id_the_audit_trail_records(json_log, staff_admin):
    def view(request):
        logging.getLogger("whmcs.test").info("hello from the view")
        return HttpResponse("ok")

    request = RequestFactory().get("/clients/42/")
    request.user = staff_admin
    response = AuditMiddleware(view)(request)

    (line,) = [entry for entry in json_log() if entry["message"] == "hello from the view"]
    assert line["request_id"] == response["X-Request-ID"] == request.request_id
    assert line["user_id"] == staff_admin.pk
    assert line["path"] == "/clients/42/"
    assert line["level"] == "INFO"
    assert line["logger"] == "whmcs.test"
    assert "time" in line


def test_djangos_own_request_lines_carry_the_id_too(json_log, db):
    response = HttpClient().get("/no-such-page/")
    assert response.status_code == 404
    (line,) = [entry for entry in json_log() if entry["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["path"] == "/no-such-page/"


def test_outside_a_request_the_fields_are_empty(json_log):
    logging.getLogger("whmcs.test").warning("no request here")
    (line,) = json_log()
    assert line["request_id"] == "" and line["user_id"] is None and line["path"] == ""


def _sample(text: str, name: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return line.split(" ", 1)[1]


@pytest.mark.django_db
def test_metrics_expose_latency_queue_depth_and_seal_lag(staff_admin):
    queue_email(
        client=None, kind=EmailLog.Kind.ONE_OFF, to=["someone@example.com"], subject="Hi",
        body="Hello", actor=staff_admin,
    )  # fmt: skip
    HttpClient().get("/healthz")
    response = HttpClient().get("/metrics")  # from 127.0.0.1, anonymous
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert float(_sample(text, "whmcs_outbox_queued_emails")) == 1
    assert _sample(text, "whmcs_audit_seal_lag_seconds") == "NaN"  # nothing sealed yet
    assert "django_http_requests_latency_including_middlewares_seconds_bucket" in text
    assert "django_http_responses_total_by_status_total" in text


@pytest.mark.django_db
def test_seal_lag_is_the_age_of_the_newest_seal():
    from django.utils import timezone

    from audit.models import AuditSeal

    AuditSeal.objects.create(
        sequence=1,
        created_at=timezone.now() - timezone.timedelta(minutes=7),
        sealed_through=timezone.now(),
        hash="b" * 64,
    )
    text = HttpClient().get("/metrics").content.decode()
    assert 420 <= float(_sample(text, "whmcs_audit_seal_lag_seconds")) < 480


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses_but_not_to_staff(settings, staff_admin):
    settings.METRICS_ALLOWED_IPS = ["10.9.0.0/16"]
    assert HttpClient(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    assert HttpClient(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 403
    assert HttpClient(REMOTE_ADDR="10.9.3.4").get("/metrics").status_code == 200
    staff = HttpClient(REMOTE_ADDR="203.0.113.9")
    staff.force_login(staff_admin)
    assert staff.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_open_the_metrics(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.AUDIT_TRUSTED_PROXIES = []
    forged = HttpClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_the_scrape_needs_no_https_no_known_host_and_no_session(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["backoffice.example.com"]
    settings.METRICS_ALLOWED_IPS = ["10.9.0.0/16"]
    scrape = HttpClient(REMOTE_ADDR="10.9.3.4", HTTP_HOST="10.0.0.7:8000").get("/metrics")
    assert scrape.status_code == 200
    assert "whmcs_outbox_queued_emails" in scrape.content.decode()
    assert "X-Request-ID" not in scrape  # answered before the audit middleware
    # Anyone else goes through the whole stack: redirected to HTTPS like every other page.
    other = HttpClient(REMOTE_ADDR="203.0.113.9", HTTP_HOST="backoffice.example.com")
    assert other.get("/metrics").status_code == 301
