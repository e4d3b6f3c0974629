"""The shared rules (core.rules) and the keyset cursor (core.cursor)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Client
from core import cursor
from core.rules import (
    Refusal,
    belongs_to_client,
    constraint_name,
    integrity_errors,
    require_same_client,
    require_transition,
    same_client_errors,
)
from tests.factories.clients import ClientFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_require_transition_follows_the_models_map():
    customer = ClientFactory()  # active
    require_transition(customer, Client.Status.INACTIVE)
    customer.status = Client.Status.CLOSED
    with pytest.raises(ValidationError) as exc:
        require_transition(customer, "bogus")
    assert exc.value.code == "invalid_transition"
    assert exc.value.messages == ["A closed client cannot become bogus."]


def test_require_transition_can_put_the_error_on_a_field():
    customer = ClientFactory(status=Client.Status.CLOSED)
    with pytest.raises(ValidationError) as exc:
        require_transition(customer, "bogus", field="status", noun="record")
    assert exc.value.error_dict["status"][0].code == "invalid_transition"
    assert exc.value.error_dict["status"][0].messages == ["A closed record cannot become bogus."]


def test_same_client_checks_name_the_fields_of_another_clients_records():
    customer, other = ClientFactory(), ClientFactory()
    mine, theirs = ContactFactory(client=customer), ContactFactory(client=other)
    assert belongs_to_client(None, customer) and belongs_to_client(mine, customer)
    assert not belongs_to_client(mine, None)
    require_same_client(customer, mine)
    with pytest.raises(ValidationError) as exc:
        require_same_client(customer, theirs, field="contact")
    assert exc.value.error_dict["contact"][0].code == "wrong_client"
    found = same_client_errors(customer, {"contact": theirs, "service": None, "domain": mine})
    assert list(found) == ["contact"]
    assert found["contact"].messages == ["This contact belongs to another client."]


def test_integrity_errors_translate_by_the_constraints_name():
    ClientFactory(email="same@example.com")
    known = {"clients_client_email_ci_unique": Refusal("email", "Taken.", code="duplicate_email")}
    with transaction.atomic():
        with pytest.raises(ValidationError) as exc, integrity_errors(known):
            Client.objects.create(first_name="A", last_name="B", email="SAME@example.com")
        # the savepoint rolled back: the outer transaction is still usable
        assert Client.objects.filter(email__iexact="same@example.com").count() == 1
    assert exc.value.error_dict["email"][0].code == "duplicate_email"


def test_an_integrity_error_of_another_constraint_is_not_translated():
    ClientFactory(email="same@example.com")
    known = {"some_other_constraint": Refusal(None, "Nope.", code="duplicate_email")}
    with pytest.raises(IntegrityError) as exc, integrity_errors(known):
        Client.objects.create(first_name="A", last_name="B", email="same@example.com")
    assert constraint_name(exc.value) == "clients_client_email_ci_unique"


def test_the_cursor_round_trips_and_refuses_what_it_did_not_make():
    at = timezone.now()
    assert cursor.decode(cursor.encode(at, "ticket", 42)) == (at, "ticket", 42)
    assert cursor.decode("not-a-cursor") is None
    naive = cursor.encode(dt.datetime(2026, 1, 1), "ticket", 1)  # no time zone
    assert cursor.decode(naive) is None


def test_the_cursor_bounds_each_branch_by_its_place_in_the_order():
    after = (timezone.now(), "note", 7)
    assert cursor.bound("invoice", after) == "<="  # sorts before "note": its rows at T come later
    assert cursor.bound("note", after) == "pair"
    assert cursor.bound("ticket", after) == "<"


def test_date_inputs_show_a_date_the_way_the_browser_reads_it():
    # type="date" takes ISO values only; en-gb's first input format (d/m/Y) showed blank.
    from hosting.admin import DueDateForm

    form = DueDateForm(initial={"next_due_date": dt.date(2026, 1, 2)})
    assert 'value="2026-01-02"' in str(form["next_due_date"])
