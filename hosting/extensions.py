"""What hosting registers (``core/extension_points.py``): the client profile's Products/Services
and Domains tabs, notes about accounts and domains, the currency lock, the dashboard panel (what
needs attention this week) and the sidebar's Services and Domains sections."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone

from core.extension_points import (
    ApprovalAction,
    CurrencyLock,
    DashboardPanel,
    NavSection,
    NoteSubject,
    ProfileTab,
    Reverter,
    cached_figures,
    register,
)
from core.rights import require_right
from hosting import services
from hosting.models import Domain, Service

TAB_LIMIT = 100

# The client profile ---------------------------------------------------------------------------


def _services(*, request: HttpRequest, user: Any, client: Any) -> dict[str, Any]:
    rows = Service.objects.filter(client=client).select_related("product", "server")
    return {"services": list(rows.order_by("-id")[:TAB_LIMIT])}


def _domains(*, request: HttpRequest, user: Any, client: Any) -> dict[str, Any]:
    rows = Domain.objects.filter(client=client).select_related("tld")
    return {"domains": list(rows.order_by("-id")[:TAB_LIMIT])}


def _has_priced_records(*, client: Any) -> str:
    # Accounts, domains and add-ons carry amounts in the client's currency: changing it would
    # copy those amounts onto invoices in another currency.
    if client.services.exists():
        return "the client has hosting accounts priced in its currency"
    if client.domains.exists():
        return "the client has domains priced in its currency"
    return ""


register(
    ProfileTab(
        "services",
        "Products/Services",
        "hosting.view_service",
        "hosting/includes/_tab_services.html",
        _services,
    ),
    ProfileTab(
        "domains", "Domains", "hosting.view_domain", "hosting/includes/_tab_domains.html", _domains
    ),
    NoteSubject(
        "hosting.service",
        lambda *, client, user: client.services.order_by("-id"),
        limit=TAB_LIMIT,
    ),
    NoteSubject(
        "hosting.domain", lambda *, client, user: client.domains.order_by("-id"), limit=TAB_LIMIT
    ),
    CurrencyLock("hosting.priced_records", _has_priced_records),
)

# The dashboard --------------------------------------------------------------------------------

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


def _dashboard(*, request: HttpRequest, user: Any) -> dict[str, Any]:
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


register(
    DashboardPanel(
        "hosting", "hosting.view_service", "hosting/includes/_dashboard.html", _dashboard
    ),
    NavSection("services", "Services", "hosting:service-list", "hosting.view_service"),
    NavSection("domains", "Domains", "hosting:domain-list", "hosting.view_domain"),
)


# An account priced far below the catalog waits for a second person (approvals); the password
# typed with it waits encrypted.
register(
    ApprovalAction(
        "hosting.create_service",
        "Add a hosting account",
        services.create_service,
        secret_kwargs=("password",),
        labels=(("data", "Account"), ("password", "Password")),
    ),
    ApprovalAction(
        "hosting.update_service",
        "Edit a hosting account",
        services.update_service,
        secret_kwargs=("password",),
        labels=(("data", "Changes"), ("version", "Opened at version"), ("password", "Password")),
    ),
)


# Undo of a plain edit from the audit trail (``audit/revert.py``), through the edit services:
# a price set back is an override like a typed one, and needs the same right.
PRICES = ("first_payment_amount", "recurring_amount")


def _revert_service(
    *, record: Service, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Service:
    if set(values) & set(PRICES):
        require_right(actor, "hosting.override_price")
    return services.update_service(
        service=record, data=values, actor=actor, reason=reason, version=version
    )


def _revert_domain(
    *, record: Domain, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Domain:
    if set(values) & set(PRICES):
        require_right(actor, "hosting.override_price")
    return services.update_domain(
        domain=record, data=values, actor=actor, reason=reason, version=version
    )


def _edit_record(*, record: Any) -> tuple[str, str]:
    return "Edit the record itself, with a reason (status changes have their own buttons).", (
        record.get_absolute_url()
    )


register(
    Reverter(
        "hosting.service",
        fields=services.SERVICE_FIELDS,
        derived=("price_overridden",),
        revert=_revert_service,
        instead=_edit_record,
    ),
    Reverter(
        "hosting.domain",
        fields=services.DOMAIN_FIELDS,
        revert=_revert_domain,
        instead=_edit_record,
    ),
)
