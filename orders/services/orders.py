"""Manual orders: placing one (Pending, or accepted at once), accepting it (its accounts,
domains, add-ons and one invoice, in one transaction, or nothing), cancelling it or flagging it as
fraud.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import audit.context
from billing import services as billing
from billing.models import Invoice, InvoiceItem
from clients.models import Client, EmailLog
from core.emails import render_text
from core.rules import can_transition, require_reason, require_transition
from hosting import crypto
from hosting import services as hosting
from hosting.models import Domain
from orders.models import Order, OrderLine, Promotion
from orders.pricing import (
    ITEM_STATUSES,
    AddonLineData,
    DomainLineData,
    OrderPlan,
    PricedLine,
    ProductLineData,
    _invoice_lines,
    plan_order,
)


def _send_confirmation(order: Order, actor: AbstractBaseUser | None) -> EmailLog:
    from clients.outbox import queue_email

    lines = list(order.lines.order_by("position"))
    body = render_text(
        "orders/emails/order_confirmation.txt",
        {"order": order, "lines": lines, "client": order.client, "company": settings.COMPANY_NAME},
    )
    with audit.context.context(action="orders.send_confirmation", actor=actor):
        return queue_email(
            client=order.client,
            kind=EmailLog.Kind.ORDER,
            to=[order.client.email],
            subject=f"Your order #{order.pk}",
            body=body,
            actor=actor,
        )


@transaction.atomic
def place_order(
    *,
    client: Client,
    products: Sequence[ProductLineData] = (),
    domains: Sequence[DomainLineData] = (),
    addons: Sequence[AddonLineData] = (),
    promotion_code: str = "",
    payment_method: str = "",
    accept: bool = False,
    item_status: str = "pending",
    generate_invoice: bool = True,
    send_invoice_email: bool = True,
    send_confirmation: bool = True,
    admin_notes: str = "",
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Order:
    """Store an order (Pending), or store and accept it at once (``accept``)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.status == Client.Status.CLOSED:
        raise ValidationError("A closed client cannot order.", code="client_closed")
    if payment_method and payment_method not in dict(billing.gateway_choices()):
        raise ValidationError(
            {"payment_method": ValidationError("Unknown payment method.", code="unknown_gateway")}
        )
    plan = plan_order(
        client=client,
        products=products,
        domains=domains,
        addons=addons,
        promotion_code=promotion_code,
        item_status=item_status,
        lock_promotion=True,
    )
    if plan.needs_reason:
        require_reason(reason, "Say why a price differs from the catalog.")
    with audit.context.context(action="orders.place_order", reason=reason, actor=actor):
        order = Order(
            client=client,
            currency=client.currency,
            payment_method=payment_method,
            promotion=plan.promotion,
            promotion_code=plan.promotion.code if plan.promotion else "",
            send_confirmation=send_confirmation,
            generate_invoice=generate_invoice,
            send_invoice_email=send_invoice_email,
            item_status=item_status,
            first_payment_total=plan.first_payment_total,
            price_override_reason=reason.strip() if plan.needs_reason else "",
            admin_notes=admin_notes.strip(),
            placed_by=actor if actor is not None and actor.pk else None,
        )
        order.full_clean()
        order.save()
        if plan.promotion is not None:
            Promotion.objects.filter(pk=plan.promotion.pk).update(uses=F("uses") + 1)
        _store_lines(order, plan)
    if send_confirmation:
        _send_confirmation(order, actor)
    if accept:
        order = accept_order(order=order, actor=actor, reason=reason)
    return order


def _store_lines(order: Order, plan: OrderPlan) -> None:
    stored: list[OrderLine] = []
    for position, line in enumerate(plan.lines):
        data = line.data
        row = OrderLine(
            order=order,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            quantity=line.quantity,
            billing_cycle=line.billing_cycle,
            setup_fee=line.setup_fee,
            first_period_amount=line.first_period_amount,
            discount=line.discount,
            recurring_amount=line.recurring_amount,
            price_overridden=line.price_overridden,
        )
        if line.kind == OrderLine.Kind.PRODUCT:
            row.product, row.server, row.hostname = data.product, data.server, line.ascii_name
        elif line.kind == OrderLine.Kind.DOMAIN:
            row.domain_name, row.domain_order_type = line.ascii_name, data.order_type
            row.period_years, row.nameservers = data.period_years, line.nameservers
            row.id_protection, row.dns_management = data.id_protection, data.dns_management
            row.epp_code = crypto.encrypt(data.epp_code.strip()) if data.epp_code.strip() else ""
        else:
            row.addon_definition, row.addon_name = data.definition, data.name.strip()
            row.target_service = data.service
        if line.parent_index is not None:
            row.parent = stored[line.parent_index]
        row.full_clean(exclude=["order", "parent"])
        row.save()
        stored.append(row)


