"""Starter departments (idempotent) and a little demo support activity for ``seed_demo``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from clients.models import Client
from core.roles import ADMIN, BILLING
from support import services
from support.models import Communication, Department, Ticket

DEPARTMENTS = [
    ("Technical support", "support@example-hosting.com", "Hosting, email, DNS and websites.", ()),
    ("Billing", "billing@example-hosting.com", "Invoices, payments and refunds.", (BILLING, ADMIN)),
    ("Sales", "sales@example-hosting.com", "Questions before buying, upgrades.", ()),
]


def load_departments() -> int:
    added = 0
    for order, (name, email, description, roles) in enumerate(DEPARTMENTS):
        department, created = Department.objects.get_or_create(
            name=name,
            defaults={"email": email, "description": description, "display_order": order},
        )
        if created:
            added += 1
            department.roles.set(Group.objects.filter(name__in=roles))
    return added


def load_demo_support(actor: Any) -> int:
    """Two tickets and a logged call with a follow-up, once."""
    load_departments()
    if Ticket.objects.exists():
        return 0
    customer = Client.objects.filter(email="ada@analytical.example").first()
    other = Client.objects.filter(email="linus@kernel.example").first()
    if customer is None or other is None:
        return 0
    technical = Department.objects.get(name="Technical support")
    ticket = services.open_ticket(
        department=technical,
        client=customer,
        subject="Email bouncing for info@ address",
        message="Mail sent to info@analytical.example bounces with 'mailbox full'.",
        priority="high",
        private_note="Quota raised once already last month.",
        suppress_email=True,
        actor=actor,
    )
    for kind, message in (
        ("staff", "We have raised the mailbox quota to 10 GB; please try again."),
        ("client", "Works now, thank you! (by phone)"),
    ):
        services.add_reply(ticket=ticket, kind=kind, message=message, send_email=False, actor=actor)
    services.open_ticket(
        department=technical,
        client=other,
        subject="SSL certificate renewal",
        message="The certificate for kernel.example expires next week.",
        assignee=get_user_model().objects.filter(username="demo-support").first(),
        suppress_email=True,
        actor=actor,
    )
    services.log_communication(
        client=customer,
        data={
            "channel": Communication.Channel.PHONE,
            "direction": Communication.Direction.INBOUND,
            "occurred_at": timezone.now() - dt.timedelta(hours=2),
            "duration_minutes": 6,
            "summary": "Ada asked whether a bigger plan would avoid mailbox quota problems.",
            "outcome": Communication.Outcome.FOLLOW_UP,
            "follow_up_on": timezone.localdate(),
            "follow_up_owner": actor,
            "ticket": ticket,
        },
        actor=actor,
    )
    return 2
