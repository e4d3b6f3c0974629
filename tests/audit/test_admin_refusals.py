"""Refusals from the services come back on the admin form or as a message, never as a 500."""

import pytest
from django.urls import reverse

from clients.models import Client, ClientEvent
from hosting.models import Domain, Service
from tests.factories.clients import ClientFactory, NoteFactory
from tests.factories.hosting import ProductFactory

pytestmark = pytest.mark.django_db


def test_admin_price_override_without_reason_is_a_form_error_and_saves_nothing(staff_client):
    customer = ClientFactory(currency="GBP")
    product = ProductFactory()
    data = {
        "client": customer.pk,
        "product": product.pk,
        "registration_date": "2026-01-01",
        "billing_cycle": "monthly",
        "quantity": 1,
        "first_payment_amount": "1",
        "recurring_amount": "1",
        "audit_reason": "",
    }
    response = staff_client.post(reverse("admin:hosting_service_add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "Say why the price differs from the catalog." in str(form.errors)
    assert form["recurring_amount"].value() == "1"
    assert not Service.objects.exists()

    response = staff_client.post(
        reverse("admin:hosting_service_add"), {**data, "audit_reason": "old contract"}
    )
    assert response.status_code == 302
    assert Service.objects.get().price_overridden


def test_admin_domain_with_an_unsold_tld_is_a_form_error(staff_client):
    from hosting.models import Tld

    Tld.objects.create(name="com")
    data = {
        "client": ClientFactory().pk,
        "name": "example.org",
        "order_type": "register",
        "period_years": 1,
        "registration_date": "2026-01-01",
        "first_payment_amount": "1",
        "recurring_amount": "1",
        "nameservers": "ns1.example.net,ns2.example.net",
        "audit_reason": "x",
    }
    response = staff_client.post(reverse("admin:hosting_domain_add"), data)
    assert response.status_code == 200
    assert "We do not sell .org domains." in str(response.context["adminform"].form.errors)
    assert not Domain.objects.exists()


def test_a_refused_row_in_a_bulk_delete_changes_nothing(staff_client):
    empty, busy = ClientFactory(), ClientFactory()
    NoteFactory(client=busy)
    response = staff_client.post(
        reverse("admin:clients_client_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [empty.pk, busy.pk],
            "post": "yes",
            "audit_reason": "clean-up",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Cannot delete clients" in response.content.decode()
    assert Client.objects.count() == 2
    assert not ClientEvent.objects.filter(pgh_label="delete").exists()


def test_the_validation_attempt_leaves_no_audit_events(staff_client):
    response = staff_client.post(
        reverse("admin:clients_client_add"),
        {
            "first_name": "A",
            "last_name": "B",
            "email": "ab@example.com",
            "country": "GB",
            "language": "en",
            "timezone": "UTC",
            "currency": "GBP",
            "status": "active",
            "source": "phone",
        },
    )
    assert response.status_code == 302
    assert ClientEvent.objects.filter(pgh_label="insert").count() == 1


def test_a_bulk_action_without_a_reason_changes_nothing_and_says_why(staff_client):
    customers = ClientFactory.create_batch(2, status="active")
    response = staff_client.post(
        reverse("admin:clients_client_changelist"),
        {"action": "mark_inactive", "_selected_action": [c.pk for c in customers]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Give a reason" in response.content.decode()
    assert set(Client.objects.values_list("status", flat=True)) == {"active"}
    assert not ClientEvent.objects.filter(pgh_label="update").exists()
