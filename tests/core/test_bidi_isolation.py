"""Right-to-left override characters in what staff type must not bleed into the text around
them (issue 15 item 21): "Client #26" must not read "62# tneilC", "by demo-admin" not
"nimda-omed yb". Wherever user-entered text is shown next to other text, it sits in its own
isolating element (``<bdi>``), and in plain text (titles, emails) between FSI and PDI."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from billing.pdf import render_invoice_html
from tests.factories.billing import make_invoice
from tests.factories.clients import ClientFactory
from tests.factories.support import open_ticket

pytestmark = pytest.mark.django_db

RLO = "\u202e"
NAME = f"{RLO}Evil"
FSI, PDI = "\u2068", "\u2069"
# Elements in which a value that is all of their text is isolated from its neighbours: blocks
# (a paragraph of their own) and the inline elements app.css isolates.
ALONE_OK = {"td", "th", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "option", "p", "div"}
ISOLATED_INLINE = {"a", "span", "strong", "em", "small", "label"}
VALUES = {f"{NAME} Smith", f"{RLO}Help"}


class _Occurrences(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.leaks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if RLO not in data:
            return
        inner = self.stack[-1] if self.stack else ""
        if inner == "bdi" or inner in ("script", "style", "textarea"):
            return
        if inner == "title":
            if f"{FSI}{NAME}" not in data:
                self.leaks.append(f"<title>: {data.strip()!r}")
            return
        if inner in ALONE_OK | ISOLATED_INLINE and data.strip() in VALUES:
            return
        self.leaks.append(f"<{inner}>: {data.strip()!r}")


def _leaks(html: str) -> list[str]:
    parser = _Occurrences()
    parser.feed(html)
    return parser.leaks


@pytest.fixture
def evil(db):
    return ClientFactory(first_name=NAME, last_name="Smith", company_name="")


def test_app_css_isolates_the_inline_elements_the_check_trusts():
    from django.conf import settings

    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
    rule = next(line for line in css.splitlines() if "unicode-bidi: isolate" in line)
    assert {t.strip() for t in rule.split("{")[0].split(",")} >= ISOLATED_INLINE


def test_the_isolation_check_itself_sees_a_bleed():
    assert _leaks(f"<p>Client #26 {NAME} Smith</p>")
    assert not _leaks(f"<p>Client #26 <bdi>{NAME} Smith</bdi></p>")


@pytest.mark.parametrize(
    "page",
    [
        "client list",
        "client profile",
        "client edit",
        "invoice",
        "ticket",
        "audit feed",
        "dashboard",
    ],
)
def test_a_right_to_left_override_in_a_name_is_isolated_on_every_page(page, evil, client_as):
    http = client_as("Admin")
    invoice = make_invoice(evil)
    ticket = open_ticket(customer=evil, subject=f"{RLO}Help")
    url = {
        "client list": reverse("clients:client-list") + "?q=Smith",
        "client profile": evil.get_absolute_url(),
        "client edit": reverse("clients:client-update", args=[evil.pk]),
        "invoice": invoice.get_absolute_url(),
        "ticket": ticket.get_absolute_url(),
        "audit feed": reverse("audit:feed"),
        "dashboard": reverse("core:dashboard"),
    }[page]
    response = http.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert RLO in body, "the page shows the name"
    assert _leaks(body) == []


def test_the_invoice_pdf_isolates_the_name(evil):
    html = render_invoice_html(make_invoice(evil))
    assert RLO in html
    assert _leaks(html) == []
