"""A demo affiliate for ``seed_demo`` (once): Grace Hopper refers Linus Torvalds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from affiliates import services
from affiliates.models import Affiliate
from clients.models import Client


def load_demo_affiliates(actor: Any) -> int:
    if Affiliate.objects.exists():
        return 0
    partner = Client.objects.filter(email="grace@cobol.example").first()
    referred = Client.objects.filter(email="linus@kernel.example").first()
    if partner is None or referred is None:
        return 0
    affiliate = services.enrol_affiliate(
        client=partner,
        actor=actor,
        commission_type="percentage",
        commission_value=Decimal("15"),
        notes="Recommends us to her consulting clients.",
    )
    services.add_referral(affiliate=affiliate, client=referred, actor=actor)
    services.add_commission(
        affiliate=affiliate,
        amount=Decimal("7.50"),
        reason="Referred Linus (first order)",
        actor=actor,
    )
    return 1
