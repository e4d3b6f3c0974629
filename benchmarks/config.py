"""The benchmark's scale, its own database and Django's set-up.

The scale below is the data the README's benchmark table is measured on; seeding is skipped
when the ``_bench`` database already holds it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")  # a local run; DEBUG's query log is disabled below
# The benchmark creates its own database and switches capture triggers off for its baselines:
# it connects as the schema owner, never as the app's role.
os.environ.setdefault("WHMCS_DB_AS_OWNER", "1")

N_CLIENTS = 100_000
N_EVENTS = 1_000_000
N_STAFF = 20
N_CONTEXTS = 50_000
N_SERVICES = 300_000
N_DOMAINS = 200_000
N_INVOICES = 1_000_000
N_TRANSACTIONS = 2_000_000
N_ORDERS = 500_000
N_TICKETS = 200_000
REPLIES_PER_TICKET = 10  # 2,000,000 replies
BUSY_TICKETS = 800  # the busy client's timeline: 800 tickets + 3,200 replies + 1,000 calls
BUSY_REPLIES = 4
BUSY_CALLS = 1_000
N_AFFILIATES = 2_000
BUSY_COMMISSIONS = 5_000  # the busy affiliate's ledger
N_ARTICLES = 100_000
BUSY_CLIENT_ID = 1
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Martin",
    "Garcia",
    "Muller",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Kowalski",
]
FIRST_NAMES = ["Ada", "Alan", "Grace", "Linus", "Tim", "Sophie", "Guido", "Anne", "Priya", "Carlos"]


def configure_database() -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    bench_name = f"{db['NAME']}_bench"
    import psycopg

    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [bench_name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{bench_name}"')
    db["NAME"] = bench_name


def setup_django() -> None:
    import django

    configure_database()
    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log growing across thousands of requests
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.ROOT_URLCONF = "benchmarks.urls"  # the project's URLs plus the floor views

    # The baseline for the audit feed: a plain admin changelist of the client event table.
    from django.contrib import admin

    from clients.models import ClientEvent

    if not admin.site.is_registered(ClientEvent):
        admin.site.register(
            ClientEvent,
            list_display=("pgh_created_at", "pgh_label", "pgh_obj", "email", "status"),
            list_filter=("pgh_label",),
        )


BENCH_DEVICE = "Benchmark authenticator"


def verified_session(session, user) -> None:
    """Mark a signed-in ``session`` as past the second factor, as the verify page does after a
    right code (``django_otp.login``), for a confirmed authenticator of ``user`` (made once).
    The product's middleware still runs on every request: its cost is in every figure."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    import audit.context
    from accounts.policy import second_factor_required

    if not second_factor_required(user):
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        with audit.context.context(action="benchmarks.enrol_second_factor", actor=user):
            device = TOTPDevice.objects.create(user=user, name=BENCH_DEVICE, confirmed=True)
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def login(http, user):
    """A logged-in test client past the second factor."""
    http.force_login(user)
    session = http.session
    verified_session(session, user)
    return http
