"""Seeding, one module per app; ``seed()`` runs them in dependency order, once."""

from __future__ import annotations

from benchmarks.config import N_CLIENTS, N_EVENTS
from benchmarks.seeds.affiliates import seed_affiliates
from benchmarks.seeds.audit import seed_events
from benchmarks.seeds.billing import seed_billing
from benchmarks.seeds.clients import seed_clients, seed_profiles, seed_staff
from benchmarks.seeds.hosting import seed_hosting
from benchmarks.seeds.kb import seed_kb
from benchmarks.seeds.orders import seed_orders
from benchmarks.seeds.support import seed_support


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from clients.models import Client, ClientEvent

    call_command("migrate", verbosity=0)
    if Client.objects.count() >= N_CLIENTS and ClientEvent.objects.count() >= N_EVENTS:
        print("Seed: reusing the existing benchmark data.")
        seed_profiles(get_user_model().objects.get(username="bench-staff-0").pk)
        seeded = seed_hosting()
        seeded = seed_billing() or seeded
        seeded = seed_orders() or seeded
        seeded = seed_support() or seeded
        seeded = seed_affiliates() or seeded
        seeded = seed_kb() or seeded
        if seeded:
            connection.cursor().execute("VACUUM ANALYZE")
        return
    staff = seed_staff()
    seed_clients()
    seed_events(staff)
    seed_profiles(staff[0])
    seed_hosting()
    seed_billing()
    seed_orders()
    seed_support()
    seed_affiliates()
    seed_kb()
    connection.cursor().execute("VACUUM ANALYZE")
