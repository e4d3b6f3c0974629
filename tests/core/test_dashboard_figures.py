"""The dashboard's counts and totals may be a few seconds old; the lists are live."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _clients_panel(response):
    return next(p for p in response.context["panels"] if p["key"] == "clients")


def _total(client):
    return _clients_panel(client.get(reverse("core:dashboard")))["client_counts"]["total"]


@pytest.fixture
def figures_cached(settings):
    settings.DASHBOARD_FIGURES_SECONDS = 30
    cache.clear()
    yield
    cache.clear()


def test_the_counts_are_reused_within_the_window(figures_cached, staff_client):
    ClientFactory.create_batch(2)
    first = staff_client.get(reverse("core:dashboard"))
    assert _clients_panel(first)["client_counts"]["total"] == 2
    assert "refreshed every 30 seconds" in first.content.decode()
    ClientFactory()
    again = staff_client.get(reverse("core:dashboard"))
    assert _clients_panel(again)["client_counts"]["total"] == 2  # within the window
    assert len(_clients_panel(again)["recent_clients"]) == 3  # the list is live
    cache.clear()  # the window passes
    assert _total(staff_client) == 3


def test_without_the_window_the_counts_are_exact(staff_client):
    ClientFactory.create_batch(2)
    assert _total(staff_client) == 2
    ClientFactory()
    assert _total(staff_client) == 3


def _tickets_panel(response):
    return next(p for p in response.context["panels"] if p["key"] == "tickets")


def test_ticket_counts_are_cached_per_person_and_their_own_tickets_stay_live(
    figures_cached, make_staff
):
    from django.test import Client as HttpClient

    from core.roles import ADMIN
    from tests.factories.second_factor import force_login_verified
    from tests.factories.support import DepartmentFactory, open_ticket

    admin = make_staff(ADMIN, username="queue-admin")
    other = make_staff(ADMIN, username="queue-other")
    http = force_login_verified(HttpClient(), admin)
    desk = DepartmentFactory(name="Technical support")
    open_ticket(department=desk, assignee=admin)
    assert _tickets_panel(http.get(reverse("core:dashboard")))["awaiting"] == 1
    open_ticket(department=desk, assignee=admin)
    again = _tickets_panel(http.get(reverse("core:dashboard")))
    assert again["awaiting"] == 1  # within the window
    assert len(again["mine"]) == 2  # the list is live
    # Each person's figures are their own (what they see depends on their departments).
    force_login_verified(http, other)
    assert _tickets_panel(http.get(reverse("core:dashboard")))["awaiting"] == 2
