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

# Where the role enters and edits records (no deletes: deleting is an Admin's call): whole apps,
# or single models as "app.model". The hosting catalog stays with Admins.
HOSTING_RECORDS = ("hosting.service", "hosting.domain", "hosting.addon", "hosting.secretreveal")
EDITS = {
    # Billing staff log their calls with clients too.
    BILLING: (
        "clients",
        "billing",
        "orders",
        "affiliates",
        "support.communication",
        *HOSTING_RECORDS,
    ),
    SUPPORT: ("clients", "support", "kb", *HOSTING_RECORDS),
    READ_ONLY: (),
}
# Access rules and definitions, Admins' decisions even inside an app a role otherwise edits:
# who sees a department's tickets, which client fields are admin-only (and what every client
# must fill in), client groups. Every staff user has the Django admin, so a permission held here
# is a change that can be made there. Roles and users (auth) are never in EDITS.
ADMIN_ONLY = (
    "clients.customfield",
    "clients.clientgroup",
    "support.department",
    "support.departmentrole",
)


def _models(entries: tuple[str, ...]) -> Any:
    from django.db.models import Q

    where = Q(pk__in=[])
    for entry in entries:
        app, _, model = entry.partition(".")
        where |= Q(content_type__app_label=app, **({"content_type__model": model} if model else {}))
    return where


def permissions_for(role: str, permission_model: Any) -> Any:
    perms = permission_model.objects.all()
    if role == ADMIN:
        return perms
    view = perms.filter(content_type__app_label__in=BUSINESS_APPS, codename__startswith="view_")
    edit = perms.filter(_models(EDITS[role]), codename__regex=r"^(add|change|view)_")
    # Still seen (the view_ permissions above), never changed.
    edit = edit.exclude(_models(ADMIN_ONLY), codename__regex=r"^(add|change)_")
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
