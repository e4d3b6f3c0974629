import pytest
from django.urls import reverse

from clients.models import Client
from tests.factories.clients import ClientFactory, client_form_data

pytestmark = pytest.mark.django_db

FORM = client_form_data()


def test_create_client_redirects_to_the_new_client(staff_client):
    response = staff_client.post(reverse("clients:client-create"), FORM)
    customer = Client.objects.get()
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()


def test_bad_input_comes_back_with_the_users_input_and_field_errors(staff_client):
    ClientFactory(email="ada@example.com")
    data = {**FORM, "email": "ADA@example.com", "phone": "not a phone", "country": "XX"}
    response = staff_client.post(reverse("clients:client-create"), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"email", "phone", "country"}
    assert form["email"].value() == "ADA@example.com"
    assert form["first_name"].value() == "Ada"
    assert Client.objects.count() == 1


def test_status_change_without_reason_is_refused_next_to_the_field(staff_client):
    customer = ClientFactory(email="a@example.com")
    data = {**FORM, "email": customer.email, "status": "closed"}
    response = staff_client.post(reverse("clients:client-update", args=[customer.pk]), data)
    assert response.status_code == 400
    assert "audit_reason" in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.status == "active"


def test_invalid_status_transition_is_refused_on_the_status_field(staff_client):
    customer = ClientFactory(email="a@example.com", closed=True)
    data = {**FORM, "email": customer.email, "status": "inactive", "audit_reason": "x"}
    response = staff_client.post(reverse("clients:client-update", args=[customer.pk]), data)
    assert response.status_code == 400
    assert response.context["form"].errors["status"]


def test_client_list_searches_filters_and_paginates(staff_client):
    ClientFactory.create_batch(30, country="FR")
    ClientFactory(last_name="Zwicky", country="CH")
    url = reverse("clients:client-list")
    response = staff_client.get(url)
    assert len(response.context["object_list"]) == 25
    assert response.context["paginator"].count == 31
    page2 = staff_client.get(url, {"page": 2})
    assert len(page2.context["object_list"]) == 6
    found = staff_client.get(url, {"q": "zwi"})
    assert [c.last_name for c in found.context["object_list"]] == ["Zwicky"]
    by_country = staff_client.get(url, {"country": "CH"})
    assert [c.last_name for c in by_country.context["object_list"]] == ["Zwicky"]


def test_client_list_pages_keep_their_order(staff_client):
    ClientFactory.create_batch(30)
    url = reverse("clients:client-list")
    first = [c.pk for c in staff_client.get(url).context["object_list"]]
    second = [c.pk for c in staff_client.get(url, {"page": 2}).context["object_list"]]
    assert first == sorted(first, reverse=True)
    assert second == sorted(second, reverse=True)
    assert first[-1] > second[0]


def test_client_list_out_of_range_page_is_a_404_not_a_500(staff_client):
    response = staff_client.get(reverse("clients:client-list"), {"page": "999"})
    assert response.status_code == 404


def test_client_list_answers_htmx_with_the_table_only(staff_client):
    ClientFactory(last_name="Zwicky")
    response = staff_client.get(
        reverse("clients:client-list"),
        {"q": "zw"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="client-table",
    )
    body = response.content.decode()
    assert "Zwicky" in body
    assert "<html" not in body


def test_history_tab_shows_old_and_new_values(staff_client):
    customer = ClientFactory(email="old@example.com")
    data = {**FORM, "email": "new@example.com", "status": "active"}
    staff_client.post(reverse("clients:client-update", args=[customer.pk]), data)
    response = staff_client.get(customer.get_absolute_url(), {"tab": "history"})
    body = response.content.decode()
    assert "old@example.com" in body
    assert "new@example.com" in body


def test_pages_have_one_h1_and_a_unique_title(staff_client):
    customer = ClientFactory()
    titles = set()
    for url in (
        reverse("core:dashboard"),
        reverse("clients:client-list"),
        reverse("clients:client-create"),
        customer.get_absolute_url(),
        reverse("clients:client-update", args=[customer.pk]),
        reverse("audit:feed"),
        reverse("audit:staff-sessions"),
    ):
        body = staff_client.get(url).content.decode()
        assert body.count("<h1") == 1, url
        titles.add(body.split("<title>")[1].split("</title>")[0])
    assert len(titles) == 7
