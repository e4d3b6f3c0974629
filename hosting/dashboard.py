"""The hosting panel of the dashboard: what needs attention this week."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone

from core.dashboard import Panel, cached_figures, register_panel
from hosting.models import Domain, Service

DUE_WITHIN_DAYS = 7
EXPIRING_WITHIN_DAYS = 30


COUNTED = (Service.Status.ACTIVE, Service.Status.SUSPENDED, Service.Status.PENDING)


def _service_counts() -> dict[str, int]:
    # Grouped over the (status, id) index: an index-only scan of these statuses, not of every
    # service.
    counts = dict(
        Service.objects.filter(status__in=COUNTED)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {status.value: counts.get(status.value, 0) for status in COUNTED}


def _context(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    due_by = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    expiring_by = today + dt.timedelta(days=EXPIRING_WITHIN_DAYS)
    services = cached_figures("hosting", _service_counts)
    return {
        "service_counts": services,
        "due_soon": list(
            Service.objects.filter(
                status=Service.Status.ACTIVE, next_due_date__gte=today, next_due_date__lte=due_by
            )
            .select_related("client", "product")
            .order_by("next_due_date", "id")[:8]
        ),
        "expiring": list(
            Domain.objects.filter(
                status=Domain.Status.ACTIVE, expiry_date__gte=today, expiry_date__lte=expiring_by
            )
            .select_related("client")
            .order_by("expiry_date", "id")[:8]
        ),
        "due_within_days": DUE_WITHIN_DAYS,
        "expiring_within_days": EXPIRING_WITHIN_DAYS,
        "today": today,
        "due_by": due_by,
        "expiring_by": expiring_by,
    }


register_panel(
    Panel("hosting", "hosting.view_service", "hosting/includes/_dashboard.html", _context, order=20)
)
