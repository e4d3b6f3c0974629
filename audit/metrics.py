"""The audit trail's figures for operations: how long since the last seal.

Reported by ``/readyz`` and exported to Prometheus (``core.metrics``) from ``AuditConfig.ready``.
A timer runs ``manage.py audit_seal`` every few minutes; a lag that keeps growing means the
timer stopped (or sealing fails), and the newest events are not yet tamper-evident.
"""

from __future__ import annotations

from django.utils import timezone

from audit.models import AuditSeal


def seal_lag_seconds() -> float | None:
    """Seconds since the newest seal was made; None before the first one."""
    newest = AuditSeal.objects.order_by("-sequence").values_list("created_at", flat=True).first()
    if newest is None:
        return None
    return round((timezone.now() - newest).total_seconds(), 3)
