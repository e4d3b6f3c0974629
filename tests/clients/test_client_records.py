"""Contacts, custom fields, notes, login and the email log."""

import datetime as dt

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clients import services
from clients.models import Client, ClientEvent, Contact, CustomFieldValue, EmailLog, Note
from core import extension_points
from tests.factories.clients import (
    ClientFactory,
    ContactFactory,
    CustomFieldFactory,
    NoteFactory,
)

pytestmark = pytest.mark.django_db

DATA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "GB"}
STRONG = "tangerine-Lantern-42"


def test_backdated_client_needs_a_reason_and_is_flagged(staff_admin):
    past = timezone.localdate() - dt.timedelta(days=400)
    with pytest.raises(ValidationError) as exc:
        services.create_client(data={**DATA, "signed_up_on": past}, actor=staff_admin)
    assert exc.value.code == "reason_required"
    customer = services.create_client(
        data={**DATA, "signed_up_on": past}, actor=staff_admin, reason="migrated from WHMCS"
    )
    assert customer.backdated is True
    event = ClientEvent.objects.get(pgh_obj_id=customer.pk)
    assert event.backdated is True
    assert event.pgh_context.metadata["reason"] == "migrated from WHMCS"


def test_a_sign_up_date_of_today_is_not_backdating(staff_admin):
    customer = services.create_client(
        data={**DATA, "signed_up_on": timezone.localdate()}, actor=staff_admin
    )
    assert customer.backdated is False


def test_currency_is_locked_by_a_registered_check(staff_admin):
    customer = ClientFactory(currency="GBP")

    def has_invoice(*, client):
        return "it has invoices" if client.pk == customer.pk else ""

    lock = extension_points.CurrencyLock("test.has_invoice", has_invoice)
    extension_points.register(lock)
    try:
        with pytest.raises(ValidationError) as exc:
            services.update_client(client=customer, data={"currency": "EUR"}, actor=staff_admin)
        assert exc.value.code == "currency_locked"
        other = ClientFactory(currency="GBP")
        services.update_client(client=other, data={"currency": "EUR"}, actor=staff_admin)
    finally:
        extension_points.unregister(lock)


