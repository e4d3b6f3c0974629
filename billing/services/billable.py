"""Billable items: one-off charges queued for the client's next invoice (or invoiced at once),
and the invoice line for one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit.context
from billing.models import BillableItem, InvoiceItem
from billing.services._shared import _lock_client
from billing.services.invoices import create_invoice, publish_invoice
from billing.services.lines import LineData
from clients.models import Client
from core.rules import require_same_client


@transaction.atomic
def add_billable_item(
    *,
    client: Client,
    description: str,
    unit_price: Decimal,
    quantity: Decimal = Decimal(1),
    taxed: bool = True,
    service: Any = None,
    invoice_now: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> BillableItem:
    """Queue a one-off charge for the client's next invoice, or invoice it at once."""
    client = _lock_client(client)
    require_same_client(
        client,
        service,
        field="service",
        message="That hosting account belongs to another client.",
    )
    with audit.context.context(action="billing.add_billable_item", reason=reason, actor=actor):
        item = BillableItem(
            client=client,
            description=description.strip(),
            quantity=quantity,
            unit_price=unit_price,
            taxed=taxed,
            service=service,
        )
        item.full_clean()
        item.save()
    if invoice_now:
        today = timezone.localdate()
        invoice = create_invoice(
            client=client,
            lines=[line_for_billable(item)],
            issue_date=today,
            due_date=today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            actor=actor,
            reason=reason,
        )
        publish_invoice(invoice=invoice, actor=actor, reason=reason)
        item.refresh_from_db()
    return item


@transaction.atomic
def remove_billable_item(
    *, item: BillableItem, actor: AbstractBaseUser | None, reason: str = ""
) -> None:
    item = BillableItem.objects.select_for_update().get(pk=item.pk)
    if item.invoice_item_id is not None:
        raise ValidationError(
            "This charge is on an invoice; remove it from the draft instead.",
            code="already_invoiced",
        )
    with audit.context.context(action="billing.remove_billable_item", reason=reason, actor=actor):
        item.delete()


def line_for_billable(item: BillableItem) -> LineData:
    return LineData(
        description=item.description,
        quantity=item.quantity,
        unit_price=item.unit_price,
        taxed=item.taxed,
        kind=InvoiceItem.Kind.BILLABLE,
        billable_item=item,
    )