def _create_records(order: Order, item_status: str, actor: Any, reason: str) -> list:
    """The accounts, domains and add-ons of an order's lines; a refusal names its line."""
    today = timezone.localdate()
    invoice_lines: list[billing.LineData] = []
    lines = list(order.lines.select_related("product", "addon_definition").order_by("position"))
    by_id = {line.pk: line for line in lines}
    code = order.promotion_code
    why = reason or f"Order #{order.pk}" + (f", promotion {code}" if code else "")
    for line in lines:
        try:
            if line.kind == OrderLine.Kind.PRODUCT:
                line.service = hosting.create_service(
                    client=order.client,
                    data={
                        "product": line.product,
                        "server": line.server,
                        "domain": line.hostname,
                        "registration_date": today,
                        "billing_cycle": line.billing_cycle,
                        "quantity": line.quantity,
                        "first_payment_amount": line.first_payment,
                        "recurring_amount": line.recurring_amount,
                        "payment_method": order.payment_method,
                    },
                    actor=actor,
                    reason=why,
                    status=item_status,
                )
            elif line.kind == OrderLine.Kind.DOMAIN:
                # Checked when ordering; someone may have activated it elsewhere since.
                taken = Domain.objects.filter(name=line.domain_name, status=Domain.Status.ACTIVE)
                if taken.exists():
                    raise ValidationError(
                        "This domain is already active on another record.",
                        code="domain_active_elsewhere",
                    )
                line.domain = hosting.create_domain(
                    client=order.client,
                    data={
                        "name": line.domain_name,
                        "service": by_id[line.parent_id].service if line.parent_id else None,
                        "order_type": line.domain_order_type,
                        "period_years": line.period_years,
                        "registration_date": today,
                        "first_payment_amount": line.first_payment,
                        "recurring_amount": line.recurring_amount,
                        "nameservers": line.nameservers,
                        "dns_management": line.dns_management,
                        "id_protection": line.id_protection,
                    },
                    actor=actor,
                    reason=why,
                    epp_code=crypto.decrypt(line.epp_code) if line.epp_code else "",
                    status=item_status,
                )
            else:
                target = by_id[line.parent_id].service if line.parent_id else line.target_service
                line.addon = hosting.add_addon(
                    service=target,
                    data={
                        "definition": line.addon_definition,
                        "name": line.addon_name,
                        "setup_fee": line.setup_fee,
                        "recurring_price": line.recurring_amount,
                        "billing_cycle": line.billing_cycle,
                    },
                    actor=actor,
                    reason=why,
                    status=item_status,
                )
        except ValidationError as exc:
            raise ValidationError(
                "Line %(n)s (%(line)s): %(problem)s",
                code=getattr(exc, "code", None) or "line_refused",
                params={"n": line.position + 1, "line": line, "problem": " ".join(exc.messages)},
            ) from exc
        line.save(update_fields=["service", "domain", "addon"])
        invoice_lines += _invoice_lines_for(line, code, today)
    return invoice_lines


def _invoice_lines_for(line: OrderLine, code: str, today: dt.date) -> list[billing.LineData]:
    link = {"service": line.service, "domain": line.domain, "addon": line.addon}
    priced = PricedLine(
        kind=line.kind,
        description=line.description,
        unit_price=line.first_period_amount / line.quantity,
        quantity=line.quantity,
        setup_fee=line.setup_fee,
        discount=line.discount,
        billing_cycle=line.billing_cycle,
    )
    rows = _invoice_lines([priced], code, today)
    for row in rows:
        if row.kind != InvoiceItem.Kind.MANUAL:
            row.service, row.domain, row.addon = link["service"], link["domain"], link["addon"]
    return rows


