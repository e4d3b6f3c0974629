"""Every view, checked for every role on the server."""

import pytest
from django.urls import reverse

from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.clients import ClientFactory, ContactFactory, NoteFactory

pytestmark = pytest.mark.django_db

ALL = {ADMIN, BILLING, SUPPORT, READ_ONLY}
EDITORS = {ADMIN, BILLING, SUPPORT}


def _urls(customer, contact, note):
    return {
        # url: roles that may open it
        reverse("core:dashboard"): ALL | {None},
        reverse("clients:client-list"): ALL,
        reverse("clients:client-detail", args=[customer.pk]): ALL,
        # A record's own history: whoever may view the record (the feed stays Admin-only).
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=history": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=contacts": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=notes": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=custom": ALL,
        reverse("clients:client-detail", args=[customer.pk]) + "?tab=emails": ALL,
        reverse("clients:client-duplicates") + "?email=x@example.com": ALL,
        reverse("clients:client-autocomplete") + "?q=a": ALL,
        reverse("clients:client-create"): EDITORS,
        reverse("clients:client-update", args=[customer.pk]): EDITORS,
        reverse("clients:client-close", args=[customer.pk]): EDITORS,
        reverse("clients:client-email", args=[customer.pk]): EDITORS,
        reverse("clients:client-password", args=[customer.pk]): EDITORS,
        reverse("clients:contact-create", args=[customer.pk]): EDITORS,
        reverse("clients:contact-update", args=[contact.pk]): EDITORS,
        reverse("clients:note-update", args=[note.pk]): EDITORS,
        reverse("clients:client-delete", args=[customer.pk]): {ADMIN},
        reverse("audit:feed"): {ADMIN},
        reverse("audit:export"): {ADMIN},
        reverse("audit:staff-sessions"): {ADMIN},
    }


@pytest.mark.parametrize("role", [ADMIN, BILLING, SUPPORT, READ_ONLY, None])
def test_each_view_allows_exactly_its_roles(role, client_as):
    customer = ClientFactory()
    contact = ContactFactory(client=customer)
    note = NoteFactory(client=customer)
    http = client_as(role)
    for url, allowed in _urls(customer, contact, note).items():
        response = http.get(url)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (url, role, response.status_code)


def test_denied_users_get_the_clear_403_page(client_as):
    response = client_as(READ_ONLY).get(reverse("audit:feed"))
    assert response.status_code == 403
    assert "You don’t have access to this page" in response.content.decode()


@pytest.mark.parametrize("role", [READ_ONLY, None])
def test_posting_a_form_without_permission_is_refused_and_writes_nothing(role, client_as):
    from clients.models import Client

    response = client_as(role).post(
        reverse("clients:client-create"),
        {"first_name": "A", "last_name": "B", "email": "a@b.example", "country": "GB"},
    )
    assert response.status_code == 403
    assert not Client.objects.exists()


def test_anonymous_users_are_sent_to_login(client):
    for url in (reverse("core:dashboard"), reverse("clients:client-list"), reverse("audit:feed")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_roles_exist_with_the_expected_permissions():
    from django.contrib.auth.models import Group

    perms = {
        g.name: set(g.permissions.values_list("content_type__app_label", "codename"))
        for g in Group.objects.all()
    }
    assert ("audit", "review_audit") in perms[ADMIN]
    assert ("audit", "review_audit") not in perms[BILLING] | perms[SUPPORT] | perms[READ_ONLY]
    assert ("clients", "change_client") in perms[BILLING] & perms[SUPPORT]
    assert ("clients", "change_client") not in perms[READ_ONLY]
    assert ("clients", "view_client") in perms[READ_ONLY]
    assert ("clients", "delete_client") not in perms[BILLING] | perms[SUPPORT]
    assert ("auth", "change_user") in perms[ADMIN]


@pytest.mark.parametrize(
    ("role", "allowed"), [(ADMIN, True), (BILLING, True), (SUPPORT, True), (READ_ONLY, False)]
)
def test_every_client_write_is_refused_without_permission(role, allowed, client_as):
    from clients.models import Note

    customer = ClientFactory()
    http = client_as(role)
    response = http.post(
        reverse("clients:note-create", args=[customer.pk]), {"body": "hello", "pinned": ""}
    )
    assert (response.status_code == 302) is allowed
    assert Note.objects.exists() is allowed


def test_admin_only_custom_fields_are_hidden_from_other_roles(client_as):
    from tests.factories.clients import CustomFieldFactory

    CustomFieldFactory(name="Risk score", admin_only=True)
    customer = ClientFactory()
    url = reverse("clients:client-update", args=[customer.pk])
    assert "Risk score" in client_as(ADMIN).get(url).content.decode()
    assert "Risk score" not in client_as(SUPPORT).get(url).content.decode()
