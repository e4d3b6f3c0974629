"""What orders adds to other apps: the client's Orders tab, the hosting account's Changes tab
and notices, a dashboard panel, and what happens when an upgrade's invoice is paid or
cancelled. Registered from ``OrdersConfig.ready`` so that hosting and billing never import us."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from billing.services import register_invoice_handler
from clients.models import Client
from clients.profile import ProfileTab, register_note_subject, register_tab
from clients.timeline import TimelineSource, in_bulk, register_source
from core.dashboard import Panel, cached_figures, register_panel
from hosting.service_page import register_service_notice, register_service_tab
from orders import services
from orders.models import Order, ServiceChange

TAB_LIMIT = 50

register_invoice_handler("paid", services.apply_paid_changes)
register_invoice_handler("cancelled", services.withdraw_for_cancelled_invoice)


def _orders(request: Any, client: Client) -> dict[str, Any]:
    rows = Order.objects.filter(client=client).select_related("invoice", "placed_by")
    return {"orders": list(rows.order_by("-id")[:TAB_LIMIT])}


register_tab(
    ProfileTab(
        "orders", "Orders", "orders.view_order", "orders/includes/_tab_orders.html", _orders, 25
    )
)
register_note_subject(
    "orders.order", lambda client, user: client.orders.order_by("-id"), limit=TAB_LIMIT
)


def _changes(request: Any, service: Any) -> dict[str, Any]:
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


register_service_tab(
    ProfileTab(
        "changes",
        "Upgrades & cancellation",
        "orders.view_servicechange",
        "orders/includes/_tab_changes.html",
        _changes,
        order=10,
    )
)


def _notices(service: Any) -> list[str]:
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


register_service_notice(_notices)


def _dashboard(request: HttpRequest) -> dict[str, Any]:
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


register_panel(
    Panel("orders", "orders.view_order", "orders/includes/_dashboard.html", _dashboard, order=35)
)


register_source(
    TimelineSource(
        "order",
        "Orders",
        "orders.view_order",
        lambda client, user: Order.objects.filter(client=client),
        "created_at",
        in_bulk(Order.objects.select_related("placed_by", "invoice")),
        "orders/timeline/_order.html",
        order=40,
    )
)
