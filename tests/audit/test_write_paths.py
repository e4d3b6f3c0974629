"""Every write path leaves exactly one event per changed row, with the right context."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from clients.models import Client, ClientEvent
from tests.factories.clients import ClientFactory, client_form_data

pytestmark = pytest.mark.django_db

CLIENT_DATA = client_form_data(company_name="")


def test_web_form_create_records_one_event_with_the_request_context(
    staff_client, staff_admin, settings
):
    settings.AUDIT_TRUSTED_PROXIES = ["203.0.113.9"]  # the proxy that sets the request id
    response = staff_client.post(
        reverse("clients:client-create"),
        CLIENT_DATA,
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="pytest-browser",
        HTTP_X_REQUEST_ID="req-abcdef123456",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-abcdef123456"
    event = ClientEvent.objects.get()
    assert event.pgh_label == "insert"
    meta = event.pgh_context.metadata
    assert meta["user"] == staff_admin.pk
    assert meta["username"] == staff_admin.username
    assert meta["ip"] == "203.0.113.9"
    assert meta["user_agent"] == "pytest-browser"
    assert meta["request_id"] == "req-abcdef123456"
    assert meta["channel"] == "web"
    assert meta["method"] == "POST"
    assert meta["action"] == "clients.create_client"


def test_web_form_status_change_records_reason(staff_client):
    customer = ClientFactory()
    data = {
        **CLIENT_DATA,
        "email": customer.email,
        "status": "inactive",
        "audit_reason": "asked by phone",
    }
    response = staff_client.post(reverse("clients:client-update", args=[customer.pk]), data)
    assert response.status_code == 302
    event = ClientEvent.objects.filter(pgh_obj_id=customer.pk, pgh_label="update").get()
    assert event.status == "inactive"
    assert event.pgh_context.metadata["reason"] == "asked by phone"


def test_admin_change_records_one_event_with_channel_admin_and_reason(staff_client):
    customer = ClientFactory(city="Leeds")
    url = reverse("admin:clients_client_change", args=[customer.pk])
    data = {
        **{k: v for k, v in CLIENT_DATA.items() if k != "audit_reason"},
        "email": customer.email,
        "status": "active",
        "city": "York",
        "audit_reason": "moved house",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content
    events = ClientEvent.objects.filter(pgh_obj_id=customer.pk, pgh_label="update")
    assert events.count() == 1
    meta = events.get().pgh_context.metadata
    assert meta["channel"] == "admin"
    assert meta["reason"] == "moved house"


def test_admin_bulk_action_records_one_event_per_row(staff_client):
    customers = ClientFactory.create_batch(3)
    response = staff_client.post(
        reverse("admin:clients_client_changelist"),
        {
            "action": "mark_inactive",
            "_selected_action": [c.pk for c in customers],
            "audit_reason": "account review",
        },
    )
    assert response.status_code == 302
    events = ClientEvent.objects.filter(pgh_label="update")
    assert events.count() == 3
    assert {e.pgh_context.metadata["reason"] for e in events} == {"account review"}
    assert {e.pgh_context.metadata["channel"] for e in events} == {"admin"}


def test_admin_bulk_action_without_reason_changes_nothing(staff_client):
    customers = ClientFactory.create_batch(2)
    staff_client.post(
        reverse("admin:clients_client_changelist"),
        {"action": "mark_inactive", "_selected_action": [c.pk for c in customers]},
    )
    assert not Client.objects.filter(status="inactive").exists()
    assert not ClientEvent.objects.filter(pgh_label="update").exists()


def test_admin_delete_requires_a_reason(staff_client):
    customer = ClientFactory()
    url = reverse("admin:clients_client_delete", args=[customer.pk])
    staff_client.post(url, {"post": "yes"})
    assert Client.objects.filter(pk=customer.pk).exists()

    staff_client.post(url, {"post": "yes", "audit_reason": "duplicate record"})
    assert not Client.objects.filter(pk=customer.pk).exists()
    event = ClientEvent.objects.get(pgh_obj_id=customer.pk, pgh_label="delete")
    assert event.pgh_context.metadata["reason"] == "duplicate record"


def test_admin_delete_selected_carries_the_reason(staff_client):
    customers = ClientFactory.create_batch(2)
    staff_client.post(
        reverse("admin:clients_client_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [c.pk for c in customers],
            "post": "yes",
            "audit_reason": "test accounts",
        },
    )
    events = ClientEvent.objects.filter(pgh_label="delete")
    assert events.count() == 2
    assert {e.pgh_context.metadata["reason"] for e in events} == {"test accounts"}


def test_queryset_update_in_a_command_records_one_event_per_changed_row():
    ClientFactory(email="  MIXED@Example.com")
    ClientFactory(email="Upper@example.com")
    ClientFactory(email="already@example.com")
    call_command("normalise_client_emails", reason="after import")
    events = ClientEvent.objects.filter(pgh_label="update")
    assert events.count() == 2
    meta = events.first().pgh_context.metadata
    assert meta["channel"] == "command"
    assert meta["command"] == "normalise_client_emails"
    assert meta["reason"] == "after import"
    assert sorted(Client.objects.values_list("email", flat=True)) == [
        "already@example.com",
        "mixed@example.com",
        "upper@example.com",
    ]


def test_raw_sql_outside_the_app_is_captured_unattributed():
    customer = ClientFactory(city="Leeds")
    with connection.cursor() as cur:
        cur.execute("UPDATE clients_client SET city = 'Hull' WHERE id = %s", [customer.pk])
    event = ClientEvent.objects.get(pgh_obj_id=customer.pk, pgh_label="update")
    assert event.city == "Hull"
    assert event.pgh_context_id is None


def test_invalid_form_submission_writes_nothing(staff_client):
    response = staff_client.post(reverse("clients:client-create"), {**CLIENT_DATA, "email": "nope"})
    assert response.status_code == 400
    assert ClientEvent.objects.count() == 0
