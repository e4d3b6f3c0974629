"""The Roles page (Admins: ``auth.change_group``): each role's rights in plain words, grouped
by app, and an edit page whose change needs a reason and lands in the audit trail."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView

from audit import services
from core.roles import RIGHTS, ROLES, plain
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, WriteView

MANAGE = "auth.change_group"


def _app_name(label: str) -> str:
    try:
        return str(apps.get_app_config(label).verbose_name)
    except LookupError:
        return label


def _is_right(permission: Permission) -> bool:
    return f"{permission.content_type.app_label}.{permission.codename}" in RIGHTS


def grouped(permissions: Any) -> list[tuple[str, list[tuple[Permission, str, bool]]]]:
    """[(app name, [(permission, plain words, is a named right)])], named rights first."""
    by_app: dict[str, list[tuple[Permission, str, bool]]] = defaultdict(list)
    for permission in permissions:
        by_app[permission.content_type.app_label].append(
            (permission, plain(permission), _is_right(permission))
        )
    return [
        (_app_name(label), sorted(rows, key=lambda r: (not r[2], r[1])))
        for label, rows in sorted(by_app.items(), key=lambda item: _app_name(item[0]))
    ]


def _all_permissions() -> Any:
    return Permission.objects.select_related("content_type").order_by(
        "content_type__app_label", "codename"
    )


class RoleListView(StaffPermissionRequiredMixin, CrumbsMixin, TemplateView):
    permission_required = MANAGE
    template_name = "audit/roles.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        held = defaultdict(list)
        through = Group.permissions.through.objects.select_related(
            "permission__content_type", "group"
        )
        for row in through.filter(group__name__in=ROLES):
            held[row.group_id].append(row.permission)
        roles = list(Group.objects.filter(name__in=ROLES))
        roles.sort(key=lambda g: ROLES.index(g.name))
        context["roles"] = [
            (role, grouped(sorted(held[role.pk], key=lambda p: p.codename))) for role in roles
        ]
        rights = {f"{p.content_type.app_label}.{p.codename}": p for p in _all_permissions()}
        context["rights"] = [
            (title, label, [r.name for r in roles if rights.get(label) in held[r.pk]])
            for label, (title, _defaults) in RIGHTS.items()
        ]
        return context

    def get_current_crumb(self) -> str:
        return "Roles"


class RolePermissionsForm(forms.Form):
    permissions = forms.MultipleChoiceField(
        label="Rights", required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label="Reason for this change",
        max_length=500,
        help_text="Recorded in the audit trail with every right granted or taken away.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = [  # type: ignore[attr-defined]  # a MultipleChoiceField
            (app, [(str(p.pk), f"{words} ★" if right else words) for p, words, right in rows])
            for app, rows in grouped(_all_permissions())
        ]


class RoleEditView(WriteView):
    permission_required = MANAGE
    form_class = RolePermissionsForm
    submit = "Save rights"
    success_message = "Rights saved."

    def get_object(self) -> Group:
        return get_object_or_404(Group, pk=self.kwargs["pk"], name__in=ROLES)

    def get_title(self) -> str:
        return f"Rights of the {self.object.name} role"

    def get_intro(self) -> str:
        return "★ marks a right for a single sensitive action. The change is in the audit trail."

    def get_initial(self) -> dict[str, Any]:
        return {
            "permissions": [str(pk) for pk in self.object.permissions.values_list("pk", flat=True)]
        }

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Roles", reverse("audit:roles"))]

    def get_back_url(self) -> str:
        return reverse("audit:roles")

    def act(self, form: Any) -> Any:
        data = form.cleaned_data
        chosen = Permission.objects.filter(pk__in=[int(pk) for pk in data["permissions"]])
        return services.set_role_permissions(
            role=self.object,
            permissions=chosen,
            actor=self.request.user,  # type: ignore[arg-type]  # a staff page: signed in
            reason=data["reason"],
        )

    def get_success_url(self, result: Any) -> str:
        return reverse("audit:roles")
