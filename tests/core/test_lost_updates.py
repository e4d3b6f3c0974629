"""Two people editing the same record (issue 15 item 14): the second save never silently
reverts the first. The form remembers the record's version when it is opened; a change made
since comes back as a message naming who changed what, with the input kept; saving again,
having seen it, goes through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.urls import reverse

from affiliates import services as affiliate_services
from affiliates.models import Affiliate
from clients import services as client_services
from clients.models import Client, Contact, Note
from hosting import services as hosting_services
from hosting.models import Domain, Service
from kb import services as kb_services
from kb.models import Article
from support import services as support_services
from support.models import Communication, Ticket
from tests.factories.affiliates import enrol
from tests.factories.clients import ClientFactory, ContactFactory, NoteFactory
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.kb import write_article
from tests.factories.second_factor import force_login_verified
from tests.factories.support import CommunicationFactory, open_ticket

pytestmark = pytest.mark.django_db


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """What the browser would send back for ``form`` as rendered, untouched."""
    data: dict[str, Any] = {}
    for bound in form:
        widget, value = bound.field.widget, bound.value()
        if isinstance(widget, forms.CheckboxInput):
            if widget.check_test(value):
                data[bound.html_name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
            continue
        formatted = widget.format_value(value)
        data[bound.html_name] = "" if formatted is None else formatted
    return data


@dataclass
class EditForm:
    """One edit form: where it is, the record, what the first person types into it, and the
    other person's change made meanwhile (through the service, as their own save would)."""

    url: Callable[[Any], str]
    make: Callable[[], Any]
    field: str
    typed: str
    meanwhile: Callable[[Any, Any], Any]
    shown: str  # how the other change reads in the message
    read: Callable[[Any], Any]  # the saved value of ``field``


EDIT_FORMS = {
    "client": EditForm(
        url=lambda c: reverse("clients:client-update", args=[c.pk]),
        make=lambda: ClientFactory(email="ada@example.com", phone="+44 20 7946 0001"),
        field="phone",
        typed="+44 20 7946 0002",
        meanwhile=lambda c, who: client_services.update_client(
            client=c, data={"email": "ada@newmail.example"}, actor=who
        ),
        shown="ada@example.com → ada@newmail.example",
        read=lambda c: Client.objects.get(pk=c.pk).phone,
    ),
    "contact": EditForm(
        url=lambda c: reverse("clients:contact-update", args=[c.pk]),
        make=lambda: ContactFactory(first_name="Grace"),
        field="first_name",
        typed="Gracie",
        meanwhile=lambda c, who: client_services.update_contact(
            contact=c, data={"first_name": "G."}, actor=who
        ),
        shown="Grace → G.",
        read=lambda c: Contact.objects.get(pk=c.pk).first_name,
    ),
    "note": EditForm(
        url=lambda n: reverse("clients:note-update", args=[n.pk]),
        make=lambda: NoteFactory(body="Called about DNS"),
        field="body",
        typed="Called about DNS and mail",
        meanwhile=lambda n, who: client_services.edit_note(
            note=n, body="Called about DNS (fixed)", actor=who
        ),
        shown="Called about DNS → Called about DNS (fixed)",
        read=lambda n: Note.objects.get(pk=n.pk).body,
    ),
    "hosting account": EditForm(
        url=lambda s: reverse("hosting:service-update", args=[s.pk]),
        make=lambda: ServiceFactory(username="ada1", admin_notes=""),
        field="username",
        typed="ada2",
        meanwhile=lambda s, who: hosting_services.update_service(
            service=s, data={"admin_notes": "Moved to node 4"}, actor=who
        ),
        shown="Moved to node 4",
        read=lambda s: Service.objects.get(pk=s.pk).username,
    ),
    "domain": EditForm(
        url=lambda d: reverse("hosting:domain-update", args=[d.pk]),
        make=lambda: DomainFactory(registrar="enom"),
        field="registrar",
        typed="opensrs",
        meanwhile=lambda d, who: hosting_services.update_domain(
            domain=d, data={"registrar": "namecheap"}, actor=who
        ),
        shown="enom → namecheap",
        read=lambda d: Domain.objects.get(pk=d.pk).registrar,
    ),
    "ticket": EditForm(
        url=lambda t: reverse("support:ticket-update", args=[t.number]),
        make=lambda: open_ticket(subject="Mail bounces"),
        field="subject",
        typed="Mail bounces since Monday",
        meanwhile=lambda t, who: support_services.update_ticket(
            ticket=t, data={"subject": "Mail bounces (SPF)"}, actor=who
        ),
        shown="Mail bounces → Mail bounces (SPF)",
        read=lambda t: Ticket.objects.get(pk=t.pk).subject,
    ),
    "communication": EditForm(
        url=lambda c: reverse("support:communication-update", args=[c.pk]),
        make=lambda: CommunicationFactory(summary="Asked about the renewal price."),
        field="summary",
        typed="Asked about the renewal price and a discount.",
        meanwhile=lambda c, who: support_services.update_communication(
            communication=c,
            data={"summary": "Asked about renewal."},
            actor=who,
            reason="Typo",
        ),
        shown="Asked about the renewal price. → Asked about renewal.",
        read=lambda c: Communication.objects.get(pk=c.pk).summary,
    ),
    "affiliate": EditForm(
        url=lambda a: reverse("affiliates:affiliate-update", args=[a.pk]),
        make=lambda: enrol(notes=""),
        field="notes",
        typed="Runs a hosting blog",
        meanwhile=lambda a, who: affiliate_services.update_affiliate(
            affiliate=a, data={"payout_threshold": Decimal("75.00")}, actor=who
        ),
        shown="75.00",
        read=lambda a: Affiliate.objects.get(pk=a.pk).notes,
    ),
    "article": EditForm(
        url=lambda a: reverse("kb:article-update", args=[a.pk]),
        make=lambda: write_article(title="Point your domain"),
        field="title",
        typed="Point your domain at us",
        meanwhile=lambda a, who: kb_services.save_article(
            article=a, data={"title": "Pointing a domain"}, actor=who
        ),
        shown="Point your domain → Pointing a domain",
        read=lambda a: Article.objects.get(pk=a.pk).title,
    ),
}


