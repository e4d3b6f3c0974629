"""Every staff user has the Django admin (ticket assignment needs ``is_staff``), so what each role
may change there is what it may do in the app. Access rules (department roles, admin-only
flags, custom field definitions, client groups, roles and users) are Admin decisions (issue 15
items 13 and 15)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from clients.models import ClientGroup, CustomField
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.admin_forms import change_form_data
from tests.factories.clients import ClientFactory, CustomFieldFactory
from tests.factories.support import DepartmentFactory, open_ticket
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db

ACCESS_RULES = {
    ("support", "department"),
    ("support", "departmentrole"),
    ("clients", "customfield"),
    ("clients", "clientgroup"),
    ("auth", "group"),
    ("auth", "user"),
    ("auth", "permission"),
}
ACCESS_PERMISSIONS = {
    ("clients", "manage_admin_only_fields"),
    ("support", "see_all_departments"),
}


def _permissions(role: str) -> set[tuple[str, str, str]]:
    return set(
        Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "content_type__model", "codename"
        )
    )


@pytest.mark.parametrize("role", [BILLING, SUPPORT, READ_ONLY])
def test_only_admins_may_change_access_rules(role):
    held = _permissions(role)
    writes = {p for p in held if p[:2] in ACCESS_RULES and not p[2].startswith("view_")}
    assert writes == set()
    assert not {(app, codename) for app, _, codename in held} & ACCESS_PERMISSIONS


def test_admins_hold_every_access_rule_permission():
    held = _permissions(ADMIN)
    for app, model in ACCESS_RULES:
        for verb in ("add", "change", "delete"):
            assert (app, model, f"{verb}_{model}") in held
    assert {(app, codename) for app, _, codename in held} >= ACCESS_PERMISSIONS


def test_support_cannot_grant_itself_a_restricted_department_in_the_admin(
    client_as, staff_client, staff_admin
):
    billing, support = Group.objects.get(name=BILLING), Group.objects.get(name=SUPPORT)
    department = DepartmentFactory(name="Billing disputes")
    department.roles.add(billing)
    ticket = open_ticket(actor=staff_admin, department=department, suppress_email=True)
    url = reverse("admin:support_department_change", args=[department.pk])
    data = change_form_data(staff_client.get(url))
    n = int(data["departmentrole_set-TOTAL_FORMS"])
    data.update(
        {
            "departmentrole_set-TOTAL_FORMS": str(n + 1),
            f"departmentrole_set-{n}-department": str(department.pk),
            f"departmentrole_set-{n}-role": str(support.pk),
            "audit_reason": "I need to see these",
        }
    )
    http = client_as(SUPPORT)
    assert http.post(url, data).status_code == 403
    assert set(department.roles.all()) == {billing}
    assert http.get(ticket.get_absolute_url()).status_code == 404
    # The same form is a valid change for an Admin.
    assert staff_client.post(url, data).status_code == 302
    assert set(department.roles.all()) == {billing, support}


@pytest.mark.parametrize("role", [BILLING, SUPPORT])
def test_other_roles_cannot_clear_admin_only_on_a_custom_field(role, client_as, staff_client):
    field = CustomFieldFactory(name="Risk score", admin_only=True)
    url = reverse("admin:clients_customfield_change", args=[field.pk])
    data = change_form_data(staff_client.get(url))
    data.pop("admin_only")
    data["audit_reason"] = "want to read it"
    http = client_as(role)
    assert http.post(url, data).status_code == 403
    field.refresh_from_db()
    assert field.admin_only
    customer = ClientFactory()
    edit = http.get(reverse("clients:client-update", args=[customer.pk])).content.decode()
    assert "Risk score" not in edit
    assert staff_client.post(url, data).status_code == 302  # a valid change, for an Admin
    field.refresh_from_db()
    assert not field.admin_only


@pytest.mark.parametrize("role", [BILLING, SUPPORT])
def test_only_admins_define_custom_fields_and_client_groups(role, client_as, staff_client):
    http = client_as(role)
    field = {"name": "Reseller ID", "field_type": "text", "display_order": 0, "active": "on"}
    group = {"name": "VIP", "colour": "#ff0000", "audit_reason": "new tier"}
    assert http.post(reverse("admin:clients_customfield_add"), field).status_code == 403
    assert http.post(reverse("admin:clients_clientgroup_add"), group).status_code == 403
    assert not CustomField.objects.exists() and not ClientGroup.objects.exists()
    assert staff_client.post(reverse("admin:clients_customfield_add"), field).status_code == 302
    assert staff_client.post(reverse("admin:clients_clientgroup_add"), group).status_code == 302


def _admin_writes(role: str | None, **user) -> set[str]:
    """Every "app.model:verb" the role may do in the Django admin."""
    request = RequestFactory().get("/admin/")
    request.user = StaffFactory(role=role, **user)
    writes = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        for verb in ("add", "change", "delete"):
            check = getattr(model_admin, f"has_{verb}_permission")
            if check(request):
                writes.add(f"{label}:{verb}")
    return writes


def _both(*labels: str) -> set[str]:
    return {f"{label}:{verb}" for label in labels for verb in ("add", "change")}


# What the app lets each role enter and edit; the admin offers the same, never more. No deletes
# (deleting is an Admin's call), no access rules, and add-ons are changed on the account page
# through the services (with the transition map and reasons), so not in the admin at all.
DESK_RECORDS = _both("clients.client", "clients.contact", "clients.note")
DESK_RECORDS |= _both("hosting.service", "hosting.domain")
ADMIN_WRITES = {
    SUPPORT: DESK_RECORDS | _both("kb.category") | {"support.ticket:change"},
    BILLING: DESK_RECORDS
    | _both("billing.billableitem", "billing.invoiceseries", "billing.taxrule", "orders.promotion")
    | {"billing.invoice:change", "orders.order:change", "affiliates.commission:change"},
    READ_ONLY: set(),
    None: set(),
}


@pytest.mark.parametrize("role", [SUPPORT, BILLING, READ_ONLY, None])
def test_what_each_role_may_change_in_the_admin(role):
    assert _admin_writes(role) == ADMIN_WRITES[role]


def test_admins_change_access_rules_in_the_admin_and_nobody_changes_add_ons_there():
    writes = _admin_writes(ADMIN)
    assert {"support.department:change", "clients.customfield:change", "auth.group:change"} <= (
        writes
    )
    assert {"clients.clientgroup:add", "auth.user:change"} <= writes
    assert "hosting.addon:change" not in writes
    assert "hosting.addon:change" not in _admin_writes(None, is_superuser=True)


def test_every_inline_that_can_delete_rows_asks_for_a_reason(staff_admin):
    from audit.admin import AuditedInlineFormSet

    request = RequestFactory().get("/admin/")
    request.user = staff_admin
    for model, model_admin in admin.site._registry.items():
        for inline in model_admin.get_inline_instances(request):
            if inline.has_delete_permission(request, None):
                assert issubclass(inline.formset, AuditedInlineFormSet), (model, inline)