def test_weak_client_password_is_refused(staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.create_client(data=DATA, actor=staff_admin, password="password")
    assert {e.code for e in exc.value.error_list} >= {"password_too_common"}
    assert not Client.objects.exists()


def test_client_password_is_hashed_and_audited_as_changed(staff_admin):
    customer = services.create_client(data=DATA, actor=staff_admin, password=STRONG)
    assert check_password(STRONG, customer.password)
    stored = ClientEvent.objects.get(pgh_obj_id=customer.pk).password
    assert stored.startswith("sha256:")
    assert STRONG not in stored and customer.password not in stored


def test_welcome_email_leaves_only_after_commit_and_is_logged(
    staff_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer = services.create_client(data=DATA, actor=staff_admin, send_welcome=True)
    assert mail.outbox == []
    log = EmailLog.objects.get(client=customer)
    assert log.status == EmailLog.Status.QUEUED
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert log.kind == EmailLog.Kind.WELCOME
    assert log.triggered_by == staff_admin


def test_rolled_back_work_sends_no_email(staff_admin, django_capture_on_commit_callbacks):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.create_client(data=DATA, actor=staff_admin, send_welcome=True)
        raise RuntimeError("abort")
    assert mail.outbox == []
    assert not EmailLog.objects.exists()


def test_set_password_link_works_once_and_is_not_kept_in_the_log(
    staff_admin, django_capture_on_commit_callbacks
):
    customer = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        log = services.send_password_link(client=customer, actor=staff_admin)
    sent = mail.outbox[0].body
    token = sent.split("/set-password/")[1].split("/")[0]
    assert token not in log.body
    assert services.client_for_set_password_token(token) == customer
    services.set_client_password(client=customer, password=STRONG, actor=None)
    with pytest.raises(ValidationError) as exc:
        services.client_for_set_password_token(token)
    assert exc.value.code == "link_used"


def test_tampered_set_password_link_is_refused():
    with pytest.raises(ValidationError) as exc:
        services.client_for_set_password_token("not-a-token")
    assert exc.value.code == "link_invalid"


def test_one_off_email_goes_to_general_contacts_when_asked(
    staff_admin, django_capture_on_commit_callbacks
):
    customer = ClientFactory(email="main@example.com")
    ContactFactory(client=customer, email="gen@example.com", receives_general=True)
    ContactFactory(client=customer, email="tech@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        log = services.send_client_email(
            client=customer,
            subject="Maintenance",
            body="Tonight.",
            actor=staff_admin,
            include_contacts=True,
        )
    assert mail.outbox[0].to == ["main@example.com", "gen@example.com"]
    assert log.kind == EmailLog.Kind.ONE_OFF


def test_empty_email_is_refused(staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.send_client_email(client=ClientFactory(), subject=" ", body="x", actor=staff_admin)
    assert exc.value.code == "empty_email"


def test_contacts_are_unique_by_email_per_client(staff_admin):
    customer = ClientFactory()
    data = {"first_name": "Bo", "last_name": "Tech", "email": "bo@example.com"}
    services.add_contact(client=customer, data=data, actor=staff_admin)
    with pytest.raises(ValidationError) as exc:
        services.add_contact(
            client=customer, data={**data, "email": "BO@example.com"}, actor=staff_admin
        )
    codes = {e.code for errors in exc.value.error_dict.values() for e in errors}
    assert "duplicate_contact_email" in codes
    services.add_contact(client=ClientFactory(), data=data, actor=staff_admin)  # other client


def test_removing_a_contact_needs_a_reason(staff_admin):
    contact = ContactFactory()
    with pytest.raises(ValidationError):
        services.remove_contact(contact=contact, actor=staff_admin, reason="")
    services.remove_contact(contact=contact, actor=staff_admin, reason="left the company")
    assert not Contact.objects.exists()


def test_custom_values_follow_their_definitions(staff_admin):
    customer = ClientFactory()
    reseller = CustomFieldFactory(name="Reseller ID", regex=r"R-\d{4}")
    tier = CustomFieldFactory(name="Tier", field_type="dropdown", options="Gold\nSilver")
    agreed = CustomFieldFactory(name="Agreed", field_type="checkbox")
    with pytest.raises(ValidationError) as exc:
        services.set_custom_values(
            client=customer, values={reseller: "X-1", tier: "Bronze"}, actor=staff_admin
        )
    codes = {f: [e.code for e in errs] for f, errs in exc.value.error_dict.items()}
    assert codes == {
        f"custom_{reseller.pk}": ["pattern_mismatch"],
        f"custom_{tier.pk}": ["invalid_choice"],
    }
    services.set_custom_values(
        client=customer, values={reseller: "R-1234", tier: "Gold", agreed: True}, actor=staff_admin
    )
    stored = dict(CustomFieldValue.objects.values_list("field__name", "value"))
    assert stored == {"Reseller ID": "R-1234", "Tier": "Gold", "Agreed": "1"}


def test_required_custom_field_is_enforced(staff_admin):
    required = CustomFieldFactory(required=True)
    with pytest.raises(ValidationError) as exc:
        services.create_client(data=DATA, custom_values={required: ""}, actor=staff_admin)
    assert f"custom_{required.pk}" in exc.value.error_dict
    assert not Client.objects.exists()


def test_admin_only_custom_field_refuses_other_roles(make_staff):
    field = CustomFieldFactory(admin_only=True)
    with pytest.raises(PermissionDenied):
        services.set_custom_values(
            client=ClientFactory(), values={field: "x"}, actor=make_staff("Support")
        )


def test_invalid_custom_field_definition_is_refused(staff_admin):
    from clients.models import CustomField

    with pytest.raises(ValidationError) as exc:
        services.save_custom_field(
            field=CustomField(name="Bad", regex="(unclosed"), actor=staff_admin
        )
    assert exc.value.error_dict["regex"][0].code == "bad_regex"
    with pytest.raises(ValidationError) as exc:
        services.save_custom_field(
            field=CustomField(name="Empty", field_type="dropdown"), actor=staff_admin
        )
    assert "options" in exc.value.error_dict


def test_note_edits_keep_versions_and_pins_are_recorded(staff_admin):
    from audit.feed import Feed, FeedFilters
    from audit.tracking import event_model_for

    note = services.add_note(client=ClientFactory(), body="first", actor=staff_admin)
    services.edit_note(note=note, body="second", actor=staff_admin)
    services.set_note_pinned(note=note, pinned=True, actor=staff_admin)
    services.set_note_pinned(note=note, pinned=False, actor=staff_admin)
    rows = Feed(FeedFilters(object_id=note.pk), models=[event_model_for(Note)]).page().rows
    bodies = [c.new for r in rows for c in r.changes if c.name == "body"]
    assert bodies == ["second", "first"]
    actions = [r.metadata["action"] for r in rows]
    assert actions == [
        "clients.unpin_note",
        "clients.pin_note",
        "clients.edit_note",
        "clients.add_note",
    ]


def test_delete_refused_while_the_client_has_dependent_records(staff_admin):
    customer = ClientFactory()
    NoteFactory(client=customer)
    with pytest.raises(ValidationError) as exc:
        services.delete_client(client=customer, actor=staff_admin, reason="mistake")
    assert exc.value.code == "has_dependents"
    assert Client.objects.filter(pk=customer.pk).exists()


def test_only_admins_delete_clients(make_staff):
    with pytest.raises(PermissionDenied):
        services.delete_client(client=ClientFactory(), actor=make_staff("Billing"), reason="x")


def test_the_database_refuses_deleting_a_client_with_contacts():
    from django.db import IntegrityError, connection, transaction

    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM clients_client WHERE id = %s", [contact.client_id])
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's keys are checked at commit


def test_group_change_needs_a_reason(staff_admin):
    from tests.factories.clients import ClientGroupFactory

    with pytest.raises(ValidationError):
        services.change_client_group(
            client=ClientFactory(), group=ClientGroupFactory(), actor=staff_admin, reason=""
        )


def test_possible_duplicates_match_email_phone_company_and_vat():
    a = ClientFactory(
        email="a@example.com", phone="+442079460001", company_name="Acme Ltd", tax_id="GB123"
    )
    dupes = Client.objects.possible_duplicates
    assert list(dupes(email="A@EXAMPLE.COM")) == [a]
    assert list(dupes(phone="+442079460001")) == [a]
    assert list(dupes(company_name="acme ltd")) == [a]
    assert list(dupes(tax_id="gb123")) == [a]
    assert list(dupes(email="a@example.com", exclude_pk=a.pk)) == []
    assert list(dupes()) == []


def test_a_note_can_be_about_one_of_the_clients_records(staff_admin):
    from tests.factories.hosting import ServiceFactory

    service = ServiceFactory()
    note = services.add_note(
        client=service.client, body="migrated by hand", about=service, actor=staff_admin
    )
    assert note.about == service
    other = ServiceFactory()
    with pytest.raises(ValidationError) as exc:
        services.add_note(client=service.client, body="x", about=other, actor=staff_admin)
    assert exc.value.code == "wrong_client"
