"""Staff roles as Django groups, the permissions each one holds by default, and the named
rights for sensitive actions.

A role's permissions are the Admins' to change (the Roles page, ``audit.services``). After every
``migrate`` :func:`sync_roles` offers each role the defaults it has never been offered (a
permission of a model added later, a new right), once: what an Admin removed is not given back,
what an Admin granted is not taken away (``core.models.RoleOffer`` remembers what was offered).
Admin is offered everything, the others what their desk needs.
"""

from __future__ import annotations

from typing import Any

ADMIN = "Admin"
BILLING = "Billing"
SUPPORT = "Support"
READ_ONLY = "Read-only"
ROLES = (ADMIN, BILLING, SUPPORT, READ_ONLY)

BUSINESS_APPS = (
    "clients",
    "hosting",
    "billing",
    "orders",
    "support",
    "affiliates",
    "kb",
    "approvals",
)

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


# Rights for single sensitive actions (custom permissions on the owning models'
# ``Meta.permissions``), each checked by its views and admin paths, and the roles that hold it
# by default besides Admin. Deleting needs the model's own ``delete_*`` permission (one per kind
# of record), which only Admin holds by default.
RIGHTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "billing.refund_payment": ("Refund a payment", (BILLING,)),
    "billing.add_credit": ("Add credit to a client", (BILLING,)),
    "billing.remove_credit": ("Remove credit from a client", (BILLING,)),
    "billing.mark_paid_without_payment": ("Mark an invoice paid without a payment", (BILLING,)),
    "billing.cancel_paid_invoice": ("Cancel an invoice that has taken money", (BILLING,)),
    "billing.backdate_transaction": ("Date a payment or transaction before today", (BILLING,)),
    # Support no longer sets a hosting account's price other than the catalog's.
    "hosting.override_price": ("Use a price other than the catalog's", (BILLING,)),
    "clients.change_client_currency": ("Change a client's currency", (BILLING,)),
    "affiliates.pay_out_affiliate": ("Pay out an affiliate", (BILLING,)),
    # Support held this through ``hosting.change_service`` until it became a right of its own.
    "hosting.reveal_secret": ("Reveal a stored password or EPP code", ()),
    # The review queue (issue 19): a second pair of eyes on flagged entries of the trail.
    "review.review_entry": ("Review flagged entries of the audit trail", ()),
    # Admins only: the audit entry pages it is used from are theirs (``audit.review_audit``).
    "audit.revert_entry": ("Revert a field edit from the audit trail", ()),
}


def _rights(entries: Any) -> Any:
    from django.db.models import Q

    where = Q(pk__in=[])
    for label in entries:
        app, _, codename = label.partition(".")
        where |= Q(content_type__app_label=app, codename=codename)
    return where


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
    # A right is held only where RIGHTS says so (``add_credit`` is not "add" of a model).
    rights = perms.filter(_rights(label for label, (_t, roles) in RIGHTS.items() if role in roles))
    return (view | edit).exclude(_rights(RIGHTS)) | rights


def sync_roles(*, apps: Any = None) -> None:
    """Create the role groups if missing and give each the default permissions it has never
    been offered; nothing is taken away."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    try:
        offer_model = apps.get_model("core", "RoleOffer")
    except LookupError:  # the first migration, before the table exists: a fresh database
        offer_model = None
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = permissions_for(role, permission_model)
        if offer_model is None:
            group.permissions.add(*wanted)
            continue
        offered = offer_model.objects.filter(group=group).values("permission_id")
        new = list(wanted.exclude(pk__in=offered))
        if new:
            group.permissions.add(*new)
            offer_model.objects.bulk_create(
                [offer_model(group=group, permission=p) for p in new], ignore_conflicts=True
            )


def record_offered(*, group: Any, permission_ids: Any) -> None:
    """Count these permissions as offered to ``group``: an Admin's choice about them is final."""
    from core.models import RoleOffer

    RoleOffer.objects.bulk_create(
        [RoleOffer(group=group, permission_id=pk) for pk in permission_ids], ignore_conflicts=True
    )


def plain(permission: Any) -> str:
    """A permission in plain words: a right's title, or "Add invoice" for "Can add invoice"."""
    label = f"{permission.content_type.app_label}.{permission.codename}"
    if label in RIGHTS:
        return RIGHTS[label][0]
    name = permission.name.removeprefix("Can ")
    return name[:1].upper() + name[1:]
