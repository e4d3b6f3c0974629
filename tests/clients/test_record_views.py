import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from clients import services
from clients.models import Client, Contact, CustomFieldValue, EmailLog, Note
from tests.factories.clients import (
    ClientFactory,
    ClientGroupFactory,
    ContactFactory,
    CustomFieldFactory,
    NoteFactory,
    client_form_data,
)

pytestmark = pytest.mark.django_db


def test_add_client_with_custom_fields_login_and_welcome(
    staff_client, django_capture_on_commit_callbacks
):
    tier = CustomFieldFactory(
        name="Tier", field_type="dropdown", options="Gold\nSilver", required=True
    )
    data = client_form_data(
        **{f"custom_{tier.pk}": "Gold", "send_welcome": "on", "send_password_link": "on"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("clients:client-create"), data)
    assert response.status_code == 302
    customer = Client.objects.get()
    assert CustomFieldValue.objects.get(client=customer).value == "Gold"
    assert sorted(EmailLog.objects.values_list("kind", flat=True)) == ["set_password", "welcome"]
    assert len(mail.outbox) == 2


def test_custom_field_errors_come_back_on_the_field(staff_client):
    reseller = CustomFieldFactory(name="Reseller ID", regex=r"R-\\d{4}")
    data = client_form_data(**{f"custom_{reseller.pk}": "nope"})
    response = staff_client.post(reverse("clients:client-create"), data)
    assert response.status_code == 400
    assert f"custom_{reseller.pk}" in response.context["form"].errors
    assert response.context["form"][f"custom_{reseller.pk}"].value() == "nope"
    assert not Client.objects.exists()


def test_password_and_link_together_are_refused(staff_client):
    data = client_form_data(password="tangerine-Lantern-42", send_password_link="on")
    response = staff_client.post(reverse("clients:client-create"), data)
    assert "send_password_link" in response.context["form"].errors


def test_duplicate_check_lists_matches_with_links(staff_client):
    existing = ClientFactory(email="dup@example.com", company_name="Acme")
    response = staff_client.get(
        reverse("clients:client-duplicates"), {"email": "DUP@example.com", "company_name": "acme"}
    )
    body = response.content.decode()
    assert existing.get_absolute_url() in body
    assert "same email, company" in body
    empty = staff_client.get(reverse("clients:client-duplicates"), {"email": "new@example.com"})
    assert "Possible duplicate" not in empty.content.decode()


def test_autocomplete_returns_at_most_ten_matches(staff_client):
    ClientFactory.create_batch(15, last_name="Smithson")
    response = staff_client.get(reverse("clients:client-autocomplete"), {"q": "smiths"})
    assert response.content.decode().count("data-picker-value") == 10


def test_close_and_reactivate_need_a_reason(staff_client):
    customer = ClientFactory()
    url = reverse("clients:client-close", args=[customer.pk])
    response = staff_client.post(url, {"audit_reason": ""})
    assert response.status_code == 400
    assert "audit_reason" in response.context["form"].errors
    staff_client.post(url, {"audit_reason": "asked to leave"})
    customer.refresh_from_db()
    assert customer.status == "closed"
    staff_client.post(
        reverse("clients:client-reactivate", args=[customer.pk]), {"audit_reason": "back"}
    )
    customer.refresh_from_db()
    assert customer.status == "active"


def test_delete_page_explains_dependents_and_refuses(staff_client):
    customer = ClientFactory()
    ContactFactory(client=customer)
    url = reverse("clients:client-delete", args=[customer.pk])
    assert "1 contact" in staff_client.get(url).content.decode()
    response = staff_client.post(url, {"audit_reason": "mistake"})
    assert response.status_code == 400
    assert Client.objects.filter(pk=customer.pk).exists()


def test_delete_an_empty_client(staff_client):
    customer = ClientFactory()
    response = staff_client.post(
        reverse("clients:client-delete", args=[customer.pk]),
        {"audit_reason": "typo", "reason_code": "mistake"},
    )
    assert response.status_code == 302
    assert not Client.objects.exists()


def test_contact_add_edit_remove(staff_client):
    customer = ClientFactory()
    staff_client.post(
        reverse("clients:contact-create", args=[customer.pk]),
        {
            "first_name": "Bo",
            "last_name": "T",
            "email": "bo@example.com",
            "role": "technical",
            "receives_support": "on",
        },
    )
    contact = Contact.objects.get()
    assert contact.receives_support
    response = staff_client.post(
        reverse("clients:contact-update", args=[contact.pk]),
        {"first_name": "Bo", "last_name": "T", "email": "not-an-email", "role": "technical"},
    )
    assert response.status_code == 400
    assert response.context["form"]["email"].value() == "not-an-email"
    staff_client.post(reverse("clients:contact-remove", args=[contact.pk]), {"audit_reason": ""})
    assert Contact.objects.exists()
    staff_client.post(
        reverse("clients:contact-remove", args=[contact.pk]), {"audit_reason": "left"}
    )
    assert not Contact.objects.exists()


def test_notes_pin_and_edit_show_versions(staff_client):
    customer = ClientFactory()
    staff_client.post(
        reverse("clients:note-create", args=[customer.pk]), {"body": "v1", "pinned": "on"}
    )
    note = Note.objects.get()
    assert note.pinned
    profile = staff_client.get(customer.get_absolute_url()).content.decode()
    assert "Pinned:" in profile
    staff_client.post(
        reverse("clients:note-update", args=[note.pk]), {"body": "v2", "audit_reason": ""}
    )
    page = staff_client.get(reverse("clients:note-update", args=[note.pk]))
    assert [c.new for r in page.context["versions"] for c in r.changes if c.name == "body"] == [
        "v2",
        "v1",
    ]
    staff_client.post(reverse("clients:note-pin", args=[note.pk]), {"pinned": "0"})
    note.refresh_from_db()
    assert not note.pinned


def test_empty_note_is_refused_with_the_form(staff_client):
    customer = ClientFactory()
    response = staff_client.post(reverse("clients:note-create", args=[customer.pk]), {"body": ""})
    assert response.status_code == 400
    assert "body" in response.context["note_form"].errors


def test_compose_email_is_logged(staff_client, django_capture_on_commit_callbacks):
    customer = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("clients:client-email", args=[customer.pk]),
            {"subject": "Hello", "body": "World"},
        )
    assert EmailLog.objects.get().subject == "Hello"
    tab = staff_client.get(customer.get_absolute_url(), {"tab": "emails"}).content.decode()
    assert "Hello" in tab


