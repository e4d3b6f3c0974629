"""The client profile's Products/Services and Domains tabs."""

from __future__ import annotations

from typing import Any

from clients.profile import ProfileTab, register_note_subject, register_tab
from clients.services import register_currency_lock
from hosting.models import Domain, Service

TAB_LIMIT = 100


def _services(request: Any, client: Any) -> dict[str, Any]:
    rows = Service.objects.filter(client=client).select_related("product", "server")
    return {"services": list(rows.order_by("-id")[:TAB_LIMIT])}


def _domains(request: Any, client: Any) -> dict[str, Any]:
    rows = Domain.objects.filter(client=client).select_related("tld")
    return {"domains": list(rows.order_by("-id")[:TAB_LIMIT])}


register_tab(
    ProfileTab(
        "services",
        "Products/Services",
        "hosting.view_service",
        "hosting/includes/_tab_services.html",
        _services,
        order=10,
    )
)
register_tab(
    ProfileTab(
        "domains",
        "Domains",
        "hosting.view_domain",
        "hosting/includes/_tab_domains.html",
        _domains,
        order=20,
    )
)

register_note_subject(
    "hosting.service", lambda client, user: client.services.order_by("-id"), limit=TAB_LIMIT
)
register_note_subject(
    "hosting.domain", lambda client, user: client.domains.order_by("-id"), limit=TAB_LIMIT
)


def _has_priced_records(client: Any) -> str:
    # Accounts, domains and add-ons carry amounts in the client's currency: changing it would
    # copy those amounts onto invoices in another currency.
    if client.services.exists():
        return "the client has hosting accounts priced in its currency"
    if client.domains.exists():
        return "the client has domains priced in its currency"
    return ""


register_currency_lock(_has_priced_records)
