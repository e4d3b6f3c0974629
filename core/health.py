"""Liveness and readiness for the load balancer: ``/healthz`` and ``/readyz``.

- ``/healthz`` (liveness): the process answers. No database, no storage, nothing that can be
  slow; a balancer or supervisor restarts a process that stops answering it.
- ``/readyz`` (readiness): the database answers ``SELECT 1`` and the file storage answers an
  ``exists()`` probe; 503 otherwise, so the balancer sends the traffic to another app server.
  Apps add facts of their own (``register_info``: the audit seal lag), reported but never a
  reason to refuse traffic.

Both are answered by ``HealthCheckMiddleware`` at the top of the stack (and so is the
monitoring server's scrape of ``/metrics``, see ``core.metrics``), before the HTTPS
redirect (a balancer probes plain HTTP on the server's own address), the host check, sessions,
the login requirement and the audit context: a probe every few seconds from every balancer
must cost next to nothing and cannot log in. The answers carry no error text (it may name
hosts or users): failures are logged instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.files.storage import default_storage
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
# A name no upload can take (uploads get random hex names under tickets/).
STORAGE_PROBE_NAME = "healthz-probe"

_INFO: dict[str, Callable[[], Any]] = {}


def register_info(name: str, provide: Callable[[], Any]) -> None:
    """Report ``provide()`` under ``name`` in ``/readyz`` (an app's own fact, never fatal)."""
    _INFO[name] = provide


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_storage() -> None:
    default_storage.exists(STORAGE_PROBE_NAME)


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "storage": check_storage}


def liveness(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readiness(request: HttpRequest) -> HttpResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            logger.exception("Readiness check %s failed", name)
            results[name] = "error"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": results}
    for name, provide in _INFO.items():
        try:
            body[name] = provide()
        except Exception:
            logger.exception("Readiness information %s failed", name)
            body[name] = None
    response = JsonResponse(body, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response


def _scrape(request: HttpRequest) -> HttpResponse | None:
    # The monitoring server's scrape, from an allowed address, is answered here too; anyone
    # else (staff in a browser) goes through the whole stack to the same view.
    from core.metrics import METRICS_PATH, may_scrape, metrics_response

    return metrics_response() if request.path_info == METRICS_PATH and may_scrape(request) else None


_EARLY: dict[str, Callable[[HttpRequest], HttpResponse | None]] = {
    LIVENESS_PATH: liveness,
    READINESS_PATH: readiness,
    "/metrics": _scrape,  # core.metrics.METRICS_PATH
}


class HealthCheckMiddleware:
    """Answers the probes (and the monitoring server's scrape of ``/metrics``) before the rest
    of the stack runs (see the module's text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        early = _EARLY.get(request.path_info.rstrip("/") or "/")
        if early is not None and request.method in ("GET", "HEAD"):
            response = early(request)
            if response is not None:
                return response
        return self.get_response(request)
