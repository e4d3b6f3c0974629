"""The floor: a plain Django view rendering the same rows as one of our list pages.

Each floor view is the simplest thing Django offers for the job, served through the same
project (same middleware, same session): one page (25 rows) in the list's default order, with
the columns the page shows, ``select_related`` for the foreign keys it names, one bare template
(``{% for %}`` over a table, no base page, no filters, no count). Issue 17's target: every list
page costs at most 2x its floor. The views are mounted under ``/_floor/`` by the benchmark's own
URL configuration (``benchmarks/urls.py``), never by the project's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines

from benchmarks.scenarios.bench import Bench, row

PAGE = 25  # the lists show 25 rows a page (core.write.FilteredListView)

_TEMPLATE = (
    "<!doctype html><title>{{ title }}</title><table>"
    "{% for r in rows %}<tr>{% for value in r %}<td>{{ value }}</td>{% endfor %}</tr>{% endfor %}"
    "</table>"
)


@cache
def _template() -> Any:
    return engines["django"].from_string(_TEMPLATE)


def _page(request: HttpRequest, title: str, rows: Any) -> HttpResponse:
    return HttpResponse(_template().render({"title": title, "rows": rows}, request))


def clients(request: HttpRequest) -> HttpResponse:
    from clients.models import Client

    rows = [
        (c.pk, c.full_name, c.company_name, c.email, c.phone, c.country.name,
         c.get_status_display(), c.created_at.date())
        for c in Client.objects.select_related("group").order_by("-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Clients", rows)


def invoices(request: HttpRequest) -> HttpResponse:
    from billing.models import Invoice

    rows = [
        (i.number, i.client.full_name, i.issue_date, i.due_date, i.total, i.currency,
         i.get_status_display())
        for i in Invoice.objects.select_related("client").order_by("-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Invoices", rows)


def transactions(request: HttpRequest) -> HttpResponse:
    from billing.models import Transaction

    rows = [
        (t.date, t.client.full_name, t.gateway, t.transaction_id, t.amount_in, t.amount_out,
         t.currency)
        for t in Transaction.objects.select_related("client").order_by("-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Transactions", rows)


def orders(request: HttpRequest) -> HttpResponse:
    from orders.models import Order

    rows = [
        (o.pk, o.client.full_name, o.created_at, o.get_status_display(), o.first_payment_total,
         o.currency)
        for o in Order.objects.select_related("client").order_by("-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Orders", rows)


def tickets(request: HttpRequest) -> HttpResponse:
    from support.models import Ticket

    rows = [
        (t.number, t.subject, t.client.full_name if t.client else t.name, t.department.name,
         t.get_status_display(), t.get_priority_display(), t.last_activity_at)
        for t in Ticket.objects.select_related("client", "department")
        .exclude(status="closed").order_by("-last_activity_at", "-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Tickets", rows)


def services(request: HttpRequest) -> HttpResponse:
    from hosting.models import Service

    rows = [
        (s.pk, s.domain, s.client.full_name, s.product.name, s.get_status_display(),
         s.next_due_date, s.recurring_amount)
        for s in Service.objects.select_related("client", "product").order_by("-id")[:PAGE]
    ]  # fmt: skip
    return _page(request, "Services", rows)


FLOORS = {
    "clients": clients,
    "invoices": invoices,
    "transactions": transactions,
    "orders": orders,
    "tickets": tickets,
    "services": services,
}


def run(b: Bench) -> list[dict]:
    """Each floor as its own row; ``b.shared["floor:<name>"]`` for the report's ratios."""
    labels = {
        "clients": "Floor: plain view, clients",
        "invoices": "Floor: plain view, invoices",
        "transactions": "Floor: plain view, transactions",
        "orders": "Floor: plain view, orders",
        "tickets": "Floor: plain view, tickets",
        "services": "Floor: plain view, services",
    }
    rows = []
    for name, label in labels.items():
        timing = b.time(label, f"/_floor/{name}/")
        b.shared[f"floor:{name}"] = timing
        rows.append(row(label, timing, None, "25 rows, bare template, no count"))
    dashboard = b.time("dashboard", "/")
    rows.append(row("Dashboard", dashboard, None, "target <= 50 ms"))
    return rows