def test_staff_sets_a_password_with_strength_checks(staff_client):
    customer = ClientFactory()
    url = reverse("clients:client-password", args=[customer.pk])
    weak = staff_client.post(url, {"password": "12345678", "password2": "12345678"})
    assert weak.status_code == 400
    assert "password" in weak.context["form"].errors
    staff_client.post(
        url, {"password": "tangerine-Lantern-42", "password2": "tangerine-Lantern-42"}
    )
    customer.refresh_from_db()
    assert customer.password


def test_client_sets_own_password_from_the_link_once(
    staff_admin, django_capture_on_commit_callbacks
):
    customer = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_password_link(client=customer, actor=staff_admin)
    link = next(line for line in mail.outbox[0].body.splitlines() if "/set-password/" in line)
    path = "/" + link.split("/", 3)[3]
    anonymous = HttpClient()
    assert anonymous.get(path).status_code == 200
    done = anonymous.post(
        path, {"password": "tangerine-Lantern-42", "password2": "tangerine-Lantern-42"}
    )
    assert done.status_code == 200 and done.context["done"]
    again = anonymous.get(path)
    assert again.status_code == 400
    assert "already been used" in again.content.decode()


def test_admin_bulk_change_group_goes_through_the_service(staff_client):
    group = ClientGroupFactory(name="Resellers")
    customers = ClientFactory.create_batch(2)
    changelist = reverse("admin:clients_client_changelist")
    ids = [c.pk for c in customers]
    staff_client.post(
        changelist, {"action": "change_group", "_selected_action": ids, "audit_reason": "deal"}
    )
    response = staff_client.post(
        changelist,
        {
            "action": "change_group",
            "_selected_action": ids,
            "apply": "1",
            "group": group.pk,
            "audit_reason": "reseller deal",
        },
    )
    assert response.status_code == 302
    assert set(Client.objects.values_list("group__name", flat=True)) == {"Resellers"}


def test_admin_client_changelist_avoids_full_counts(staff_client, django_assert_max_num_queries):
    ClientFactory.create_batch(30)
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("admin:clients_client_changelist"), {"q": "example"})
    assert response.status_code == 200


def test_admin_note_edit_keeps_text_history(staff_client, staff_admin):
    note = NoteFactory(author=staff_admin, body="old")
    url = reverse("admin:clients_note_change", args=[note.pk])
    response = staff_client.post(
        url, {"client": note.client_id, "body": "new", "audit_reason": "typo"}
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.body == "new"


def test_note_form_offers_the_clients_records_and_links_them(staff_client):
    from tests.factories.hosting import ServiceFactory

    service = ServiceFactory()
    ServiceFactory()  # another client's account is not offered
    url = reverse("clients:note-create", args=[service.client_id])
    tab = staff_client.get(service.client.get_absolute_url(), {"tab": "notes"})
    choices = [v for v, _ in tab.context["note_form"].fields["about_record"].choices]
    assert choices == ["", f"hosting.service:{service.pk}"]
    staff_client.post(url, {"body": "about the account", "about_record": choices[1]})
    note = Note.objects.get()
    assert note.about == service
    page = staff_client.get(service.client.get_absolute_url(), {"tab": "notes"}).content.decode()
    assert service.get_absolute_url() in page


def _refuse(*args, **kwargs):
    from django.core.exceptions import ValidationError

    raise ValidationError("Notes on this client are locked.", code="notes_locked")


def test_a_refused_note_edit_comes_back_on_the_form_with_the_text(staff_client, monkeypatch):
    note = NoteFactory(body="old text")
    monkeypatch.setattr(services, "edit_note", _refuse)
    response = staff_client.post(
        reverse("clients:note-update", args=[note.pk]),
        {"body": "new text", "audit_reason": "typo"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert [e.code for e in form.non_field_errors().as_data()] == ["notes_locked"]
    page = response.content.decode()
    assert "Notes on this client are locked." in page
    assert "new text" in page
    note.refresh_from_db()
    assert note.body == "old text"


def test_a_refused_note_comes_back_on_the_full_profile(staff_client, monkeypatch):
    customer = ClientFactory()
    tabs = staff_client.get(customer.get_absolute_url()).context["tabs"]
    monkeypatch.setattr(services, "add_note", _refuse)
    response = staff_client.post(
        reverse("clients:note-create", args=[customer.pk]), {"body": "call back Monday"}
    )
    assert response.status_code == 400
    assert response.context["tab"] == "notes"
    assert [t.key for t in response.context["tabs"]] == [t.key for t in tabs]
    assert [e.code for e in response.context["note_form"].non_field_errors().as_data()] == [
        "notes_locked"
    ]
    page = response.content.decode()
    assert "Notes on this client are locked." in page
    assert "call back Monday" in page
    assert not Note.objects.exists()
