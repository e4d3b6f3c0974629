"""What orders registers (``core/extension_points.py``): the client's Orders tab, notes about
orders, the hosting account's Changes tab and notices, a dashboard panel, the timeline's
orders, the sidebar's Orders section, and what happens when an upgrade's invoice is paid or
cancelled."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from clients.models import Client
from clients.timeline import in_bulk
from core.extension_points import (
    DashboardPanel,
    InvoiceStatusChange,
    InvoiceStatusHandler,
    NavSection,
    NoteSubject,
    ProfileTab,
    ServiceNotice,
    ServiceTab,
    TimelineSource,
    cached_figures,
    register,
)
from orders import services
from orders.models import Order, ServiceChange

TAB_LIMIT = 50


def _invoice_paid(change: InvoiceStatusChange) -> None:
    services.apply_paid_changes(invoice=change.invoice, actor=change.actor, reason=change.reason)


def _invoice_cancelled(change: InvoiceStatusChange) -> None:
    services.withdraw_for_cancelled_invoice(
        invoice=change.invoice, actor=change.actor, reason=change.reason
    )


register(
    InvoiceStatusHandler("orders.apply_paid_changes", "paid", _invoice_paid),
    InvoiceStatusHandler("orders.withdraw_changes", "cancelled", _invoice_cancelled),
)


def _orders(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    rows = Order.objects.filter(client=client).select_related("invoice", "placed_by")
    return {"orders": list(rows.order_by("-id")[:TAB_LIMIT])}


register(
    ProfileTab(
        "orders", "Orders", "orders.view_order", "orders/includes/_tab_orders.html", _orders
    ),
    NoteSubject(
        "orders.order", lambda *, client, user: client.orders.order_by("-id"), limit=TAB_LIMIT
    ),
)


def _changes(*, request: HttpRequest, user: Any, service: Any) -> dict[str, Any]:
    rows = ServiceChange.objects.filter(service=service).select_related(
        "old_product", "new_product", "invoice", "credit_entry", "requested_by", "withdrawn_by"
    )
    changes = list(rows.order_by("-id")[:TAB_LIMIT])
    return {
        "changes": changes,
        "pending_change": next(
            (c for c in changes if c.status == "pending" and c.kind != "cancellation"), None
        ),
        "pending_cancellation": next(
            (c for c in changes if c.status == "pending" and c.kind == "cancellation"), None
        ),
        "can_change": service.status in services.CHANGEABLE,
    }


register(
    ServiceTab(
        "changes",
        "Upgrades & cancellation",
        "orders.view_servicechange",
        "orders/includes/_tab_changes.html",
        _changes,
    )
)


def _notices(*, service: Any, user: Any) -> list[str]:
    notices = []
    pending = ServiceChange.objects.filter(service=service, status="pending").order_by("id")
    for change in pending.select_related("new_product", "invoice"):
        if change.kind == ServiceChange.Kind.CANCELLATION:
            notices.append(
                f"Cancellation requested: it takes effect on {change.effective_date:%d/%m/%Y}."
            )
        else:
            notices.append(
                f"{change.get_kind_display()} to {change.new_product.name} waiting for "
                f"invoice {change.invoice} to be paid."
            )
    return notices


register(ServiceNotice("orders.pending_changes", _notices))


def _dashboard(*, request: HttpRequest, user: Any) -> dict[str, Any]:
    pending = Order.objects.filter(status=Order.Status.PENDING)
    today = timezone.localdate()
    due = ServiceChange.objects.filter(
        kind=ServiceChange.Kind.CANCELLATION,
        status=ServiceChange.Status.PENDING,
        effective_date__lte=today,
    )
    figures = cached_figures(
        f"orders:{today.isoformat()}",
        lambda: {"pending_count": pending.count(), "cancellations_due": due.count()},
    )
    return {**figures, "pending_orders": list(pending.select_related("client").order_by("id")[:8])}


register(
    DashboardPanel("orders", "orders.view_order", "orders/includes/_dashboard.html", _dashboard),
    TimelineSource(
        "order",
        "Orders",
        "orders.view_order",
        lambda *, client, user: Order.objects.filter(client=client),
        "created_at",
        in_bulk(Order.objects.select_related("placed_by", "invoice")),
        "orders/timeline/_order.html",
    ),
    NavSection("orders", "Orders", "orders:order-list", "orders.view_order"),
)
