"""Manual entry of hosting accounts, domains and add-ons, and every change to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

import audit.context
from audit.edits import refuse_if_changed
from clients.models import Client
from core.rules import (
    Refusal,
    integrity_errors,
    require_known_fields,
    require_reason,
    require_same_client,
    require_transition,
)
from hosting import crypto
from hosting.domains import validate_domain_name, validate_host_name
from hosting.models import (
    CYCLE_MONTHS,
    Addon,
    AddonPrice,
    BillingCycle,
    Domain,
    ProductPrice,
    SecretReveal,
    Server,
    Service,
    Tld,
    TldPrice,
    add_months,
)

SERVICE_FIELDS = (
    "product",
    "server",
    "domain",
    "username",
    "dedicated_ip",
    "assigned_ips",
    "registration_date",
    "billing_cycle",
    "first_payment_amount",
    "recurring_amount",
    "next_due_date",
    "termination_date",
    "payment_method",
    "quantity",
    "admin_notes",
    "override_autosuspend_until",
)
DOMAIN_FIELDS = (
    "name",
    "service",
    "order_type",
    "registrar",
    "period_years",
    "registration_date",
    "expiry_date",
    "next_due_date",
    "first_payment_amount",
    "recurring_amount",
    "nameservers",
    "dns_management",
    "email_forwarding",
    "id_protection",
    "registrar_lock",
    "do_not_renew",
    "admin_notes",
)
ADDON_FIELDS = (
    "definition",
    "name",
    "setup_fee",
    "recurring_price",
    "billing_cycle",
    "next_due_date",
    "admin_notes",
)
MIN_NAMESERVERS, MAX_NAMESERVERS = 2, 5


def _transition(obj: Any, new_status: str, reason: str) -> None:
    if new_status == obj.status:
        raise ValidationError("It already has that status.", code="same_status")
    require_transition(obj, new_status)
    require_reason(reason, "Say why the status changes.")


def next_due_after(start: dt.date, cycle: str) -> dt.date | None:
    months = CYCLE_MONTHS[BillingCycle(cycle)]
    return add_months(start, months) if months else None


# Hosting accounts ----------------------------------------------------------------------------


def catalog_amounts(
    *, product: Any, currency: str, cycle: str, quantity: int = 1
) -> tuple[Decimal, Decimal] | None:
    """(first payment, recurring) from the catalog, or None when the product has no price."""
    price = ProductPrice.objects.filter(product=product, currency=currency, cycle=cycle).first()
    if price is None:
        return None
    recurring = price.price * quantity
    return price.setup_fee + recurring, recurring


# What the catalog price of an account depends on.
PRICE_BASIS_FIELDS = frozenset({"product", "billing_cycle", "quantity"})


def _apply_prices(
    service: Service, data: Mapping[str, Any], reason: str, recalculate: bool
) -> None:
    catalog = catalog_amounts(
        product=service.product,
        currency=service.currency,
        cycle=service.billing_cycle,
        quantity=service.quantity,
    )
    first, recurring = data.get("first_payment_amount"), data.get("recurring_amount")
    if recalculate or (first is None and recurring is None and service.pk is None):
        if catalog is None:
            raise ValidationError(
                "%(product)s has no %(cycle)s price in %(currency)s: enter the amounts.",
                code="no_catalog_price",
                params={
                    "product": service.product,
                    "cycle": BillingCycle(service.billing_cycle).label.lower(),
                    "currency": service.currency,
                },
            )
        service.first_payment_amount, service.recurring_amount = catalog
        service.price_overridden = False
        return
    if first is not None:
        service.first_payment_amount = first
    if recurring is not None:
        service.recurring_amount = recurring
    if service.first_payment_amount is None or service.recurring_amount is None:
        raise ValidationError("Enter both amounts.", code="amount_required")
    overridden = (
        catalog is None
        or (Decimal(service.first_payment_amount), Decimal(service.recurring_amount)) != catalog
    )
    # Every new override is a decision of its own: it needs a reason even when the account's
    # price was already overridden (the caller applies prices only when an amount or what the
    # catalog price depends on changed).
    if overridden:
        require_reason(reason, "Say why the price differs from the catalog.")
    service.price_overridden = overridden


def _check_catalog_choices(service: Service, changed: set[str]) -> None:
    if "product" in changed and service.product.retired:
        raise ValidationError(
            {"product": ValidationError("This product is retired.", code="product_retired")}
        )
    if "server" in changed and service.server is not None and not service.server.active:
        raise ValidationError(
            {"server": ValidationError("This server is not active.", code="server_inactive")}
        )


@transaction.atomic
def create_service(
    *,
    client: Client,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    password: str = "",
    status: str = Service.Status.PENDING,
) -> Service:
    """A hosting account set up by hand, pending or already active (recording an account
    that exists). Blank amounts come from the catalog price."""
    require_known_fields(data, SERVICE_FIELDS)
    if status not in (Service.Status.PENDING, Service.Status.ACTIVE):
        raise ValidationError(
            {"status": ValidationError("A new account is pending or active.", code="bad_status")}
        )
    client = Client.objects.select_for_update().get(pk=client.pk)
    values = {
        k: v for k, v in data.items() if k not in ("first_payment_amount", "recurring_amount")
    }
    service = Service(client=client, currency=client.currency, status=status, **values)
    with audit.context.context(action="hosting.create_service", reason=reason, actor=actor):
        _check_catalog_choices(service, set(data))
        _apply_prices(service, data, reason, recalculate=False)
        if service.next_due_date is None:
            service.next_due_date = next_due_after(service.registration_date, service.billing_cycle)
        service.password = crypto.encrypt(password, field="password")
        service.full_clean()
        service.save()
    return service


@transaction.atomic
def update_service(
    *,
    service: Service,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    recalculate: bool = False,
    version: int | None = None,
    password: str = "",
) -> Service:
    """Edit a hosting account. Status changes go through ``change_service_status``; a change
    made since ``version`` (the form's, ``audit.edits``) is refused. A ``password`` typed on
    the form is stored in the same transaction (``set_service_password``)."""
    require_known_fields(data, SERVICE_FIELDS)
    service = Service.objects.select_for_update().get(pk=service.pk)
    refuse_if_changed(service, version)
    changed = {k for k, v in data.items() if getattr(service, k) != v}
    with audit.context.context(action="hosting.update_service", reason=reason, actor=actor):
        for name in changed - {"first_payment_amount", "recurring_amount"}:
            setattr(service, name, data[name])
        _check_catalog_choices(service, changed)
        price_inputs: dict[str, Any] = {
            k: data[k] for k in ("first_payment_amount", "recurring_amount") if k in changed
        }
        # A new product, cycle or quantity changes the catalog price: amounts sent unchanged
        # are then an override like typed ones.
        basis_changed = bool(changed & PRICE_BASIS_FIELDS)
        if price_inputs or basis_changed or recalculate:
            _apply_prices(service, price_inputs, reason, recalculate=recalculate)
        service.full_clean()
        service.save()
    if password:
        service = set_service_password(
            service=service, password=password, actor=actor, reason=reason
        )
    return service


@transaction.atomic
def change_service_plan(
    *,
    service: Service,
    product: Any,
    billing_cycle: str,
    recurring_amount: Decimal,
    actor: User | None,
    reason: str,
) -> Service:
    """Move an account to another product and/or billing cycle at a new recurring price (an
    upgrade or downgrade). The next due date and the first payment stay as they are."""
    require_reason(reason, "Say why the product or billing cycle changes.")
    service = Service.objects.select_for_update().select_related("product").get(pk=service.pk)
    if service.status not in (
        Service.Status.PENDING,
        Service.Status.ACTIVE,
        Service.Status.SUSPENDED,
    ):
        raise ValidationError(
            "A %(status)s account cannot change product.",
            code="not_changeable",
            params={"status": service.get_status_display().lower()},
        )
    with audit.context.context(action="hosting.change_service_plan", reason=reason, actor=actor):
        changed = {"product"} if product.pk != service.product_id else set()
        service.product, service.billing_cycle = product, billing_cycle
        _check_catalog_choices(service, changed)
        service.recurring_amount = recurring_amount
        catalog = catalog_amounts(
            product=product,
            currency=service.currency,
            cycle=billing_cycle,
            quantity=service.quantity,
        )
        service.price_overridden = catalog is None or catalog[1] != recurring_amount
        service.full_clean()
        service.save()
    return service


@transaction.atomic
def change_service_status(
    *, service: Service, new_status: str, actor: User | None, reason: str
) -> Service:
    """Suspend, unsuspend, terminate, cancel, activate or flag as fraud — with a reason."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    _transition(service, new_status, reason)
    with audit.context.context(action=f"hosting.service_{new_status}", reason=reason, actor=actor):
        if new_status == Service.Status.SUSPENDED:
            service.suspension_reason = reason.strip()[:300]
        elif service.status == Service.Status.SUSPENDED:
            service.suspension_reason = ""
        if new_status == Service.Status.TERMINATED and service.termination_date is None:
            service.termination_date = timezone.localdate()
        service.status = new_status
        service.full_clean()
        service.save()
    return service


@transaction.atomic
def set_service_password(
    *, service: Service, password: str, actor: User | None, reason: str = ""
) -> Service:
    service = Service.objects.select_for_update().get(pk=service.pk)
    with audit.context.context(action="hosting.set_service_password", reason=reason, actor=actor):
        service.password = crypto.encrypt(password, field="password")
        service.save(update_fields=["password", "updated_at"])
    return service


@transaction.atomic
def reveal_service_password(*, service: Service, actor: User, reason: str) -> str:
    """The account password in clear; the reveal itself is recorded, with who and why."""
    require_reason(reason, "Say why you need to see the password.")
    with audit.context.context(
        action="hosting.reveal_service_password", reason=reason, actor=actor
    ):
        SecretReveal.objects.create(
            field=SecretReveal.Field.SERVICE_PASSWORD,
            service=service,
            revealed_by=actor,
            reason=reason.strip()[:300],
        )
    return crypto.decrypt(service.password)


@transaction.atomic
def move_service(
    *, service: Service, server: Server | None, actor: User | None, reason: str
) -> Service:
    require_reason(reason, "Say why the account moves.")
    return update_service(service=service, data={"server": server}, actor=actor, reason=reason)


@transaction.atomic
def set_service_next_due_date(
    *, service: Service, next_due_date: dt.date, actor: User | None, reason: str
) -> Service:
    require_reason(reason, "Say why the due date changes.")
    return update_service(
        service=service, data={"next_due_date": next_due_date}, actor=actor, reason=reason
    )


# Domains ------------------------------------------------------------------------------------


def sold_tlds() -> set[str]:
    return set(Tld.objects.filter(active=True).values_list("name", flat=True))


def clean_nameservers(values: list[str]) -> list[str]:
    names = [v.strip() for v in values if v and v.strip()]
    if not MIN_NAMESERVERS <= len(names) <= MAX_NAMESERVERS:
        raise ValidationError(
            "Give between %(min)s and %(max)s name servers.",
            code="nameserver_count",
            params={"min": MIN_NAMESERVERS, "max": MAX_NAMESERVERS},
        )
    cleaned = [validate_host_name(n) for n in names]
    if len(set(cleaned)) != len(cleaned):
        raise ValidationError("A name server is listed twice.", code="nameserver_repeated")
    return cleaned


def expiry_for(registration_date: dt.date, years: int) -> dt.date:
    return add_months(registration_date, 12 * years)


def domain_catalog_amounts(
    *, tld: Tld, currency: str, years: int, order_type: str
) -> tuple[Decimal, Decimal] | None:
    price = TldPrice.objects.filter(tld=tld, currency=currency, years=years).first()
    if price is None:
        return None
    by_type: dict[str, Decimal] = {
        Domain.OrderType.REGISTER: price.register,
        Domain.OrderType.TRANSFER: price.transfer,
    }
    first = by_type.get(order_type, Decimal("0.00"))
    return first, price.renew


DOMAIN_CONSTRAINTS = {
    "hosting_domain_one_active": Refusal(
        "name",
        "This domain is already active on another record.",
        code="domain_active_elsewhere",
    )
}


def _save_domain(domain: Domain) -> None:
    domain.full_clean()
    with integrity_errors(DOMAIN_CONSTRAINTS):
        domain.save()


def _refuse_silent_duplicate(domain: Domain, reason: str) -> None:
    """The same name pending or active on another record needs a reason to be entered again
    (a transfer between clients being recorded, a correction); the database keeps one active.

    Two people entering one name at once queue on a transaction lock of the name, so the
    second sees the first's record (no row to lock yet: an advisory lock, taken after the
    client's row lock, last in the lock order).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"domain:{domain.name}"])
    live = (Domain.Status.PENDING, Domain.Status.ACTIVE)
    other = (
        Domain.objects.filter(name=domain.name, status__in=live)
        .exclude(pk=domain.pk)
        .select_related("client")
        .order_by("id")
        .first()
    )
    if other is None:
        return
    require_reason(
        reason,
        f"{domain} is already {other.get_status_display().lower()} on domain #{other.pk} of "
        f"client {other.client} (#{other.client_id}): say why it is entered again.",
    )


def _prepare_domain(domain: Domain, data: Mapping[str, Any], reason: str, *, new: bool) -> None:
    if not 1 <= int(domain.period_years or 0) <= 10:
        raise ValidationError(
            {"period_years": ValidationError("Register for 1 to 10 years.", code="period_range")}
        )
    if "name" in data:
        ascii_name, suffix = validate_domain_name(data["name"], sold_tlds=sold_tlds())
        domain.name = ascii_name
        domain.tld = Tld.objects.get(name=suffix)
        _refuse_silent_duplicate(domain, reason)
    if "nameservers" in data:
        domain.nameservers = clean_nameservers(list(data["nameservers"]))
    derived = expiry_for(domain.registration_date, domain.period_years)
    given = data.get("expiry_date")
    if given is None:
        if new or {"registration_date", "period_years"} & set(data):
            domain.expiry_date = derived
    elif given != derived and (new or given != domain.expiry_date):
        require_reason(reason, "Say why the expiry date differs from the registration period.")
        domain.expiry_date = given
    catalog = domain_catalog_amounts(
        tld=domain.tld,
        currency=domain.currency,
        years=domain.period_years,
        order_type=domain.order_type,
    )
    first, recurring = data.get("first_payment_amount"), data.get("recurring_amount")
    if new and first is None and recurring is None:
        if catalog is None:
            raise ValidationError(
                "No price for .%(tld)s over %(years)s year(s) in %(currency)s: enter the amounts.",
                code="no_catalog_price",
                params={
                    "tld": domain.tld.name,
                    "years": domain.period_years,
                    "currency": domain.currency,
                },
            )
        domain.first_payment_amount, domain.recurring_amount = catalog
    elif first is not None or recurring is not None:
        if first is not None:
            domain.first_payment_amount = first
        if recurring is not None:
            domain.recurring_amount = recurring
        if catalog is None or (domain.first_payment_amount, domain.recurring_amount) != catalog:
            require_reason(reason, "Say why the price differs from the catalog.")
    if domain.next_due_date is None:
        domain.next_due_date = domain.expiry_date


@transaction.atomic
def create_domain(
    *,
    client: Client,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    epp_code: str = "",
    status: str = Domain.Status.PENDING,
) -> Domain:
    require_known_fields(data, DOMAIN_FIELDS)
    if status not in (Domain.Status.PENDING, Domain.Status.ACTIVE):
        raise ValidationError(
            {"status": ValidationError("A new domain is pending or active.", code="bad_status")}
        )
    client = Client.objects.select_for_update().get(pk=client.pk)
    values = {
        k: v
        for k, v in data.items()
        if k
        not in ("name", "nameservers", "expiry_date", "first_payment_amount", "recurring_amount")
    }
    domain = Domain(client=client, currency=client.currency, status=status, **values)
    if domain.order_type == Domain.OrderType.TRANSFER and not epp_code.strip():
        raise ValidationError(
            {"epp_code": ValidationError("A transfer needs the EPP code.", code="epp_required")}
        )
    require_same_client(
        client, domain.service, field="service", message="That service belongs to another client."
    )
    with audit.context.context(action="hosting.create_domain", reason=reason, actor=actor):
        _prepare_domain(domain, data, reason, new=True)
        domain.epp_code = crypto.encrypt(epp_code.strip(), field="epp_code")
        _save_domain(domain)
    return domain


@transaction.atomic
def update_domain(
    *,
    domain: Domain,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    version: int | None = None,
) -> Domain:
    require_known_fields(data, DOMAIN_FIELDS)
    domain = Domain.objects.select_for_update().select_related("tld").get(pk=domain.pk)
    refuse_if_changed(domain, version)
    if "name" in data and data["name"] in (domain.name, str(domain)):
        data = {k: v for k, v in data.items() if k != "name"}
    changed = {k: v for k, v in data.items() if getattr(domain, k, None) != v}
    with audit.context.context(action="hosting.update_domain", reason=reason, actor=actor):
        for name, value in changed.items():
            if name not in (
                "name",
                "nameservers",
                "expiry_date",
                "first_payment_amount",
                "recurring_amount",
            ):
                setattr(domain, name, value)
        _prepare_domain(domain, changed, reason, new=False)
        _save_domain(domain)
    return domain


@transaction.atomic
def change_domain_status(
    *, domain: Domain, new_status: str, actor: User | None, reason: str
) -> Domain:
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    _transition(domain, new_status, reason)
    with audit.context.context(action=f"hosting.domain_{new_status}", reason=reason, actor=actor):
        domain.status = new_status
        _save_domain(domain)
    return domain


@transaction.atomic
def set_epp_code(*, domain: Domain, epp_code: str, actor: User | None, reason: str = "") -> Domain:
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    with audit.context.context(action="hosting.set_epp_code", reason=reason, actor=actor):
        domain.epp_code = crypto.encrypt(epp_code.strip(), field="epp_code")
        domain.save(update_fields=["epp_code", "updated_at"])
    return domain


@transaction.atomic
def reveal_epp_code(*, domain: Domain, actor: User, reason: str) -> str:
    require_reason(reason, "Say why you need to see the EPP code.")
    with audit.context.context(action="hosting.reveal_epp_code", reason=reason, actor=actor):
        SecretReveal.objects.create(
            field=SecretReveal.Field.EPP_CODE,
            domain=domain,
            revealed_by=actor,
            reason=reason.strip()[:300],
        )
    return crypto.decrypt(domain.epp_code)


# Add-ons ------------------------------------------------------------------------------------


@transaction.atomic
def add_addon(
    *,
    service: Service,
    data: Mapping[str, Any],
    actor: User | None,
    reason: str = "",
    status: str = Addon.Status.PENDING,
) -> Addon:
    """A predefined add-on (it must apply to the service's product) or a custom one, pending
    or already active."""
    require_known_fields(data, ADDON_FIELDS)
    if status not in (Addon.Status.PENDING, Addon.Status.ACTIVE):
        raise ValidationError(
            {"status": ValidationError("A new add-on is pending or active.", code="bad_status")}
        )
    service = Service.objects.select_for_update().select_related("product").get(pk=service.pk)
    values = {k: v for k, v in data.items() if k not in ("setup_fee", "recurring_price")}
    addon = Addon(service=service, status=status, **values)
    definition = addon.definition
    if definition is not None and not definition.products.filter(pk=service.product_id).exists():
        raise ValidationError(
            {
                "definition": ValidationError(
                    "%(addon)s does not apply to %(product)s.",
                    code="addon_not_for_product",
                    params={"addon": definition, "product": service.product},
                )
            }
        )
    catalog = None
    if definition is not None:
        price = AddonPrice.objects.filter(
            addon=definition, currency=service.currency, cycle=addon.billing_cycle
        ).first()
        catalog = (price.setup_fee, price.price) if price else None
    # Each price left empty takes the catalog's; one typed that differs needs a reason.
    setup, recurring = data.get("setup_fee"), data.get("recurring_price")
    catalog_setup, catalog_recurring = catalog if catalog is not None else (Decimal("0.00"), None)
    addon.setup_fee = setup if setup is not None else catalog_setup
    addon.recurring_price = (
        recurring if recurring is not None else catalog_recurring  # type: ignore[assignment]  # None: refused below
    )
    if addon.recurring_price is None:
        raise ValidationError(
            {"recurring_price": ValidationError("Enter the price.", code="amount_required")}
        )
    if catalog is not None and (addon.setup_fee, addon.recurring_price) != catalog:
        require_reason(reason, "Say why the price differs from the catalog.")
    if addon.next_due_date is None:
        addon.next_due_date = next_due_after(timezone.localdate(), addon.billing_cycle)
    with audit.context.context(action="hosting.add_addon", reason=reason, actor=actor):
        addon.full_clean()
        addon.save()
    return addon


@transaction.atomic
def change_addon_status(*, addon: Addon, new_status: str, actor: User | None, reason: str) -> Addon:
    addon = Addon.objects.select_for_update().get(pk=addon.pk)
    _transition(addon, new_status, reason)
    with audit.context.context(action=f"hosting.addon_{new_status}", reason=reason, actor=actor):
        addon.status = new_status
        addon.full_clean()
        addon.save(update_fields=["status", "updated_at"])
    return addon


# Renewals ------------------------------------------------------------------------------------


@transaction.atomic
def renew_after_payment(
    *,
    record: Service | Domain | Addon,
    period_start: dt.date,
    period_end: dt.date,
    actor: User | None,
    reason: str,
) -> bool:
    """A paid invoice billed ``record``'s period: its next due date moves past that period.

    Only while the record still stands at the period's start, checked under the record's lock:
    paying again for the same period (a refunded invoice billed anew, a reopened one) or a
    period that was not the record's next one moves nothing. True when the record moved.
    """
    record = type(record).objects.select_for_update().get(pk=record.pk)
    if record.next_due_date != period_start or period_end < period_start:
        return False
    with audit.context.context(action="hosting.renew_after_payment", reason=reason, actor=actor):
        record.next_due_date = period_end + dt.timedelta(days=1)
        record.full_clean()
        record.save(update_fields=["next_due_date", "updated_at"])
    return True
