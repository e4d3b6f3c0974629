"""The hosting panel of the dashboard: what needs attention this week."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from core.dashboard import Panel, register_panel
from hosting.models import Domain, Service

DUE_WITHIN_DAYS = 7
EXPIRING_WITHIN_DAYS = 30


def _context(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    due_by = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    expiring_by = today + dt.timedelta(days=EXPIRING_WITHIN_DAYS)
    services = Service.objects.aggregate(
        active=Count("pk", filter=Q(status=Service.Status.ACTIVE)),
        suspended=Count("pk", filter=Q(status=Service.Status.SUSPENDED)),
        pending=Count("pk", filter=Q(status=Service.Status.PENDING)),
    )
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
