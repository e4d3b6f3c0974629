"""What affiliates registers (``core/extension_points.py``): the client profile's Affiliate tab,
the sidebar's Affiliates section, and reversing the commissions of an invoice a refund empties
(billing says which refund)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from affiliates import services
from affiliates.models import Affiliate, Referral
from clients.models import Client
from core.extension_points import (
    ApprovalAction,
    InvoiceStatusChange,
    InvoiceStatusHandler,
    NavSection,
    ProfileTab,
    Reverter,
    register,
)


def _invoice_refunded(change: InvoiceStatusChange) -> None:
    services.reverse_for_refunded_invoice(
        invoice=change.invoice, refund=change.refund, actor=change.actor, reason=change.reason
    )


def _affiliate_tab(*, request: HttpRequest, user: Any, client: Client) -> dict[str, Any]:
    affiliate = Affiliate.objects.with_balances().filter(client=client).first()
    referred_by = (
        Referral.objects.filter(client=client, active=True).select_related("affiliate").first()
    )
    return {"affiliate": affiliate, "referred_by": referred_by}


register(
    InvoiceStatusHandler("affiliates.reverse_commissions", "refunded", _invoice_refunded),
    ProfileTab(
        "affiliate",
        "Affiliate",
        "affiliates.view_affiliate",
        "affiliates/includes/_tab_affiliate.html",
        _affiliate_tab,
    ),
    NavSection(
        "affiliates", "Affiliates", "affiliates:affiliate-list", "affiliates.view_affiliate"
    ),
)


# A payout above its threshold waits for a second person (approvals).
register(ApprovalAction("affiliates.record_payout", "Pay out an affiliate", services.record_payout))


def _instead_money(*, record: Any) -> tuple[str, str]:
    return (
        "Payouts and commissions move money: they are not reverted from the trail; record the "
        "correction on the affiliate's page, with a reason.",
        record.get_absolute_url(),
    )


# The trail's Revert (``audit/revert.py``) never sets money back.
register(
    Reverter("affiliates.payout", instead=_instead_money),
    Reverter("affiliates.commission", instead=_instead_money),
)