@pytest.mark.parametrize("case", EDIT_FORMS.values(), ids=EDIT_FORMS.keys())
def test_a_change_made_while_the_form_was_open_is_shown_not_overwritten(case, make_staff):
    first, second = make_staff("Admin", username="first"), make_staff("Admin", username="other")
    record = case.make()
    http = HttpClient()
    force_login_verified(http, first)
    opened = http.get(case.url(record))
    assert opened.status_code == 200
    data = form_data(opened.context["form"])
    assert data.get("version"), "the form must carry the version it was opened at"
    assert 'name="version"' in opened.content.decode(), "and the page must send it back"
    data[case.field] = case.typed
    for box in ("audit_reason", "reason"):
        if box in data:
            data[box] = "Correcting what the client told us"

    case.meanwhile(record, second)
    other_value = case.read(record)

    refused = http.post(case.url(record), data)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "While you had this form open, other changed this" in body
    assert case.shown.replace("→", "&rarr;") in body or case.shown in body
    assert case.read(record) == other_value  # the other person's change stands
    kept = refused.context["form"]
    assert kept[case.field].value() == case.typed  # and the typing is not lost

    again = http.post(case.url(record), form_data(kept))  # saving again, knowingly
    assert again.status_code == 302, again.content.decode()[:2000]
    assert case.read(record) == case.typed


def test_the_service_refuses_a_stale_version_under_the_row_lock(make_staff):
    from audit.edits import version_of

    who = make_staff("Admin")
    customer = ClientFactory(phone="+44 20 7946 0001")
    opened = version_of(customer)
    client_services.update_client(client=customer, data={"phone": "+44 20 7946 0002"}, actor=who)
    with pytest.raises(ValidationError) as exc:
        client_services.update_client(
            client=customer, data={"phone": "+44 20 7946 0003"}, actor=who, version=opened
        )
    assert exc.value.code == "changed_since_opened"
    assert exc.value.params["version"] == version_of(customer) > opened
    # No form (a script, a composed service): no check.
    client_services.update_client(client=customer, data={"phone": "+44 20 7946 0004"}, actor=who)
    # An unchanged record saves.
    client_services.update_client(
        client=customer, data={"phone": "+44 20 7946 0005"}, actor=who, version=version_of(customer)
    )
    assert Client.objects.get(pk=customer.pk).phone == "+44 20 7946 0005"


@pytest.mark.parametrize("tampered", ["abc", "-1", "999999999999999999999", "²", "1e9"])
def test_a_tampered_version_shows_the_changes_instead_of_failing(tampered, make_staff):
    who = make_staff("Admin", username="first")
    customer = ClientFactory(phone="+44 20 7946 0001")
    http = HttpClient()
    force_login_verified(http, who)
    url = reverse("clients:client-update", args=[customer.pk])
    data = form_data(http.get(url).context["form"])
    data["version"], data["phone"] = tampered, "+44 20 7946 0002"
    response = http.post(url, data)
    assert response.status_code == 400
    assert "While you had this form open" in response.content.decode()
    assert Client.objects.get(pk=customer.pk).phone == "+44 20 7946 0001"
