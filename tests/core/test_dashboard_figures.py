"""The dashboard's counts and totals may be a few seconds old; the lists are live."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures_cached(settings):
    settings.DASHBOARD_FIGURES_SECONDS = 30
    cache.clear()
    yield
    cache.clear()


def test_the_counts_are_reused_within_the_window(figures_cached, staff_client):
    ClientFactory.create_batch(2)
    first = staff_client.get(reverse("core:dashboard"))
    assert first.context["client_counts"]["total"] == 2
    assert "refreshed every 30 seconds" in first.content.decode()
    ClientFactory()
    again = staff_client.get(reverse("core:dashboard"))
    assert again.context["client_counts"]["total"] == 2  # within the window
    assert len(again.context["recent_clients"]) == 3  # the list is live
    cache.clear()  # the window passes
    assert staff_client.get(reverse("core:dashboard")).context["client_counts"]["total"] == 3


def test_without_the_window_the_counts_are_exact(staff_client):
    ClientFactory.create_batch(2)
    assert staff_client.get(reverse("core:dashboard")).context["client_counts"]["total"] == 2
    ClientFactory()
    assert staff_client.get(reverse("core:dashboard")).context["client_counts"]["total"] == 3
