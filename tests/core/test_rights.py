"""Rights per action (issue 18 part 2): each sensitive action needs its named right, through
its page and through the Django admin; Admins edit the roles, with a reason, in the trail; and
``migrate`` never undoes an Admin's edit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from audit.models import StaffRolePermission
from audit.tracking import event_model_for
from billing import services as billing
from billing.models import Invoice, Transaction
from clients.models import Client
from core.roles import ADMIN, BILLING, READ_ONLY, RIGHTS, ROLES, SUPPORT, sync_roles
from orders.models import Order
from tests.factories.affiliates import cleared_commission, enrol
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory, client_form_data
from tests.factories.hosting import DomainFactory, ServiceFactory
from tests.factories.orders import make_catalog

pytestmark = pytest.mark.django_db

NOW = timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def _permission(label: str) -> Permission:
    app, _, codename = label.partition(".")
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def take_away(role: str, label: str) -> None:
    Group.objects.get(name=role).permissions.remove(_permission(label))


def grant(role: str, label: str) -> None:
    Group.objects.get(name=role).permissions.add(_permission(label))


def _not_allowed(response, field: str | None) -> bool:
    errors = response.context["form"].errors.as_data()
    return any(e.code == "not_allowed" for e in errors.get(field or "__all__", []))


# The defaults --------------------------------------------------------------------------------


def test_every_right_is_a_permission_with_a_clear_name():
    for label, (title, _roles) in RIGHTS.items():
        assert _permission(label).name.startswith("Can "), label
        assert title


@pytest.mark.parametrize("role", ROLES)
def test_each_role_holds_exactly_its_default_rights(role):
    held = {
        label
        for label in RIGHTS
        if Group.objects.get(name=role).permissions.filter(pk=_permission(label).pk).exists()
    }
    expected = set(RIGHTS) if role == ADMIN else {r for r, (_t, rs) in RIGHTS.items() if role in rs}
    assert held == expected
    if role == SUPPORT:
        assert "hosting.reveal_secret" not in held  # held through change_service until now
        assert not {r for r in held if r.startswith(("billing.", "affiliates.", "orders."))}


# Each action through its page ----------------------------------------------------------------


def test_refund_needs_its_right(client_as):
    payment = pay(make_invoice(), "50.00")
    url = reverse("billing:refund-create", args=[payment.pk])
    data = {
        "amount": "10.00",
        "transaction_id": "",
        "reason": "Asked for it",
        "reason_code": "other",
    }
    take_away(BILLING, "billing.refund_payment")
    assert client_as(BILLING).post(url, data).status_code == 403
    assert client_as(BILLING).get(payment.get_absolute_url()).content.count(b"/refund/") == 0
    grant(BILLING, "billing.refund_payment")
    assert client_as(BILLING).post(url, data).status_code == 302
    assert Transaction.objects.filter(kind="refund").count() == 1


@pytest.mark.parametrize(
    ("action", "right"), [("add", "billing.add_credit"), ("remove", "billing.remove_credit")]
)
def test_adding_and_removing_credit_need_their_rights(client_as, action, right):
    customer = ClientFactory()
    billing.add_credit(client=customer, amount=Decimal("20.00"), reason="Start", actor=None)
    url = reverse("billing:credit-change", args=[customer.pk])
    data = {"action": action, "amount": "5.00", "reason": "Goodwill", "reason_code": "goodwill"}
    take_away(BILLING, right)
    response = client_as(BILLING).post(url, data)
    assert response.status_code == 400 and _not_allowed(response, "action")
    assert billing.credit_balance(customer) == Decimal("20.00")
    grant(BILLING, right)
    assert client_as(BILLING).post(url, data).status_code == 302
    assert billing.credit_balance(customer) == Decimal("25.00" if action == "add" else "15.00")


def test_mark_paid_without_money_needs_its_right_not_change_invoice(client_as):
    invoice = make_invoice()
    url = reverse("billing:invoice-mark-paid", args=[invoice.pk])
    take_away(BILLING, "billing.mark_paid_without_payment")
    http = client_as(BILLING)
    assert http.post(url, {"reason": "Settled by phone"}).status_code == 403
    assert b"/mark-paid/" not in http.get(invoice.get_absolute_url()).content
    grant(BILLING, "billing.mark_paid_without_payment")
    settled = {"reason": "Settled by phone", "reason_code": "settled_outside"}
    assert client_as(BILLING).post(url, settled).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_without_payment


def test_cancelling_an_invoice_that_took_money_needs_its_right(client_as):
    paid_into, untouched = make_invoice(), make_invoice()
    pay(paid_into, "30.00")
    data = {"reason": "Ordered by mistake", "paid_to_credit": "on"}
    take_away(BILLING, "billing.cancel_paid_invoice")
    http = client_as(BILLING)
    response = http.post(reverse("billing:invoice-status", args=[paid_into.pk, "cancelled"]), data)
    assert response.status_code == 400 and _not_allowed(response, None)
    # An invoice without money still cancels with change_invoice alone.
    cancel = reverse("billing:invoice-status", args=[untouched.pk, "cancelled"])
    assert http.post(cancel, {"reason": "Duplicate"}).status_code == 302
    grant(BILLING, "billing.cancel_paid_invoice")
    response = client_as(BILLING).post(
        reverse("billing:invoice-status", args=[paid_into.pk, "cancelled"]), data
    )
    assert response.status_code == 302
    assert set(Invoice.objects.values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.parametrize("page", ["payment", "transaction", "split"])
def test_dating_money_before_today_needs_its_right(client_as, page):
    invoice = make_invoice()
    url = {
        "payment": reverse("billing:payment-create", args=[invoice.pk]),
        "transaction": reverse("billing:transaction-create"),
        "split": reverse("billing:client-payment-create", args=[invoice.client_id]),
    }[page]
    data = {"gateway": "bank_transfer", "fees": "0", "audit_reason": "Bank statement"}
    data |= {"amount": "10.00", "direction": "in", "description": "Cash", "currency": "USD"}
    data |= {"client": invoice.client_id, f"invoice_{invoice.pk}": "10.00"}
    take_away(BILLING, "billing.backdate_transaction")
    response = client_as(BILLING).post(url, {**data, "date": "2020-01-01T10:00"})
    assert response.status_code == 400 and _not_allowed(response, "date")
    assert not Transaction.objects.exists()
    # Today needs no right.
    assert client_as(BILLING).post(url, {**data, "date": NOW}).status_code == 302
    grant(BILLING, "billing.backdate_transaction")
    assert client_as(BILLING).post(url, {**data, "date": "2020-01-01T10:00"}).status_code == 302
    assert Transaction.objects.count() == 2


def test_ordering_at_a_price_other_than_the_catalogs_needs_its_right(client_as):
    from tests.orders.test_views import order_post, product_row

    catalog, customer = make_catalog(), ClientFactory()
    url = reverse("orders:order-create")
    typed = order_post(
        customer, [product_row(catalog, price="3.00")], action="place", audit_reason="Friend"
    )
    take_away(BILLING, "hosting.override_price")
    response = client_as(BILLING).post(url, typed)
    assert response.status_code == 400 and _not_allowed(response, None)
    plain = order_post(customer, [product_row(catalog)], action="place")
    assert client_as(BILLING).post(url, plain).status_code == 302
    grant(BILLING, "hosting.override_price")
    assert client_as(BILLING).post(url, typed).status_code == 302
    assert Order.objects.count() == 2


def test_a_plan_change_at_a_price_other_than_the_catalogs_needs_its_right(client_as):
    catalog = make_catalog()
    service = ServiceFactory(
        product=catalog.basic,
        recurring_amount=Decimal("5.00"),
        next_due_date=timezone.localdate() + dt.timedelta(days=15),
    )
    url = reverse("orders:service-change", args=[service.pk])
    data = {"product": catalog.pro.pk, "billing_cycle": "monthly", "recurring_amount": "7.77"}
    data |= {"audit_reason": "Loyal", "action": "preview"}
    take_away(BILLING, "hosting.override_price")
    response = client_as(BILLING).post(url, data)
    assert response.status_code == 400 and _not_allowed(response, "recurring_amount")
    assert client_as(BILLING).post(url, {**data, "recurring_amount": ""}).status_code == 200
    grant(BILLING, "hosting.override_price")
    assert client_as(BILLING).post(url, data).status_code == 200


@pytest.mark.parametrize("what", ["service", "domain"])
def test_revealing_a_secret_needs_its_right_and_support_no_longer_has_it(client_as, what):
    if what == "service":
        record = ServiceFactory()
        url = reverse("hosting:service-password", args=[record.pk])
    else:
        record = DomainFactory()
        url = reverse("hosting:domain-epp", args=[record.pk])
    http = client_as(SUPPORT)
    assert http.post(url, {"audit_reason": "Client on the phone"}).status_code == 403
    assert b"Reveal" not in http.get(record.get_absolute_url()).content
    asked = {"audit_reason": "Client on the phone", "reason_code": "client_request"}
    assert client_as(ADMIN).post(url, asked).status_code == 200
    grant(SUPPORT, "hosting.reveal_secret")
    assert client_as(SUPPORT).post(url, asked).status_code == 200


def test_changing_a_clients_currency_needs_its_right(client_as):
    customer = ClientFactory(email="a@example.com", currency="USD")
    url = reverse("clients:client-update", args=[customer.pk])
    data = {**client_form_data(), "email": customer.email, "currency": "EUR", "status": "active"}
    response = client_as(SUPPORT).post(url, data)
    assert response.status_code == 400 and _not_allowed(response, "currency")
    customer.refresh_from_db()
    assert customer.currency == "USD"
    # Other edits need no right.
    same = {**data, "currency": "USD", "phone": ""}
    assert client_as(SUPPORT).post(url, same).status_code == 302
    assert client_as(BILLING).post(url, data).status_code == 302
    customer.refresh_from_db()
    assert customer.currency == "EUR"


def test_paying_out_an_affiliate_needs_its_right(client_as):
    affiliate = enrol()
    cleared_commission(affiliate, "80.00")
    url = reverse("affiliates:payout-create", args=[affiliate.pk])
    data = {
        "amount": "50.00",
        "method": "credit",
        "gateway": "",
        "reference": "",
        "reason": "",
        "reason_code": "scheduled",
    }
    take_away(BILLING, "affiliates.pay_out_affiliate")
    assert client_as(BILLING).post(url, data).status_code == 403
    assert b"/payout" not in client_as(BILLING).get(affiliate.get_absolute_url()).content
    grant(BILLING, "affiliates.pay_out_affiliate")
    assert client_as(BILLING).post(url, data).status_code == 302


# The same actions through the Django admin ---------------------------------------------------


def test_the_admin_makes_a_clients_currency_read_only_without_the_right(client_as):
    customer = ClientFactory(currency="USD")
    url = reverse("admin:clients_client_change", args=[customer.pk])
    page = client_as(SUPPORT).get(url)
    assert "currency" not in page.context["adminform"].form.fields
    take_away(BILLING, "clients.change_client_currency")
    assert "currency" not in client_as(BILLING).get(url).context["adminform"].form.fields
    grant(BILLING, "clients.change_client_currency")
    assert "currency" in client_as(BILLING).get(url).context["adminform"].form.fields


def test_the_admin_offers_no_other_path_to_a_sensitive_action(make_staff, rf):
    """Money, credit, payouts and reveals are read-only in the admin, even for an Admin: the
    only way to refund, credit, mark paid, pay out or reveal is the page that checks the right
    (bulk cancel goes through the service, which refuses an invoice that took money)."""
    from django.contrib import admin

    from affiliates.models import Payout
    from billing.models import CreditEntry
    from hosting.models import Domain, SecretReveal, Service

    request = rf.get("/")
    request.user = make_staff(ADMIN)
    for model in (Transaction, CreditEntry, Payout, SecretReveal):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request, model()), model
    assert set(admin.site._registry[Invoice].get_actions(request)) <= {
        "delete_selected",
        "cancel_selected",
    }
    for model in (Service, Domain):  # the secrets are not editable fields
        form = admin.site._registry[model].get_form(request)
        assert not {"password", "epp_code"} & set(form.base_fields)


def test_the_admin_bulk_cancel_refuses_an_invoice_that_took_money(client_as):
    paid_into, untouched = make_invoice(), make_invoice()
    pay(paid_into, "10.00")
    http = client_as(ADMIN)
    url = reverse("admin:billing_invoice_changelist")
    for invoice in (paid_into, untouched):
        http.post(
            url,
            {"action": "cancel_selected", "_selected_action": [invoice.pk], "audit_reason": "x"},
        )
    paid_into.refresh_from_db()
    untouched.refresh_from_db()
    assert (paid_into.status, untouched.status) == ("unpaid", "cancelled")


# Roles: the page, the trail, and migrate ------------------------------------------------------


@pytest.mark.parametrize("role", [BILLING, SUPPORT, READ_ONLY])
def test_only_admins_see_the_roles_page(client_as, role):
    assert client_as(role).get(reverse("audit:roles")).status_code == 403
    page = client_as(ADMIN).get(reverse("audit:roles"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Refund a payment" in body and "Reveal a stored password or EPP code" in body


def test_editing_a_role_needs_a_reason_and_is_in_the_trail(client_as):
    role = Group.objects.get(name=BILLING)
    url = reverse("audit:role-edit", args=[role.pk])
    refund = _permission("billing.refund_payment")
    kept = [str(pk) for pk in role.permissions.exclude(pk=refund.pk).values_list("pk", flat=True)]
    http = client_as(ADMIN)
    assert http.get(url).status_code == 200
    response = http.post(url, {"permissions": kept, "reason": ""})
    assert response.status_code == 400 and response.context["form"].errors["reason"]
    assert role.permissions.filter(pk=refund.pk).exists()
    assert (
        http.post(url, {"permissions": kept, "reason": "Refunds go to Admins"}).status_code == 302
    )
    assert not role.permissions.filter(pk=refund.pk).exists()
    event = (
        event_model_for(StaffRolePermission)
        .objects.filter(pgh_label="delete", permission_id=refund.pk, group_id=role.pk)
        .select_related("pgh_context")
        .get()
    )
    assert event.pgh_context.metadata["reason"] == "Refunds go to Admins"
    assert event.pgh_context.metadata["action"] == "audit.set_role_permissions"
    assert (
        client_as(BILLING)
        .post(
            reverse("billing:refund-create", args=[pay(make_invoice(), "5.00").pk]),
            {"amount": "1.00", "reason": "x"},
        )
        .status_code
        == 403
    )


def test_migrate_keeps_an_admins_changes_and_offers_new_rights_once(client_as):
    billing_role = Group.objects.get(name=BILLING)
    refund = _permission("billing.refund_payment")
    delete_client = _permission("clients.delete_client")
    http = client_as(ADMIN)
    kept = set(billing_role.permissions.values_list("pk", flat=True)) - {refund.pk}
    http.post(
        reverse("audit:role-edit", args=[billing_role.pk]),
        {"permissions": [str(pk) for pk in kept | {delete_client.pk}], "reason": "Our desk"},
    )
    sync_roles()
    assert not billing_role.permissions.filter(pk=refund.pk).exists()  # still removed
    assert billing_role.permissions.filter(pk=delete_client.pk).exists()  # still granted
    # A permission new since the last sync is offered per the defaults, once.
    new = Permission.objects.create(
        codename="view_thing",
        name="Can view thing",
        content_type=ContentType.objects.get_for_model(Client),
    )
    sync_roles()
    assert all(Group.objects.get(name=r).permissions.filter(pk=new.pk).exists() for r in ROLES)
    Group.objects.get(name=READ_ONLY).permissions.remove(new)
    sync_roles()
    assert not Group.objects.get(name=READ_ONLY).permissions.filter(pk=new.pk).exists()


def test_a_hosting_accounts_price_other_than_the_catalogs_needs_its_right(client_as):
    catalog = make_catalog()
    service = ServiceFactory(product=catalog.basic, recurring_amount=Decimal("5.00"))
    url = reverse("hosting:service-update", args=[service.pk])
    page = client_as(ADMIN).get(url)
    data = {
        name: ("" if value is None else value)
        for name, value in page.context["form"].initial.items()
        if name in page.context["form"].fields
    }
    data |= {"recurring_amount": "1.23", "audit_reason": "Friend of the house"}
    response = client_as(SUPPORT).post(url, data)
    assert response.status_code == 400 and _not_allowed(response, "recurring_amount")
    service.refresh_from_db()
    assert service.recurring_amount == Decimal("5.00")
    assert client_as(BILLING).post(url, data).status_code == 302
    service.refresh_from_db()
    assert service.recurring_amount == Decimal("1.23") and service.price_overridden


def test_the_django_admin_changes_a_roles_rights_only_with_a_reason(client_as):
    role = Group.objects.get(name=BILLING)
    refund = _permission("billing.refund_payment")
    kept = [str(pk) for pk in role.permissions.exclude(pk=refund.pk).values_list("pk", flat=True)]
    url = reverse("admin:auth_group_change", args=[role.pk])
    http = client_as(ADMIN)
    response = http.post(url, {"name": BILLING, "permissions": kept, "audit_reason": ""})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert role.permissions.filter(pk=refund.pk).exists()
    response = http.post(url, {"name": BILLING, "permissions": kept, "audit_reason": "Admins"})
    assert response.status_code == 302
    assert not role.permissions.filter(pk=refund.pk).exists()
    event = event_model_for(StaffRolePermission).objects.get(
        pgh_label="delete", permission_id=refund.pk, group_id=role.pk
    )
    assert event.pgh_context.metadata["reason"] == "Admins"
    sync_roles()
    assert not role.permissions.filter(pk=refund.pk).exists()
