"""Lists count their matches only up to a cap: past it they say "more than", and every page
the rows reach still opens."""

import pytest
from django.urls import reverse

import core.pagination
from clients.models import Client
from core.pagination import DeferredJoinPaginator, newest_first_via_filter
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def test_the_count_stops_just_past_the_cap(monkeypatch):
    monkeypatch.setattr(core.pagination, "COUNT_CAP", 5)
    ClientFactory.create_batch(8)
    paginator = DeferredJoinPaginator(Client.objects.order_by("-id"), 2)
    page = paginator.page(1)
    assert paginator.capped and paginator.count_floor == 5 and paginator.count == 6
    assert page.has_next()
    # A page past the cap: the count reaches one row past it, so it opens and has its neighbours.
    page = DeferredJoinPaginator(Client.objects.order_by("-id"), 2).page(4)
    assert [c.pk for c in page] == list(
        Client.objects.order_by("-id").values_list("pk", flat=True)
    )[6:8]


def test_under_the_cap_the_count_is_exact(monkeypatch):
    monkeypatch.setattr(core.pagination, "COUNT_CAP", 5)
    ClientFactory.create_batch(4)
    paginator = DeferredJoinPaginator(Client.objects.order_by("-id"), 2)
    paginator.page(1)
    assert not paginator.capped and paginator.count == 4 and paginator.num_pages == 2


def test_the_list_says_more_than_past_the_cap(monkeypatch, staff_client):
    monkeypatch.setattr(core.pagination, "COUNT_CAP", 30)
    ClientFactory.create_batch(31)
    body = staff_client.get(reverse("clients:client-list")).content.decode()
    assert "more than 30 in all" in body and ">Last<" not in body


def test_newest_first_via_filter_keeps_the_order():
    ClientFactory.create_batch(5)
    ours = list(newest_first_via_filter(Client.objects.all()).values_list("pk", flat=True))
    assert ours == list(Client.objects.order_by("-id").values_list("pk", flat=True))
