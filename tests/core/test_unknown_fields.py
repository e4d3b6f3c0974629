"""Every service that takes a dict of fields refuses a field it does not change the same way:
``ValidationError`` with code ``unknown_field`` (``core.rules.require_known_fields``)."""

import pytest
from django.core.exceptions import ValidationError

from affiliates import services as affiliates
from clients import services as clients
from hosting import services as hosting
from kb import services as kb
from support import services as support
from tests.factories.affiliates import enrol
from tests.factories.clients import ClientFactory, ContactFactory
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.support import CommunicationFactory, open_ticket
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db

TYPO = {"nmae": "x"}


def _calls(actor):
    customer = ClientFactory()
    return {
        "clients.create_client": lambda: clients.create_client(data=TYPO, actor=actor),
        "clients.update_client": lambda: clients.update_client(
            client=customer, data=TYPO, actor=actor
        ),
        "clients.add_contact": lambda: clients.add_contact(client=customer, data=TYPO, actor=actor),
        "clients.update_contact": lambda: clients.update_contact(
            contact=ContactFactory(client=customer), data=TYPO, actor=actor
        ),
        "hosting.create_service": lambda: hosting.create_service(
            client=customer, data=TYPO, actor=actor
        ),
        "hosting.update_service": lambda: hosting.update_service(
            service=ServiceFactory(client=customer), data=TYPO, actor=actor
        ),
        "hosting.create_domain": lambda: hosting.create_domain(
            client=customer, data=TYPO, actor=actor
        ),
        "hosting.update_domain": lambda: hosting.update_domain(
            domain=DomainFactory(client=customer), data=TYPO, actor=actor
        ),
        "hosting.add_addon": lambda: hosting.add_addon(
            service=ServiceFactory(client=customer), data=TYPO, actor=actor
        ),
        "kb.save_article": lambda: kb.save_article(data=TYPO, actor=actor),
        "support.update_ticket": lambda: support.update_ticket(
            ticket=open_ticket(customer=customer), data=TYPO, actor=actor
        ),
        "support.log_communication": lambda: support.log_communication(
            client=customer, data=TYPO, actor=actor
        ),
        "support.update_communication": lambda: support.update_communication(
            communication=CommunicationFactory(client=customer),
            data=TYPO,
            actor=actor,
            reason="x",
        ),
        "affiliates.update_affiliate": lambda: affiliates.update_affiliate(
            affiliate=enrol(), data=TYPO, actor=actor
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "clients.create_client",
        "clients.update_client",
        "clients.add_contact",
        "clients.update_contact",
        "hosting.create_service",
        "hosting.update_service",
        "hosting.create_domain",
        "hosting.update_domain",
        "hosting.add_addon",
        "kb.save_article",
        "support.update_ticket",
        "support.log_communication",
        "support.update_communication",
        "affiliates.update_affiliate",
    ],
)
def test_an_unknown_field_is_refused_with_one_code(name):
    call = _calls(StaffFactory(role="Admin"))[name]
    with pytest.raises(ValidationError) as exc:
        call()
    assert exc.value.code == "unknown_field"
    assert "nmae" in exc.value.messages[0]
