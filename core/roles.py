"""Staff roles as Django groups, and the permissions each one holds.

Roles are synced after every ``migrate`` so a model added later is covered without a new data
migration: Admin gets everything, the others get what their desk needs.
"""

from __future__ import annotations

from typing import Any

ADMIN = "Admin"
BILLING = "Billing"
SUPPORT = "Support"
READ_ONLY = "Read-only"
ROLES = (ADMIN, BILLING, SUPPORT, READ_ONLY)

BUSINESS_APPS = ("clients", "hosting", "billing", "orders", "support", "affiliates", "kb")

# Apps where the role enters and edits records (no deletes: deleting is an Admin's call).
EDITS = {
    BILLING: ("clients", "billing", "orders"),
    SUPPORT: ("clients", "support", "kb"),
    READ_ONLY: (),
}


def permissions_for(role: str, permission_model: Any) -> Any:
    perms = permission_model.objects.all()
    if role == ADMIN:
        return perms
    view = perms.filter(content_type__app_label__in=BUSINESS_APPS, codename__startswith="view_")
    edit = perms.filter(
        content_type__app_label__in=EDITS[role],
        codename__regex=r"^(add|change|view)_",
    )
    return view | edit


def sync_roles(*, apps: Any = None) -> None:
    """Create the role groups if missing and give each exactly its permissions."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set(permissions_for(role, permission_model))
