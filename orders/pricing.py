"""What an order or a product change comes to, read from the catalog and written nowhere (like
``orders.proration``, which it uses): the lines as staff enter them, their catalog prices,
setup fees and promotion discounts, the invoice lines and totals (``plan_order``); the proration
and credit of an upgrade or downgrade (``plan_change``). The preview pages show these plans and
the services store exactly them (``place_order`` has the promotion row locked as it is read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from billing import services as billing
from billing.models import Invoice, InvoiceItem
from billing.totals import HUNDRED, Line, Totals, compute_totals, money
from clients.models import Client
from core.rules import belongs_to_client
from hosting import crypto
from hosting import services as hosting
from hosting.domains import to_ascii, to_unicode, validate_domain_name
from hosting.models import (
    CYCLE_MONTHS,
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
from orders.models import OrderLine, Promotion, ServiceChange
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


# What staff enter ----------------------------------------------------------------------------


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


# What the order comes to ---------------------------------------------------------------------


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
