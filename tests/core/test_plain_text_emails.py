"""Plain-text emails are not HTML: what staff typed arrives as typed, never as entities."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from billing import services as billing
from clients import services as clients
from core.roles import SUPPORT
from orders import services as orders
from orders.services import ProductLineData
from support import services as support
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory
from tests.factories.orders import make_catalog
from tests.factories.support import open_ticket

pytestmark = pytest.mark.django_db

NAME = "O'Brien & Co <x>"
ENTITY = re.compile(r"&(#x?[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
TESTED = {
    "clients/emails/welcome.txt",
    "clients/emails/set_password.txt",
    "billing/emails/invoice.txt",
    "billing/emails/receipt.txt",
    "orders/emails/order_confirmation.txt",
    "support/emails/ticket_opened.txt",
    "support/emails/ticket_reply.txt",
}


@pytest.fixture
def obrien(db):
    return ClientFactory(first_name=NAME, last_name="O'Neil", email="obrien@example.com")


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Runs what a test does with the after-commit callbacks executed; the emails' bodies."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            action()
        return [message.body for message in mail.outbox]

    return run


def _assert_plain(bodies: list[str], *expected: str) -> None:
    assert bodies, "no email was sent"
    body = bodies[-1]
    assert not ENTITY.search(body), body
    for text in expected:
        assert text in body, body


def test_every_plain_text_email_template_is_tested_here():
    found = {
        str(p.relative_to(settings.BASE_DIR / "templates"))
        for p in (settings.BASE_DIR / "templates").glob("*/emails/*.txt")
    }
    assert found == TESTED


def test_the_welcome_email_is_plain_text(obrien, sent, staff_admin):
    _assert_plain(sent(lambda: clients.send_welcome_email(client=obrien, actor=staff_admin)), NAME)


def test_the_set_password_email_is_plain_text(obrien, sent, staff_admin):
    _assert_plain(sent(lambda: clients.send_password_link(client=obrien, actor=staff_admin)), NAME)


def test_the_invoice_email_is_plain_text(obrien, sent, staff_admin):
    invoice = make_invoice(obrien, public_notes="Terms: 30 days & no <fees>", actor=staff_admin)
    _assert_plain(
        sent(lambda: billing.email_invoice(invoice=invoice, actor=staff_admin)),
        f"{NAME} O'Neil",
        "Terms: 30 days & no <fees>",
    )


def test_the_receipt_email_is_plain_text(obrien, sent, staff_admin):
    invoice = make_invoice(obrien, actor=staff_admin)
    _assert_plain(
        sent(lambda: pay(invoice, transaction_id="A&B<1>", send_receipt=True, actor=staff_admin)),
        f"{NAME} O'Neil",
        "A&B<1>",
    )


def test_the_order_confirmation_is_plain_text(obrien, sent, staff_admin):
    catalog = make_catalog()
    _assert_plain(
        sent(
            lambda: orders.place_order(
                client=obrien,
                products=[ProductLineData(product=catalog.basic, billing_cycle="monthly")],
                actor=staff_admin,
            )
        ),
        NAME,
    )


def test_the_ticket_emails_are_plain_text(obrien, sent, make_staff):
    agent = make_staff(SUPPORT)
    ticket_holder = {}

    def opening():
        ticket_holder["ticket"] = open_ticket(
            customer=obrien, actor=agent, subject="Site & mail <down>", message="Since 9 o'clock"
        )

    _assert_plain(sent(opening), f"{NAME} O'Neil", "Site & mail <down>", "Since 9 o'clock")
    _assert_plain(
        sent(
            lambda: support.add_reply(
                ticket=ticket_holder["ticket"],
                kind="staff",
                message="Fixed: the <VirtualHost> & DNS weren't right",
                actor=agent,
            )
        ),
        f"{NAME} O'Neil",
        "Fixed: the <VirtualHost> & DNS weren't right",
    )
