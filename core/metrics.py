"""Prometheus metrics at ``/metrics``: django-prometheus' request counters and latency
histograms, and figures the apps register here (core imports no app: the outbox registers its
queue depth from ``clients``, the audit trail its seal lag from ``audit``).

The apps' figures are read from the database when Prometheus scrapes, so every app server
reports the same value whichever one is asked. The request metrics are per process: with
several gunicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty folder, per server) and
they are summed over the workers (prometheus_client's multiprocess mode).

Only addresses in ``METRICS_ALLOWED_IPS`` (IPs or CIDR ranges; default 127.0.0.1) or a
logged-in staff member may read it: the figures say how busy the business is. The monitoring
server scrapes each app server directly, over plain HTTP on its own address: that scrape is
answered before the HTTPS redirect and the host check (``core.health.HealthCheckMiddleware``).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from collections.abc import Callable, Iterator
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.http import client_ip

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"

# The apps' figures: a registry of their own, read on each scrape.
FIGURES = CollectorRegistry(auto_describe=False)


class Figure(Collector):
    """One gauge whose value ``read()`` computes at scrape time (None: not known, NaN)."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float | None]) -> None:
        self.name = name
        self.documentation = documentation
        self.read = read

    def collect(self) -> Iterator[Metric]:
        try:
            value = self.read()
        except Exception:
            logger.exception("Metric %s could not be read", self.name)
            value = None
        yield GaugeMetricFamily(
            self.name, self.documentation, value=math.nan if value is None else float(value)
        )

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, self.documentation)


def register_figure(name: str, documentation: str, read: Callable[[], float | None]) -> None:
    """Export ``read()`` as the gauge ``name`` (once per name: ``ready()`` may run twice)."""
    if name not in FIGURES._names_to_collectors:
        FIGURES.register(Figure(name, documentation, read))


@cache
def _allowed_networks(
    addresses: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(a.strip(), strict=False) for a in addresses if a.strip())


def may_scrape(request: HttpRequest) -> bool:
    """The request comes from an address in ``METRICS_ALLOWED_IPS`` (as far as we can trust
    the address: ``AUDIT_TRUSTED_PROXIES``)."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in net for net in _allowed_networks(tuple(settings.METRICS_ALLOWED_IPS)))


def may_read_metrics(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff and user.is_active:
        return True
    return may_scrape(request)


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_response() -> HttpResponse:
    body = generate_latest(_process_registry()) + generate_latest(FIGURES)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics`` for staff in a browser; the monitoring server's scrape from an allowed
    address is answered earlier (``core.health.HealthCheckMiddleware``: no HTTPS redirect, no
    host check, no session), which this view also accepts."""
    if not may_read_metrics(request):
        return HttpResponseForbidden("Metrics are for the monitoring server and staff only.")
    return metrics_response()
