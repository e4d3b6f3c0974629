from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

# (label, url name, permission needed or None, url prefix used to highlight the active section)
SECTIONS = (
    ("Dashboard", "core:dashboard", None),
    ("Clients", "clients:client-list", "clients.view_client"),
    ("Services", "hosting:service-list", "hosting.view_service"),
    ("Domains", "hosting:domain-list", "hosting.view_domain"),
    ("Orders", "orders:order-list", "orders.view_order"),
    ("Tickets", "support:ticket-list", "support.view_ticket"),
    ("Communications", "support:communication-list", "support.view_communication"),
    ("Invoices", "billing:invoice-list", "billing.view_invoice"),
    ("Transactions", "billing:transaction-list", "billing.view_transaction"),
    ("Affiliates", "affiliates:affiliate-list", "affiliates.view_affiliate"),
    ("Knowledgebase", "kb:article-list", "kb.view_article"),
)
AUDIT_SECTIONS = (
    ("Audit trail", "audit:feed", "audit.review_audit"),
    ("Staff sessions", "audit:staff-sessions", "audit.review_audit"),
    ("Sign-in security", "accounts:staff", "auth.change_user"),
)


def _visible(request: HttpRequest, sections: tuple[tuple[str, str, str | None], ...]) -> list:
    user = request.user
    items = []
    for label, url_name, perm in sections:
        if perm is None or user.has_perm(perm):
            url = reverse(url_name)
            active = request.path == url or (url != "/" and request.path.startswith(url))
            items.append({"label": label, "url": url, "active": active})
    return items


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_sections": _visible(request, SECTIONS),
        "nav_audit": _visible(request, AUDIT_SECTIONS),
        "nav_roles": list(user.groups.order_by("name").values_list("name", flat=True)),
    }
