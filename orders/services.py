"""Manual orders, promotions, upgrades/downgrades and cancellations.

Orders are priced once (``plan_order``), and what the preview shows is what placing the order
stores: the same plan. Accepting an order creates the hosting accounts, domains and add-ons
through ``hosting.services`` and one invoice through ``billing.services``, in one transaction;
any refusal rolls all of it back. Product changes are prorated by ``orders.proration`` and
kept as ``ServiceChange`` rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

import audit.context
from billing import services as billing
from billing.models import Invoice, InvoiceItem
from billing.totals import HUNDRED, Line, Totals, compute_totals, money
from clients.models import Client, EmailLog
from core.emails import render_text
from core.rules import (
    Refusal,
    belongs_to_client,
    can_transition,
    integrity_errors,
    require_reason,
    require_transition,
)
from hosting import crypto
from hosting import services as hosting
from hosting.domains import to_ascii, to_unicode, validate_domain_name
from hosting.models import (
    CYCLE_MONTHS,
    Addon,
    AddonDefinition,
    AddonPrice,
    BillingCycle,
    Domain,
    Product,
    ProductPrice,
    Server,
    Service,
    Tld,
    add_months,
)
from orders.models import Order, OrderLine, Promotion, ServiceChange
from orders.proration import Proration, prorate

ZERO = Decimal("0.00")
MAX_ORDER_LINES = 50
ITEM_STATUSES = ("pending", "active")


def _line_error(group: str, index: int, name: str, message: str, code: str) -> ValidationError:
    """An error about one field of one order line: keyed ``products.0.price`` so that the page
    shows it next to that field."""
    return ValidationError({f"{group}.{index}.{name}": ValidationError(message, code=code)})


def _period_text(start: dt.date, cycle: str) -> str:
    months = CYCLE_MONTHS[BillingCycle(cycle)]
    if not months:
        return ""
    end = add_months(start, months) - dt.timedelta(days=1)
    return f" ({start:%d/%m/%Y} - {end:%d/%m/%Y})"


# What staff enter ---------------------------------------------------------------------------


@dataclass
class ProductLineData:
    product: Product
    billing_cycle: str
    quantity: int = 1
    hostname: str = ""
    server: Server | None = None
    price: Decimal | None = None  # recurring price per unit, overriding the catalog


@dataclass
class DomainLineData:
    name: str
    order_type: str = Domain.OrderType.REGISTER
    period_years: int = 1
    epp_code: str = ""
    nameservers: list[str] = field(default_factory=list)
    id_protection: bool = False
    dns_management: bool = False
    price: Decimal | None = None  # registration or transfer price, overriding the catalog


@dataclass
class AddonLineData:
    definition: AddonDefinition | None = None
    name: str = ""
    billing_cycle: str = BillingCycle.MONTHLY
    for_line: int | None = None  # index of a product line of this order
    service: Service | None = None  # or an existing account of the client
    price: Decimal | None = None  # recurring price, overriding the catalog
    setup_fee: Decimal | None = None


# What the order comes to --------------------------------------------------------------------


@dataclass
class PricedLine:
    kind: str
    description: str
    unit_price: Decimal
    quantity: int = 1
    setup_fee: Decimal = ZERO
    discount: Decimal = ZERO
    recurring_amount: Decimal = ZERO
    price_overridden: bool = False
    billing_cycle: str = ""
    data: Any = None
    ascii_name: str = ""
    tld: Tld | None = None
    nameservers: list[str] = field(default_factory=list)
    parent_index: int | None = None  # addon or domain: index of its product line

    @property
    def first_period_amount(self) -> Decimal:
        return money(self.unit_price * self.quantity)

    @property
    def first_payment(self) -> Decimal:
        return self.setup_fee + self.first_period_amount - self.discount


@dataclass
class OrderPlan:
    client: Client
    lines: list[PricedLine]
    promotion: Promotion | None
    invoice_lines: list[billing.LineData]
    totals: Totals
    rates: Any
    creates: list[str]
    emails: list[str]
    needs_reason: bool

    @property
    def first_payment_total(self) -> Decimal:
        return sum((line.first_payment for line in self.lines), ZERO)


def _promotion_refused(message: str, code: str) -> ValidationError:
    return ValidationError({"promotion_code": ValidationError(message, code=code)})


def _promotion(code: str, client: Client, today: dt.date, *, lock: bool) -> Promotion | None:
    if not code.strip():
        return None
    rows = Promotion.objects.select_for_update() if lock else Promotion.objects.all()
    promotion = rows.filter(code=code.strip().upper()).first()
    if promotion is None or not promotion.active:
        raise _promotion_refused(
            "There is no active promotion with this code.", "promotion_unknown"
        )
    if promotion.start_date and today < promotion.start_date:
        raise _promotion_refused("This promotion has not started yet.", "promotion_not_started")
    if promotion.end_date and today > promotion.end_date:
        raise _promotion_refused("This promotion has ended.", "promotion_ended")
    if promotion.max_uses and promotion.uses >= promotion.max_uses:
        raise _promotion_refused("This promotion has been used up.", "promotion_used_up")
    if promotion.kind == Promotion.Kind.FIXED and promotion.currency != client.currency:
        raise _promotion_refused(
            "This promotion is for clients in another currency.", "promotion_currency"
        )
    return promotion


def _discount(promotion: Promotion | None, line: PricedLine, product: Product) -> Decimal:
    if promotion is None or line.price_overridden:
        return ZERO
    product_ids = {p.pk for p in promotion.products.all()}
    if product_ids and product.pk not in product_ids:
        return ZERO
    if promotion.cycles and line.billing_cycle not in promotion.cycles:
        return ZERO
    if promotion.kind == Promotion.Kind.PERCENT:
        off = money(line.first_period_amount * promotion.value / HUNDRED)
    else:
        off = money(promotion.value * line.quantity)
    return min(off, line.first_period_amount)


def _price_product(index: int, data: ProductLineData, client: Client, promotion: Any):
    group = "products"
    product = data.product
    if product.retired:
        raise _line_error(group, index, "product", "This product is retired.", "product_retired")
    if data.billing_cycle not in BillingCycle.values:
        raise _line_error(group, index, "billing_cycle", "Choose a billing cycle.", "bad_cycle")
    if not 1 <= data.quantity <= 1000:
        raise _line_error(group, index, "quantity", "Order 1 to 1000.", "bad_quantity")
    if data.server is not None and not data.server.active:
        raise _line_error(group, index, "server", "This server is not active.", "server_inactive")
    hostname = ""
    if data.hostname.strip():
        try:
            hostname = to_ascii(data.hostname)
        except ValidationError as exc:
            raise _line_error(group, index, "hostname", exc.messages[0], "bad_hostname") from exc
    catalog = ProductPrice.objects.filter(
        product=product, currency=client.currency, cycle=data.billing_cycle
    ).first()
    if data.price is None and catalog is None:
        raise _line_error(
            group,
            index,
            "price",
            f"{product} has no {BillingCycle(data.billing_cycle).label.lower()} price in "
            f"{client.currency}: enter a price.",
            "no_catalog_price",
        )
    if data.price is not None and data.price < 0:
        raise _line_error(group, index, "price", "A price cannot be negative.", "negative")
    unit = data.price if data.price is not None else catalog.price
    name = f"{product.name}{' - ' + to_unicode(hostname) if hostname else ''}"
    line = PricedLine(
        kind=OrderLine.Kind.PRODUCT,
        description=name,
        unit_price=unit,
        quantity=data.quantity,
        setup_fee=catalog.setup_fee if catalog else ZERO,
        price_overridden=data.price is not None
        and (catalog is None or data.price != catalog.price),
        billing_cycle=data.billing_cycle,
        data=data,
        ascii_name=hostname,
    )
    line.discount = _discount(promotion, line, product)
    recurring = line.first_period_amount
    if promotion is not None and promotion.recurring and line.discount:
        recurring -= line.discount
    line.recurring_amount = recurring
    return line


def _price_domain(index: int, data: DomainLineData, client: Client, seen: set[str]):
    group = "domains"
    try:
        ascii_name, suffix = validate_domain_name(data.name, sold_tlds=hosting.sold_tlds())
    except ValidationError as exc:
        raise _line_error(group, index, "name", exc.messages[0], "bad_domain") from exc
    if ascii_name in seen:
        raise _line_error(group, index, "name", "This domain is ordered twice.", "domain_twice")
    seen.add(ascii_name)
    if Domain.objects.filter(name=ascii_name, status=Domain.Status.ACTIVE).exists():
        raise _line_error(
            group,
            index,
            "name",
            "This domain is already active on another record.",
            "domain_active_elsewhere",
        )
    if data.order_type not in (Domain.OrderType.REGISTER, Domain.OrderType.TRANSFER):
        raise _line_error(group, index, "order_type", "Register or transfer.", "bad_order_type")
    if data.order_type == Domain.OrderType.TRANSFER and not data.epp_code.strip():
        raise _line_error(
            group, index, "epp_code", "A transfer needs the EPP code.", "epp_required"
        )
    try:
        crypto.validate_secret_length(data.epp_code.strip())
    except ValidationError as exc:
        raise _line_error(group, index, "epp_code", exc.messages[0], exc.code) from exc
    if not 1 <= int(data.period_years or 0) <= 10:
        raise _line_error(
            group, index, "period_years", "Register for 1 to 10 years.", "period_range"
        )
    try:
        nameservers = hosting.clean_nameservers(
            data.nameservers or list(settings.DEFAULT_NAMESERVERS)
        )
    except ValidationError as exc:
        raise _line_error(group, index, "nameservers", exc.messages[0], exc.code) from exc
    tld = Tld.objects.get(name=suffix)
    catalog = hosting.domain_catalog_amounts(
        tld=tld, currency=client.currency, years=data.period_years, order_type=data.order_type
    )
    if data.price is None and catalog is None:
        raise _line_error(
            group,
            index,
            "price",
            f"No price for .{suffix} over {data.period_years} year(s) in {client.currency}: "
            "enter a price.",
            "no_catalog_price",
        )
    if data.price is not None and data.price < 0:
        raise _line_error(group, index, "price", "A price cannot be negative.", "negative")
    first = data.price if data.price is not None else catalog[0]
    verb = "registration" if data.order_type == Domain.OrderType.REGISTER else "transfer"
    years = data.period_years
    return PricedLine(
        kind=OrderLine.Kind.DOMAIN,
        description=f"Domain {verb} - {to_unicode(ascii_name)} - {years} year{'s' * (years > 1)}",
        unit_price=first,
        recurring_amount=catalog[1] if catalog else first,
        price_overridden=data.price is not None and (catalog is None or data.price != catalog[0]),
        data=data,
        ascii_name=ascii_name,
        tld=tld,
        nameservers=nameservers,
    )


def _price_addon(
    index: int, data: AddonLineData, client: Client, products: list[PricedLine]
) -> PricedLine:
    group = "addons"
    if (data.for_line is None) == (data.service is None):
        raise _line_error(
            group, index, "target", "Choose the hosting account it is for.", "target_required"
        )
    if data.for_line is not None:
        if not 0 <= data.for_line < len(products):
            raise _line_error(
                group, index, "target", "That product line is not on the order.", "bad_target"
            )
        product = products[data.for_line].data.product
        on = products[data.for_line].description
    else:
        if not belongs_to_client(data.service, client):
            raise _line_error(
                group, index, "target", "That account belongs to another client.", "wrong_client"
            )
        if data.service.status not in (Service.Status.PENDING, Service.Status.ACTIVE):
            raise _line_error(
                group, index, "target", "That account is not pending or active.", "bad_target"
            )
        product, on = data.service.product, str(data.service)
    definition = data.definition
    if definition is None and not data.name.strip():
        raise _line_error(
            group, index, "definition", "Choose an add-on or give a custom name.", "addon_named"
        )
    catalog = None
    if definition is not None:
        if not definition.active:
            raise _line_error(
                group, index, "definition", "This add-on is not sold any more.", "addon_inactive"
            )
        if not definition.products.filter(pk=product.pk).exists():
            raise _line_error(
                group,
                index,
                "definition",
                f"{definition} does not apply to {product}.",
                "addon_not_for_product",
            )
        price = AddonPrice.objects.filter(
            addon=definition, currency=client.currency, cycle=data.billing_cycle
        ).first()
        catalog = (price.setup_fee, price.price) if price else None
    if data.price is None and catalog is None:
        raise _line_error(
            group,
            index,
            "price",
            "No catalog price for this cycle: enter a price.",
            "no_catalog_price",
        )
    for value in (data.price, data.setup_fee):
        if value is not None and value < 0:
            raise _line_error(group, index, "price", "A price cannot be negative.", "negative")
    setup = data.setup_fee if data.setup_fee is not None else (catalog[0] if catalog else ZERO)
    unit = data.price if data.price is not None else catalog[1]
    name = data.name.strip() or definition.name
    return PricedLine(
        kind=OrderLine.Kind.ADDON,
        description=f"Add-on: {name} for {on}",
        unit_price=unit,
        setup_fee=setup,
        recurring_amount=unit,
        price_overridden=catalog is None or (setup, unit) != catalog,
        billing_cycle=data.billing_cycle,
        data=data,
        parent_index=data.for_line,
    )


def _invoice_lines(lines: Sequence[PricedLine], code: str, today: dt.date):
    out: list[billing.LineData] = []
    for line in lines:
        kind = {
            OrderLine.Kind.PRODUCT: InvoiceItem.Kind.SERVICE,
            OrderLine.Kind.DOMAIN: InvoiceItem.Kind.DOMAIN,
            OrderLine.Kind.ADDON: InvoiceItem.Kind.ADDON,
        }[line.kind]
        period = _period_text(today, line.billing_cycle) if line.billing_cycle else ""
        out.append(
            billing.LineData(
                description=line.description + period,
                quantity=Decimal(line.quantity),
                unit_price=line.unit_price,
                kind=kind,
            )
        )
        if line.setup_fee:
            out.append(
                billing.LineData(
                    description=f"Setup fee: {line.description}",
                    quantity=Decimal(1),
                    unit_price=line.setup_fee,
                    kind=kind,
                )
            )
        if line.discount:
            out.append(
                billing.LineData(
                    description=f"Promotion {code}: {line.description}",
                    quantity=Decimal(1),
                    unit_price=-line.discount,
                )
            )
    return out


def plan_order(
    *,
    client: Client,
    products: Sequence[ProductLineData] = (),
    domains: Sequence[DomainLineData] = (),
    addons: Sequence[AddonLineData] = (),
    promotion_code: str = "",
    accept: bool = False,
    item_status: str = "pending",
    generate_invoice: bool = True,
    send_invoice_email: bool = True,
    send_confirmation: bool = True,
    today: dt.date | None = None,
    lock_promotion: bool = False,
) -> OrderPlan:
    """Price an order and say what placing it will create and send. No writes: the preview
    page shows this, and ``place_order`` stores exactly this."""
    today = today or timezone.localdate()
    count = len(products) + len(domains) + len(addons)
    if not count:
        raise ValidationError("Add at least one product, domain or add-on.", code="no_lines")
    if count > MAX_ORDER_LINES:
        raise ValidationError(
            f"An order has at most {MAX_ORDER_LINES} lines.", code="too_many_lines"
        )
    if item_status not in ITEM_STATUSES:
        raise ValidationError(
            {"item_status": ValidationError("Pending or active.", code="bad_status")}
        )
    promotion = _promotion(promotion_code, client, today, lock=lock_promotion)
    priced_products = [
        _price_product(i, data, client, promotion) for i, data in enumerate(products)
    ]
    seen: set[str] = set()
    priced_domains = [_price_domain(i, data, client, seen) for i, data in enumerate(domains)]
    for line in priced_domains:  # a domain ordered with the account of the same name
        line.parent_index = next(
            (i for i, p in enumerate(priced_products) if p.ascii_name == line.ascii_name), None
        )
    priced_addons = [
        _price_addon(i, data, client, priced_products) for i, data in enumerate(addons)
    ]
    lines = [*priced_products, *priced_domains, *priced_addons]
    if promotion is not None and not any(line.discount for line in lines):
        raise ValidationError(
            {
                "promotion_code": ValidationError(
                    "This promotion does not apply to any product or cycle on the order.",
                    code="promotion_not_applicable",
                )
            }
        )
    code = promotion.code if promotion else ""
    invoice_lines = _invoice_lines(lines, code, today)
    rates = billing.tax_rates_for(client)
    totals = compute_totals(
        [Line(x.quantity, x.unit_price, x.taxed) for x in invoice_lines],
        rates,
        rounding=settings.INVOICE_TAX_ROUNDING,
    )
    status_label = "active" if item_status == "active" else "pending"
    creates = (
        [f"Hosting account: {p.description} ({status_label})" for p in priced_products]
        + [f"Domain: {to_unicode(d.ascii_name)} ({status_label})" for d in priced_domains]
        + [f"{a.description} ({status_label})" for a in priced_addons]
    )
    if accept and generate_invoice:
        creates.append(f"Invoice: {totals.total} {client.currency}, due {today:%d/%m/%Y}")
    email = client.billing_email or client.email
    emails = []
    if send_confirmation:
        emails.append(f"Order confirmation to {client.email}")
    if accept and generate_invoice and send_invoice_email:
        emails.append(f"Invoice with PDF to {email}")
    return OrderPlan(
        client=client,
        lines=lines,
        promotion=promotion,
        invoice_lines=invoice_lines,
        totals=totals,
        rates=rates,
        creates=creates,
        emails=emails,
        needs_reason=any(line.price_overridden for line in lines),
    )


# Placing and accepting -----------------------------------------------------------------------


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


# Upgrades and downgrades ---------------------------------------------------------------------


@dataclass
class ChangePlan:
    service: Service
    new_product: Product
    new_cycle: str
    old_amount: Decimal
    new_amount: Decimal
    catalog_amount: Decimal | None
    proration: Proration
    # What the client paid, before tax, for this account's current period (paid invoices).
    paid_for_period: Decimal = ZERO
    # The client's credit for a downgrade, tax included: the unused difference, capped at what
    # was paid for the period, taxed as the upgrade invoice would be.
    credit_total: Decimal = ZERO

    @property
    def price_overridden(self) -> bool:
        return self.catalog_amount is None or self.new_amount != self.catalog_amount

    @property
    def kind(self) -> str:
        up = self.proration.new_daily > self.proration.old_daily
        return ServiceChange.Kind.UPGRADE if up else ServiceChange.Kind.DOWNGRADE

    @property
    def to_credit(self) -> Decimal:
        return self.credit_total

    @property
    def credit_capped(self) -> bool:
        return -self.proration.difference > ZERO and self.paid_for_period < (
            -self.proration.difference
        )

    @property
    def settlement(self) -> str:
        difference = self.proration.difference
        if difference > 0:
            return ServiceChange.Settlement.INVOICE
        if difference < 0 and settings.PRORATION_CREDIT_DOWNGRADES and self.credit_total > 0:
            return ServiceChange.Settlement.CREDIT
        return ServiceChange.Settlement.NONE


CHANGEABLE = (Service.Status.PENDING, Service.Status.ACTIVE, Service.Status.SUSPENDED)


def plan_change(
    *,
    service: Service,
    product: Product,
    billing_cycle: str,
    recurring_amount: Decimal | None = None,
    today: dt.date | None = None,
) -> ChangePlan:
    """What changing the account to ``product`` / ``billing_cycle`` costs. No writes."""
    today = today or timezone.localdate()
    if service.status not in CHANGEABLE:
        raise ValidationError(
            "A %(status)s account cannot change product.",
            code="not_changeable",
            params={"status": service.get_status_display().lower()},
        )
    if product.pk == service.product_id and billing_cycle == service.billing_cycle:
        raise ValidationError("Choose another product or billing cycle.", code="nothing_to_change")
    if product.retired:
        raise ValidationError(
            {"product": ValidationError("This product is retired.", code="product_retired")}
        )
    if CYCLE_MONTHS[BillingCycle(billing_cycle)] == 0:
        raise ValidationError(
            {
                "billing_cycle": ValidationError(
                    "A one-time price has no period to prorate.", code="no_period"
                )
            }
        )
    catalog = hosting.catalog_amounts(
        product=product, currency=service.currency, cycle=billing_cycle, quantity=service.quantity
    )
    catalog_amount = catalog[1] if catalog else None
    new_amount = recurring_amount if recurring_amount is not None else catalog_amount
    if new_amount is None:
        raise ValidationError(
            {
                "recurring_amount": ValidationError(
                    "%(product)s has no %(cycle)s price in %(currency)s: enter the new price.",
                    code="no_catalog_price",
                    params={
                        "product": product,
                        "cycle": BillingCycle(billing_cycle).label.lower(),
                        "currency": service.currency,
                    },
                )
            }
        )
    if new_amount < 0:
        raise ValidationError(
            {"recurring_amount": ValidationError("A price cannot be negative.", code="negative")}
        )
    proration = prorate(
        old_amount=service.recurring_amount,
        old_cycle=service.billing_cycle,
        new_amount=new_amount,
        new_cycle=billing_cycle,
        next_due_date=service.next_due_date,
        today=today,
    )
    paid = _paid_for_period(service, proration)
    unused = min(max(-proration.difference, ZERO), paid)
    credit_total = (
        compute_totals(
            [Line(Decimal(1), unused, True)],
            billing.tax_rates_for(service.client),
            rounding=settings.INVOICE_TAX_ROUNDING,
        ).total
        if unused > 0
        else ZERO
    )
    return ChangePlan(
        service=service,
        new_product=product,
        new_cycle=billing_cycle,
        old_amount=service.recurring_amount,
        new_amount=money(Decimal(new_amount)),
        catalog_amount=catalog_amount,
        proration=proration,
        paid_for_period=paid,
        credit_total=credit_total,
    )


def _paid_for_period(service: Service, proration: Proration) -> Decimal:
    """The account's lines on paid invoices issued for its current period, before tax.

    A renewal is invoiced before its period starts (up to one period ahead), an order or an
    upgrade during it; a Pending account whose first invoice is unpaid has paid nothing, so a
    downgrade gives it no credit.
    """
    days = proration.days_in_period
    earliest = proration.period_start - dt.timedelta(days=days)
    total = InvoiceItem.objects.filter(
        service=service,
        invoice__status=Invoice.Status.PAID,
        invoice__issue_date__gte=earliest,
        invoice__issue_date__lte=proration.next_due_date,
    ).aggregate(total=Sum("amount"))["total"]
    return max(total or ZERO, ZERO)


def _apply_change(change: ServiceChange, actor: Any, reason: str = "") -> ServiceChange:
    why = reason or change.reason or f"{change.get_kind_display()} #{change.pk}"
    if change.kind == ServiceChange.Kind.CANCELLATION:
        _cancel_service(change.service, actor, why)
    else:
        hosting.change_service_plan(
            service=change.service,
            product=change.new_product,
            billing_cycle=change.new_cycle,
            recurring_amount=change.new_amount,
            actor=actor,
            reason=why,
        )
    with audit.context.context(action=f"orders.apply_{change.kind}", reason=why, actor=actor):
        change.status = ServiceChange.Status.APPLIED
        change.applied_at = timezone.now()
        change.full_clean()
        change.save(update_fields=["status", "applied_at"])
    return change


_ALREADY_PENDING = Refusal(
    None,
    "This account already has a pending request of this sort: withdraw it first.",
    code="already_pending",
)
CHANGE_CONSTRAINTS = {
    "orders_change_one_pending_cancellation": _ALREADY_PENDING,
    "orders_change_one_pending_change": _ALREADY_PENDING,
}


def _save_change(change: ServiceChange) -> ServiceChange:
    change.full_clean()
    with integrity_errors(CHANGE_CONSTRAINTS):
        change.save()
    return change


def _pending_kinds(service: Service) -> set[str]:
    pending = service.changes.filter(status=ServiceChange.Status.PENDING)
    return set(pending.values_list("kind", flat=True))


def _refuse_pending(service: Service, *, cancellation: bool) -> None:
    kinds = _pending_kinds(service)
    if ServiceChange.Kind.CANCELLATION in kinds:
        raise ValidationError(
            "This account is due to be cancelled: withdraw the cancellation first."
            if not cancellation
            else "This account already has a pending cancellation.",
            code="cancellation_pending" if not cancellation else "already_pending",
        )
    if not cancellation and kinds:
        raise ValidationError(
            "This account already has a pending upgrade or downgrade: withdraw it first.",
            code="already_pending",
        )


@transaction.atomic
def change_service_product(
    *,
    service: Service,
    product: Product,
    billing_cycle: str,
    recurring_amount: Decimal | None = None,
    apply_now: bool = False,
    send_invoice_email: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
    today: dt.date | None = None,
) -> ServiceChange:
    """Upgrade or downgrade an account, prorated over its current period.

    A positive difference is invoiced and the change waits for that invoice to be paid (or
    happens now, with a reason); a negative one is credited (``PRORATION_CREDIT_DOWNGRADES``)
    and the change happens now. The next due date does not move.
    """
    # Client before the account (billing.services' lock order): the invoice or credit of the
    # change locks the client, and paying a renewal locks the client before the account.
    Client.objects.select_for_update().get(
        pk=Service.objects.values_list("client_id", flat=True).get(pk=service.pk)
    )
    service = (
        Service.objects.select_for_update().select_related("client", "product").get(pk=service.pk)
    )
    _refuse_pending(service, cancellation=False)
    plan = plan_change(
        service=service,
        product=product,
        billing_cycle=billing_cycle,
        recurring_amount=recurring_amount,
        today=today,
    )
    if plan.price_overridden:
        require_reason(reason, "Say why the new price differs from the catalog.")
    if plan.proration.beyond_period and not reason.strip():
        raise ValidationError(
            "The next due date, %(due)s, is more than two billing periods away: check it "
            "on the account (a typo?), or say why one period is prorated.",
            code="due_beyond_period",
            params={"due": f"{plan.proration.next_due_date:%d/%m/%Y}"},
        )
    if apply_now:
        require_reason(reason, "Say why the change happens before the invoice is paid.")
    p = plan.proration
    invoice = credit_entry = None
    label = (
        f"{service.product.name} ({BillingCycle(service.billing_cycle).label}) to "
        f"{product.name} ({BillingCycle(billing_cycle).label})"
    )
    days = f"{p.days_left} day{'s' * (p.days_left != 1)}"
    settlement = plan.settlement
    if settlement == ServiceChange.Settlement.INVOICE:
        local_today = today or timezone.localdate()
        invoice = billing.create_invoice(
            client=service.client,
            lines=[
                billing.LineData(
                    description=f"{plan.kind.capitalize()} of {service}: {label}, {days} to "
                    f"{p.next_due_date:%d/%m/%Y} (charge {p.charge} less credit {p.credit})",
                    quantity=Decimal(1),
                    unit_price=p.difference,
                    kind=InvoiceItem.Kind.SERVICE,
                    service=service,
                )
            ],
            issue_date=local_today,
            due_date=local_today + dt.timedelta(days=settings.INVOICE_DUE_DAYS),
            actor=actor,
            reason=reason,
        )
        invoice = billing.publish_invoice(
            invoice=invoice, actor=actor, send_email=send_invoice_email
        )
    elif settlement == ServiceChange.Settlement.CREDIT:
        credit_entry = billing.add_credit(
            client=service.client,
            amount=plan.credit_total,
            reason=f"Downgrade of {service}: {label}, {days} unused, tax included"
            + (f", capped at the {plan.paid_for_period} paid" if plan.credit_capped else "")
            + (f" ({reason.strip()})" if reason.strip() else ""),
            actor=actor,
        )
    waits = settlement == ServiceChange.Settlement.INVOICE and not apply_now
    # A zero total invoice is paid on publishing, which needs no wait.
    waits = waits and invoice is not None and invoice.status != Invoice.Status.PAID
    with audit.context.context(action=f"orders.request_{plan.kind}", reason=reason, actor=actor):
        change = _save_change(
            ServiceChange(
                service=service,
                kind=plan.kind,
                takes_effect=ServiceChange.When.ON_PAYMENT
                if waits
                else ServiceChange.When.IMMEDIATE,
                old_product=service.product,
                new_product=product,
                old_cycle=service.billing_cycle,
                new_cycle=billing_cycle,
                currency=service.currency,
                old_amount=plan.old_amount,
                new_amount=plan.new_amount,
                price_overridden=plan.price_overridden,
                period_start=p.period_start,
                next_due_date=p.next_due_date,
                days_in_period=p.days_in_period,
                days_left=p.days_left,
                credit_amount=p.credit,
                charge_amount=p.charge,
                difference=p.difference,
                settlement=settlement,
                invoice=invoice,
                credit_entry=credit_entry,
                reason=reason.strip(),
                requested_by=actor if actor is not None and actor.pk else None,
            )
        )
    if not waits:
        _apply_change(change, actor, reason)
    return change


def apply_paid_changes(*, invoice: Invoice, actor: Any, reason: str = "") -> None:
    """Billing calls this when an invoice becomes Paid: the upgrade it was for happens now."""
    pending = ServiceChange.objects.select_for_update().filter(
        invoice=invoice, status=ServiceChange.Status.PENDING
    )
    for change in pending.select_related("service", "new_product").order_by("id"):
        _apply_change(change, actor, f"Invoice {invoice.number} paid")


def withdraw_for_cancelled_invoice(*, invoice: Invoice, actor: Any, reason: str = "") -> None:
    """Billing calls this when an invoice is cancelled: the change it was for will not happen."""
    pending = ServiceChange.objects.select_for_update().filter(
        invoice=invoice, status=ServiceChange.Status.PENDING
    )
    for change in pending.order_by("id"):
        _withdraw(change, actor, f"Invoice {invoice.number} cancelled: {reason}".strip(": "))


def _withdraw(change: ServiceChange, actor: Any, reason: str) -> ServiceChange:
    with audit.context.context(action=f"orders.withdraw_{change.kind}", reason=reason, actor=actor):
        change.status = ServiceChange.Status.WITHDRAWN
        change.withdrawn_at = timezone.now()
        change.withdrawn_by = actor if actor is not None and actor.pk else None
        change.withdraw_reason = reason.strip()[:500]
        change.full_clean()
        change.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "withdraw_reason"])
    return change


@transaction.atomic
def withdraw_change(
    *, change: ServiceChange, actor: AbstractBaseUser | None, reason: str
) -> ServiceChange:
    """Withdraw a pending upgrade, downgrade or cancellation; an upgrade's unpaid invoice is
    cancelled with it."""
    require_reason(reason, "Say why the request is withdrawn.")
    # The lock order of billing.services: client, its invoice, then the change (paying the
    # upgrade's invoice takes them in that order too).
    row = ServiceChange.objects.values("service__client_id", "invoice_id").get(pk=change.pk)
    Client.objects.select_for_update().get(pk=row["service__client_id"])
    if row["invoice_id"]:
        Invoice.objects.select_for_update().get(pk=row["invoice_id"])
    change = ServiceChange.objects.select_for_update().get(pk=change.pk)
    if change.status != ServiceChange.Status.PENDING:
        raise ValidationError(
            "Only a pending request can be withdrawn; this one is %(status)s.",
            code="not_pending",
            params={"status": change.get_status_display().lower()},
        )
    _withdraw(change, actor, reason)
    if change.invoice_id:
        invoice = Invoice.objects.get(pk=change.invoice_id)
        if invoice.status in Invoice.PAYABLE:
            billing.change_invoice_status(
                invoice=invoice,
                status=Invoice.Status.CANCELLED,
                actor=actor,
                reason=reason,
                paid_to_credit=True,
            )
    return change


# Cancellations -------------------------------------------------------------------------------


def _cancel_service(service: Service, actor: Any, reason: str) -> None:
    service = Service.objects.select_for_update().get(pk=service.pk)
    for addon in service.addons.filter(
        status__in=[Addon.Status.PENDING, Addon.Status.ACTIVE, Addon.Status.SUSPENDED]
    ).order_by("id"):
        hosting.change_addon_status(
            addon=addon, new_status=Addon.Status.CANCELLED, actor=actor, reason=reason
        )
    if can_transition(service, Service.Status.CANCELLED):
        hosting.change_service_status(
            service=service, new_status=Service.Status.CANCELLED, actor=actor, reason=reason
        )


@transaction.atomic
def request_cancellation(
    *,
    service: Service,
    when: str,
    actor: AbstractBaseUser | None,
    reason: str,
    today: dt.date | None = None,
) -> ServiceChange:
    """Cancel an account now, or at the end of its billing period (carried out by the daily
    ``process_cancellations`` command). Its add-ons are cancelled with it."""
    require_reason(reason, "Say why the account is cancelled.")
    if when not in (ServiceChange.When.IMMEDIATE, ServiceChange.When.END_OF_PERIOD):
        raise ValidationError(
            {"when": ValidationError("Now or at the end of the period.", code="bad_when")}
        )
    service = Service.objects.select_for_update().select_related("product").get(pk=service.pk)
    if service.status not in CHANGEABLE:
        raise ValidationError(
            "A %(status)s account cannot be cancelled.",
            code="not_cancellable",
            params={"status": service.get_status_display().lower()},
        )
    _refuse_pending(service, cancellation=True)
    today = today or timezone.localdate()
    end_of_period = when == ServiceChange.When.END_OF_PERIOD
    effective = (service.next_due_date or today) if end_of_period else today
    with audit.context.context(action="orders.request_cancellation", reason=reason, actor=actor):
        change = _save_change(
            ServiceChange(
                service=service,
                kind=ServiceChange.Kind.CANCELLATION,
                takes_effect=when,
                old_product=service.product,
                new_product=service.product,
                old_cycle=service.billing_cycle,
                new_cycle=service.billing_cycle,
                currency=service.currency,
                old_amount=service.recurring_amount,
                new_amount=service.recurring_amount,
                next_due_date=service.next_due_date,
                effective_date=effective,
                reason=reason.strip(),
                requested_by=actor if actor is not None and actor.pk else None,
            )
        )
    if not end_of_period or effective <= today:
        _apply_change(change, actor, reason)
    return change


def process_due_cancellations(*, today: dt.date | None = None) -> list[ServiceChange]:
    """Carry out the end-of-period cancellations that are due. Safe to run any number of times
    (a done request is not pending any more) and by two cron jobs at once (rows being handled
    elsewhere are skipped); each cancellation commits on its own."""
    today = today or timezone.localdate()
    done: list[ServiceChange] = []
    due = ServiceChange.objects.filter(
        kind=ServiceChange.Kind.CANCELLATION,
        status=ServiceChange.Status.PENDING,
        effective_date__lte=today,
    )
    for pk in list(due.order_by("effective_date", "id").values_list("pk", flat=True)):
        with transaction.atomic():
            change = (
                ServiceChange.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=ServiceChange.Status.PENDING)
                .select_related("service")
                .first()
            )
            if change is None:
                continue
            with audit.context.context(action="orders.process_cancellation", reason=change.reason):
                done.append(_apply_change(change, None, change.reason))
    return done
