from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.management.base import AuditedCommand
from billing import services as billing
from clients.models import Client
from clients.services import create_client
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from demo.affiliates import load_demo_affiliates
from demo.billing import load_billing_defaults
from demo.hosting import load_starter_catalog
from demo.kb import load_demo_kb
from demo.orders import load_demo_orders
from demo.support import load_demo_support

DEMO_ADMIN = "demo-admin"
DEMO_STAFF = {"demo-billing": BILLING, "demo-support": SUPPORT, "demo-readonly": READ_ONLY}

DEMO_CLIENTS = [
    (
        "Ada",
        "Lovelace",
        "Analytical Engines Ltd",
        "ada@analytical.example",
        "+442079460001",
        "GB",
        "London",
    ),
    ("Linus", "Torvalds", "", "linus@kernel.example", "+15035550100", "US", "Portland"),
    (
        "Grace",
        "Hopper",
        "Cobol Consulting",
        "grace@cobol.example",
        "+12025550111",
        "US",
        "Arlington",
    ),
    (
        "Margaret",
        "Hamilton",
        "Apollo Software",
        "margaret@apollo.example",
        "+16175550123",
        "US",
        "Boston",
    ),
    ("Tim", "Berners-Lee", "Web Foundation", "tim@w3.example", "+442079460002", "GB", "London"),
    ("Sophie", "Wilson", "ARM Designs", "sophie@arm.example", "+441223555010", "GB", "Cambridge"),
    ("Guido", "van Rossum", "", "guido@python.example", "+31205550199", "NL", "Amsterdam"),
    (
        "Anne",
        "Dupont",
        "Hébergement Dupont SARL",
        "anne@dupont.example",
        "+33155550123",
        "FR",
        "Paris",
    ),
    (
        "Jürgen",
        "Schmidt",
        "Schmidt Webdesign GmbH",
        "juergen@schmidt.example",
        "+49305550123",
        "DE",
        "Berlin",
    ),
    ("Aiko", "Tanaka", "Tanaka Hosting KK", "aiko@tanaka.example", "+81355550123", "JP", "Tokyo"),
    ("Carlos", "García", "Diseños García", "carlos@garcia.example", "+34915550123", "ES", "Madrid"),
    ("Priya", "Sharma", "Sharma Digital", "priya@sharma.example", "+912255550123", "IN", "Mumbai"),
]


class Command(AuditedCommand):
    help = "Load demo data (idempotent) and create the demo staff accounts."

    def _demo_invoices(self) -> int:
        """A paid, a part-paid and a draft invoice for the first demo clients without any."""
        today = timezone.localdate()
        made = 0
        for email in ("ada@analytical.example", "tim@w3.example", "anne@dupont.example"):
            client = Client.objects.filter(email__iexact=email).first()
            if client is None or client.invoices.exists():
                continue
            lines = [
                billing.LineData(
                    "Web hosting - Business plan (12 months)", Decimal(1), Decimal("120.00")
                ),
                billing.LineData("Website migration (hours)", Decimal("1.5"), Decimal("45.00")),
            ]
            for state in ("paid", "part-paid", "draft"):
                invoice = billing.create_invoice(
                    client=client,
                    lines=lines,
                    issue_date=today - dt.timedelta(days=20),
                    due_date=today - dt.timedelta(days=6),
                    public_notes="Thank you for your business.",
                    actor=None,
                    reason="demo data",
                )
                made += 1
                if state == "draft":
                    continue
                invoice = billing.publish_invoice(invoice=invoice, actor=None)
                billing.record_payment(
                    client=client,
                    allocations=[(invoice, None)],
                    amount=None if state == "paid" else Decimal("50.00"),
                    gateway="bank_transfer",
                    transaction_id=f"DEMO-{invoice.pk}",
                    date=timezone.now(),
                    actor=None,
                )
        return made

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        created_admin_password = None
        if not user_model.objects.filter(username=DEMO_ADMIN).exists():
            created_admin_password = secrets.token_urlsafe(12)
            admin = user_model.objects.create_user(
                username=DEMO_ADMIN,
                email="admin@example.com",
                password=created_admin_password,
                is_staff=True,
                is_superuser=True,
                first_name="Demo",
                last_name="Admin",
            )
            admin.groups.add(Group.objects.get(name=ADMIN))
        for username, role in DEMO_STAFF.items():
            if not user_model.objects.filter(username=username).exists():
                # No usable password: an Admin sets one from the Django admin when needed.
                user = user_model.objects.create_user(username=username, is_staff=True)
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.groups.add(Group.objects.get(name=role))

        load_starter_catalog()
        added = 0
        for first, last, company, email, phone, country, city in DEMO_CLIENTS:
            if Client.objects.filter(email__iexact=email).exists():
                continue
            create_client(
                data={
                    "first_name": first,
                    "last_name": last,
                    "company_name": company,
                    "email": email,
                    "phone": phone,
                    "country": country,
                    "city": city,
                    "source": Client.Source.MIGRATION,
                },
                actor=None,
                reason="demo data",
            )
            added += 1
        load_billing_defaults()
        invoices = self._demo_invoices()
        orders = load_demo_orders()
        demo_admin = user_model.objects.get(username=DEMO_ADMIN)
        tickets = load_demo_support(demo_admin)
        articles = load_demo_kb(demo_admin)
        affiliates = load_demo_affiliates(demo_admin)
        self.stdout.write(
            f"Demo data: {added} client(s), {invoices} invoice(s), {orders} order(s), "
            f"{tickets} ticket(s), {articles} knowledgebase article(s) and {affiliates} "
            "affiliate(s) added."
        )
        if created_admin_password:
            self.stdout.write(self.style.SUCCESS("Demo staff admin created. Log in with:"))
            self.stdout.write(f"    username: {DEMO_ADMIN}")
            self.stdout.write(f"    password: {created_admin_password}")
            self.stdout.write("This password is shown once. Change it with:")
            self.stdout.write(
                f"    DJANGO_DEBUG=1 .venv/bin/python manage.py changepassword {DEMO_ADMIN}"
            )
        else:
            self.stdout.write(
                f"Demo staff admin '{DEMO_ADMIN}' already exists (its password was printed when "
                f"it was created; reset it with `DJANGO_DEBUG=1 .venv/bin/python manage.py "
                f"changepassword {DEMO_ADMIN}`)."
            )
        self.stdout.write(
            "Admins sign in with a second factor: at the first login the app shows a QR code to "
            "scan with an authenticator app (FreeOTP, Aegis, Google Authenticator…), then 10 "
            "recovery codes. Lost it? `DJANGO_DEBUG=1 .venv/bin/python manage.py "
            f'reset_second_factor {DEMO_ADMIN} --reason "lost phone"`.'
        )
