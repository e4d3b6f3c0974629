"""What affiliates adds elsewhere: the client profile's Affiliate tab, and reversing the
commissions of an invoice that billing reports refunded."""

from __future__ import annotations

from typing import Any

from affiliates import services
from affiliates.models import Affiliate, Referral
from billing.services import register_invoice_handler
from clients.models import Client
from clients.profile import ProfileTab, register_tab

register_invoice_handler("refunded", services.reverse_for_refunded_invoice)


def _affiliate_tab(request: Any, client: Client) -> dict[str, Any]:
    affiliate = Affiliate.objects.with_balances().filter(client=client).first()
    referred_by = (
        Referral.objects.filter(client=client, active=True).select_related("affiliate").first()
    )
    return {"affiliate": affiliate, "referred_by": referred_by}


register_tab(
    ProfileTab(
        "affiliate",
        "Affiliate",
        "affiliates.view_affiliate",
        "affiliates/includes/_tab_affiliate.html",
        _affiliate_tab,
        60,
    )
)
