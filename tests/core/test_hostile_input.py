"""Hostile query strings: every list and search page, every GET parameter it reads.

One rule for all of them (``core.inputs``): a bad value is ignored or shown as a form error,
never a 500.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.urls import URLResolver, get_resolver, reverse

from affiliates.forms import AffiliateFilter
from audit.forms import FeedFilterForm
from billing.forms import InvoiceFilter, TransactionFilter
from clients.forms import ClientFilter
from core import inputs
from core.roles import ADMIN
from hosting.forms import DomainFilter, ServiceFilter
from kb.forms import ArticleFilter, CompareForm
from orders.forms import ChooseClientForm, OrderFilter
from review.forms import FlaggedEntryFilter
from support.forms import ChooseRequesterForm, CommunicationFilter, FollowUpFilter, TicketFilter
from tests.factories.billing import make_invoice
from tests.factories.clients import ClientFactory, NoteFactory
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.kb import write_article
from tests.factories.support import CommunicationFactory, open_ticket

pytestmark = pytest.mark.django_db


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE = {
    "NUL": "a\x00b",
    "10,000 characters": "x" * 10_000,
    "-1": "-1",
    "abc": "abc",
    "superscript two": "²",
    "past bigint": "999999999999999999999",
    "end of the calendar": "9999-12-31",
    "huge exponent": "1e999999",
}
# For ``after``: not base64, base64 of nonsense, and a well-formed cursor pointing nowhere.
CURSORS = {
    "not base64": "!!!",
    "base64 nonsense": _b64("nonsense"),
    "NUL in cursor": _b64("2024-01-01T00:00:00+00:00|\x00|1"),
    "far cursor": _b64("9999-12-31T23:59:59+00:00|zzz|999999999999999999999"),
    "naive cursor": _b64("2024-01-01T00:00:00|note|²"),
}


def test_record_id_takes_ascii_ids_within_bigint_and_nothing_else():
    assert [inputs.record_id(v) for v in ("42", " 7 ", str(2**63 - 1))] == [42, 7, 2**63 - 1]
    for value in ("", None, "0", "-1", "abc", "²", "٣", "1e3", "4.0", str(2**63), "9" * 10_000):
        assert inputs.record_id(value) is None, value


def test_text_drops_nul_bytes_and_stops_at_the_search_length():
    assert inputs.text(" a\x00b ") == "ab"
    assert len(inputs.text("x" * 10_000)) == inputs.MAX_SEARCH
    assert inputs.text(None) == ""


def test_dates_outside_the_calendar_the_app_can_add_to_are_form_errors():
    field = inputs.DateField()
    assert field.clean("2026-02-28") == dt.date(2026, 2, 28)
    for value in ("9999-12-31", "0001-01-01"):
        with pytest.raises(ValidationError):
            field.clean(value)


def _names(form_or_filterset: type) -> list[str]:
    """The GET parameters a filter form or FilterSet reads."""
    fields = getattr(form_or_filterset, "base_filters", None)
    return list(fields if fields is not None else form_or_filterset.base_fields)


# Pages without URL arguments, and the GET parameters each reads ([] = none).
PAGES: dict[str, list[str]] = {
    "core:dashboard": [],
    "clients:client-list": [*_names(ClientFilter), "page"],
    "clients:client-create": [],
    "clients:client-duplicates": ["email", "phone", "company_name", "tax_id", "exclude"],
    "clients:client-autocomplete": ["q", "target"],
    "hosting:service-list": [*_names(ServiceFilter), "page"],
    "hosting:domain-list": [*_names(DomainFilter), "page"],
    "billing:invoice-list": [*_names(InvoiceFilter), "page"],
    "billing:invoice-create": ["client"],
    "billing:transaction-list": [*_names(TransactionFilter), "page"],
    "billing:transaction-create": [],
    "orders:order-list": [*_names(OrderFilter), "page"],
    "orders:order-create": [*_names(ChooseClientForm)],
    "support:ticket-list": [*_names(TicketFilter), "page"],
    "support:ticket-create": [*_names(ChooseRequesterForm), "guest"],
    "support:communication-list": [*_names(CommunicationFilter), "page"],
    "support:communication-create": ["client", "ticket"],
    "support:follow-up-list": [*_names(FollowUpFilter), "page"],
    "affiliates:affiliate-list": [*_names(AffiliateFilter), "page"],
    "kb:article-list": [*_names(ArticleFilter), "page"],
    "kb:article-create": [],
    "kb:public-index": ["q"],
    "audit:feed": [*_names(FeedFilterForm), "after"],
    "audit:export": [*_names(FeedFilterForm), "after"],
    "audit:staff-sessions": ["kind", "page"],
    "audit:reasons": ["since", "until", "action", "format"],
    "audit:roles": [],
    "review:queue": [*_names(FlaggedEntryFilter), "page"],
    "review:scan": [],
    "review:rules": [],
    "review:digest-settings": [],
    "accounts:enrol": ["next"],
    "accounts:enrol-qr": [],
    "accounts:verify": ["next"],
    "accounts:staff": [],
    "accounts:unlock": [],
    "approvals:request-list": ["show", "page"],
}


def _argument_free_pages() -> set[str]:
    """Every ``namespace:name`` of the app's URLconf that takes no URL argument."""
    found = set()

    def walk(patterns: list, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace != "admin":
                    walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace and pattern.name and not pattern.pattern.converters:
                found.add(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, "")
    return found


def test_the_walk_covers_every_page_without_url_arguments():
    assert _argument_free_pages() == set(PAGES)


@pytest.fixture
def records(db):
    """A little of everything, so the pages have rows to filter and draw."""
    customer = ClientFactory(first_name="Ada", last_name="O'Brien")
    NoteFactory(client=customer)
    service = ServiceFactory(client=customer)
    DomainFactory(client=customer)
    invoice = make_invoice(customer)
    ticket = open_ticket(customer=customer)
    CommunicationFactory(client=customer)
    article = write_article()
    return {
        "customer": customer,
        "service": service,
        "invoice": invoice,
        "ticket": ticket,
        "article": article,
    }


def _walk(http: HttpClient, url: str, names: list[str], fixed: dict[str, str]) -> list[str]:
    """Each parameter alone with each hostile value, then all of them at once; the 5xx seen."""
    http.raise_request_exception = False
    failures = []

    def get(query: dict[str, str], label: str) -> None:
        response = http.get(url, {**fixed, **query})
        error = getattr(response, "exc_info", None) and response.exc_info[1]
        if response.streaming:  # a CSV export fails while it streams, after the status line
            try:
                b"".join(response.streaming_content)
            except Exception as exc:
                error = exc
        if response.status_code >= 500 or error:
            failures.append(f"{url} {label}: {error or response.status_code!r}"[:300])

    get({}, "as is")
    for name in names:
        values = {**HOSTILE, **CURSORS} if name == "after" else HOSTILE
        for label, value in values.items():
            get({name: value}, f"{name}={label}")
    for label, value in HOSTILE.items():
        if names:
            get(dict.fromkeys(names, value), f"all={label}")
    return failures


@pytest.mark.parametrize(
    "name",
    sorted(PAGES),
)
def test_no_hostile_query_string_is_a_server_error(name, records, client_as):
    failures = _walk(client_as(ADMIN), reverse(name), PAGES[name], {})
    assert not failures, "\n".join(failures)


def _detail_pages(records: dict) -> list[tuple[str, dict[str, str], list[str]]]:
    customer = records["customer"]
    detail = reverse("clients:client-detail", args=[customer.pk])
    return [
        (detail, {}, ["tab"]),
        (detail, {"tab": "timeline"}, ["kind", "after"]),
        (detail, {"tab": "history"}, ["after"]),
        (reverse("hosting:service-detail", args=[records["service"].pk]), {}, ["tab", "after"]),
        (reverse("billing:invoice-detail", args=[records["invoice"].pk]), {}, ["tab", "after"]),
        (reverse("support:ticket-status", args=[records["ticket"].number]), {}, ["status"]),
        (reverse("support:communication-create"), {"client": str(customer.pk)}, ["ticket"]),
        (reverse("kb:article-compare", args=[records["article"].pk]), {}, _names(CompareForm)),
    ]


def test_no_hostile_query_string_on_a_record_page_is_a_server_error(records, client_as):
    http = client_as(ADMIN)
    failures = []
    for url, fixed, names in _detail_pages(records):
        if url.endswith("/compare/"):
            fixed = {"old": "1", "new": "1"}
        failures += _walk(http, url, names, fixed)
    assert not failures, "\n".join(failures)


def test_no_hostile_public_search_is_a_server_error(records):
    failures = _walk(HttpClient(), reverse("kb:public-index"), ["q"], {})
    assert not failures, "\n".join(failures)