@transaction.atomic
def accept_order(
    *,
    order: Order,
    actor: AbstractBaseUser | None,
    reason: str = "",
    item_status: str | None = None,
    generate_invoice: bool | None = None,
    send_invoice_email: bool | None = None,
) -> Order:
    """Create everything the order is for and its one invoice, or nothing at all."""
    order = Order.objects.select_for_update().select_related("client").get(pk=order.pk)
    if order.status != Order.Status.PENDING:
        raise ValidationError(
            "Only a pending order can be accepted; this one is %(status)s.",
            code="not_pending",
            params={"status": order.get_status_display().lower()},
        )
    item_status = item_status or order.item_status
    if item_status not in ITEM_STATUSES:
        raise ValidationError(
            {"item_status": ValidationError("Pending or active.", code="bad_status")}
        )
    generate = order.generate_invoice if generate_invoice is None else generate_invoice
    email = order.send_invoice_email if send_invoice_email is None else send_invoice_email
    invoice_lines = _create_records(order, item_status, actor, reason)
    invoice = None
    if generate:
        today = timezone.localdate()
        invoice = billing.create_invoice(
            client=order.client,
            lines=invoice_lines,
            issue_date=today,
            due_date=today,
            public_notes=f"Order #{order.pk}",
            actor=actor,
            reason=reason,
        )
        invoice = billing.publish_invoice(invoice=invoice, actor=actor, send_email=email)
    with audit.context.context(action="orders.accept_order", reason=reason, actor=actor):
        order.status = Order.Status.ACTIVE
        order.item_status, order.generate_invoice = item_status, generate
        order.send_invoice_email = email
        order.invoice = invoice
        order.accepted_at = timezone.now()
        order.accepted_by = actor if actor is not None and actor.pk else None
        order.full_clean()
        order.save()
    return order


def _cancel_records(order: Order, status: str, actor: Any, reason: str) -> None:
    lines = order.lines.select_related("service", "domain", "addon").order_by("position")
    for line in lines:
        for record, service_fn in (
            (line.addon, hosting.change_addon_status),
            (line.domain, hosting.change_domain_status),
            (line.service, hosting.change_service_status),
        ):
            if record is None:
                continue
            target = status if can_transition(record, status) else Order.Status.CANCELLED
            if not can_transition(record, target):
                continue  # already cancelled, terminated, ...: nothing to undo
            kwarg = {
                hosting.change_addon_status: "addon",
                hosting.change_domain_status: "domain",
                hosting.change_service_status: "service",
            }[service_fn]
            service_fn(**{kwarg: record}, new_status=target, actor=actor, reason=reason)


@transaction.atomic
def change_order_status(
    *,
    order: Order,
    status: str,
    actor: AbstractBaseUser | None,
    reason: str,
    cancel_records: bool = False,
    cancel_invoice: bool = False,
) -> Order:
    """Cancel an order or flag it as fraud, with a reason. For an accepted order, staff say
    whether its accounts, domains and add-ons are cancelled (or flagged) too, and whether its
    invoice is cancelled (money already paid on it goes to the client's credit)."""
    order = Order.objects.select_for_update().select_related("client").get(pk=order.pk)
    if status == Order.Status.ACTIVE:
        raise ValidationError("Accept the order to make it active.", code="use_accept")
    require_transition(order, status, noun="order")
    require_reason(reason, "Say why the order status changes.")
    if order.is_accepted and cancel_records:
        _cancel_records(order, status, actor, reason)
    if order.is_accepted and cancel_invoice and order.invoice_id:
        invoice = Invoice.objects.get(pk=order.invoice_id)
        if invoice.status not in Invoice.PAYABLE:
            raise ValidationError(
                "The order's invoice is %(status)s: it cannot be cancelled. Refund its payments "
                "instead, or leave it.",
                code="invoice_not_cancellable",
                params={"status": invoice.get_status_display().lower()},
            )
        billing.change_invoice_status(
            invoice=invoice,
            status=Invoice.Status.CANCELLED,
            actor=actor,
            reason=reason,
            paid_to_credit=True,
        )
    with audit.context.context(action=f"orders.order_{status}", reason=reason, actor=actor):
        if not order.is_accepted and order.promotion_id and order.status == Order.Status.PENDING:
            # Never used: the promotion gets its use back.
            Promotion.objects.filter(pk=order.promotion_id, uses__gt=0).update(uses=F("uses") - 1)
        order.status = status
        order.status_reason = reason.strip()
        order.full_clean()
        order.save(update_fields=["status", "status_reason", "updated_at"])
    return order
