"""`make run` loads the demo data: it must work on an empty database and be idempotent."""

import io

import pytest
from django.core.management import call_command

from affiliates.models import Affiliate
from clients.models import Client
from kb.models import Article
from orders.models import Order
from support.models import Communication, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_every_area_once():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    assert "password:" in first.getvalue()
    counts = (
        Client.objects.count(),
        Order.objects.count(),
        Ticket.objects.count(),
        Communication.objects.count(),
        Article.objects.count(),
        Affiliate.objects.count(),
    )
    assert all(counts), counts
    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert "0 client(s)" in second.getvalue() and "already exists" in second.getvalue()
    assert counts == (
        Client.objects.count(),
        Order.objects.count(),
        Ticket.objects.count(),
        Communication.objects.count(),
        Article.objects.count(),
        Affiliate.objects.count(),
    )
