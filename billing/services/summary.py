"""The client's billing figures (invoiced, paid, due, overdue, credit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from billing.models import ZERO, Invoice
from billing.services.credit import credit_balance
from clients.models import Client


def summary_for(client: Client) -> Mapping[str, Any]:
    """The client's billing figures in two queries (invoices, credit)."""
    from django.db.models import Count

    today = timezone.localdate()
    payable = Q(status__in=Invoice.PAYABLE)
    published = ~Q(status=Invoice.Status.DRAFT)
    figures = (
        Invoice.objects.filter(client=client)
        .with_balance_due()
        .aggregate(
            invoiced=Sum("total", filter=~Q(status__in=["draft", "cancelled"])),
            paid=Sum("amount_paid"),
            due=Sum("owed", filter=published),
            overdue=Sum("owed", filter=published & Q(due_date__lt=today)),
            unpaid_count=Count("id", filter=payable),
            draft_count=Count("id", filter=Q(status="draft")),
        )
    )
    return {
        **{k: v or (ZERO if not k.endswith("count") else 0) for k, v in figures.items()},
        "credit": credit_balance(client),
        "currency": client.currency,
    }
