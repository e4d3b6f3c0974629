"""Provenance markers (audit/provenance.py): who last changed a record and each of its fields,
when and why, on the detail pages, for every role that may view the record."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import provenance
from clients.services import update_client
from core.roles import ADMIN, READ_ONLY, SUPPORT
from hosting.services import set_epp_code, set_service_password, update_service
from tests.factories.clients import ClientFactory
from tests.factories.hosting import DomainFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _marker(html, name):
    """The marker beside field ``name``, or None."""
    found = re.search(
        rf'<details class="prov-marker" data-field="{name}">(.*?)</details>', html, re.S
    )
    return found.group(1) if found else None


def test_marker_names_who_changed_the_price_when_and_why_for_support(client_as, make_staff):
    service = ServiceFactory(recurring_amount=Decimal("10.00"))
    bea = make_staff(ADMIN, username="bea")
    update_service(
        service=service,
        data={"recurring_amount": Decimal("7.50")},
        actor=bea,
        reason="loyalty discount",
    )
    html = client_as(SUPPORT).get(service.get_absolute_url()).content.decode()

    marker = _marker(html, "recurring_amount")
    assert marker is not None
    assert "bea" in marker
    assert "loyalty discount" in marker
    assert "10.00" in marker  # what it was
    assert "?tab=history" in marker  # the full history one click away
    assert _marker(html, "username") is None  # never changed: no marker
    assert "Last changed by <strong><bdi>bea</bdi></strong>" in html


def test_marker_shows_the_last_change_of_that_field_not_of_the_record(make_staff):
    service = ServiceFactory(recurring_amount=Decimal("10.00"), username="old")
    update_service(
        service=service,
        data={"recurring_amount": Decimal("8.00")},
        actor=make_staff(ADMIN, username="bea"),
        reason="price match",
    )
    update_service(
        service=service,
        data={"username": "new"},
        actor=make_staff(ADMIN, username="cai"),
        reason="renamed",
    )
    found = provenance.of(service)
    assert (found["recurring_amount"].actor, found["recurring_amount"].reason) == (
        "bea",
        "price match",
    )
    assert (found["username"].actor, found["username"].old) == ("cai", "old")
    assert (found.record.actor, found.record.reason) == ("cai", "renamed")
    assert found["product"] is None


def test_secret_fields_show_changed_never_a_value(client_as, make_staff):
    service = ServiceFactory()
    set_service_password(service=service, password="first-Secret-1", actor=None)
    set_service_password(
        service=service, password="second-Secret-2", actor=make_staff(ADMIN), reason="rotated"
    )
    domain = DomainFactory(client=service.client)
    set_epp_code(domain=domain, epp_code="EPP-ONE", actor=None)
    set_epp_code(domain=domain, epp_code="EPP-TWO", actor=make_staff(ADMIN), reason="transfer")
    http = client_as(READ_ONLY)

    for url, name in (
        (service.get_absolute_url(), "password"),
        (domain.get_absolute_url(), "epp_code"),
    ):
        html = http.get(url).content.decode()
        marker = _marker(html, name)
        assert marker is not None, name
        assert "The value is secret: changed." in marker
        assert "Before:" not in marker
        history = http.get(url + "?tab=history").content.decode()
        for page in (html, history):
            assert "sha256:" not in page
            assert "Secret" not in page.replace("secret", "")
            assert "EPP-ONE" not in page and "EPP-TWO" not in page


def test_provenance_is_two_queries_at_most_however_many_changes(make_staff):
    customer = ClientFactory(city="Leeds")
    actor = make_staff(ADMIN)
    update_client(client=customer, data={"city": "York"}, actor=actor, reason="moved")
    with CaptureQueriesContext(connection) as few:
        provenance.of(customer)
    for n in range(8):
        update_client(
            client=customer,
            data={
                "city": f"City {n}",
                "phone": f"+4420794600{n:02d}",
                "address1": f"{n} High Street",
            },
            actor=actor,
            reason=f"change {n}",
        )
    with CaptureQueriesContext(connection) as many:
        found = provenance.of(customer)
    assert len(few.captured_queries) <= 2
    assert len(many.captured_queries) <= 2
    assert found["city"].reason == "change 7"


def test_detail_pages_run_the_same_queries_with_more_changed_fields(client_as, make_staff):
    service = ServiceFactory(recurring_amount=Decimal("10.00"))
    http = client_as(SUPPORT)
    actor = make_staff(ADMIN)
    update_service(
        service=service, data={"recurring_amount": Decimal("9.00")}, actor=actor, reason="a"
    )
    http.get(service.get_absolute_url())
    with CaptureQueriesContext(connection) as few:
        http.get(service.get_absolute_url())
    update_service(
        service=service,
        data={"username": "u2", "admin_notes": "n", "payment_method": "paypal"},
        actor=actor,
        reason="b",
    )
    with CaptureQueriesContext(connection) as many:
        http.get(service.get_absolute_url())
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("role", [ADMIN, SUPPORT, READ_ONLY])
def test_every_role_that_may_view_a_client_sees_its_markers(role, client_as, make_staff):
    customer = ClientFactory(city="Leeds")
    update_client(
        client=customer,
        data={"city": "York"},
        actor=make_staff(ADMIN, username="bea"),
        reason="moved",
    )
    html = client_as(role).get(customer.get_absolute_url()).content.decode()
    marker = _marker(html, "city")
    assert marker is not None and "moved" in marker and "Leeds" in marker
