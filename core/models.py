from collections.abc import Callable
from typing import Any, TypedDict

from django.db import models


class DecimalShape(TypedDict):
    """A decimal field's size, spread into fields as ``**MONEY``; typed so mypy checks it."""

    max_digits: int
    decimal_places: int


class CheckedDecimalShape(DecimalShape):
    """A decimal field's size and its checks (``**RATE``)."""

    validators: list[Callable[[Any], None]]


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField("created", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        abstract = True


class RoleOffer(models.Model):
    """A permission a role has been given by the defaults once (``core.roles.sync_roles``).

    Sync grants only permissions never offered to the role before, so what an Admin removed
    stays removed and what an Admin granted stays granted. Not audited: bookkeeping of the
    sync; the grants themselves are (the role-permission rows are tracked).
    """

    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    permission = models.ForeignKey("auth.Permission", on_delete=models.CASCADE, related_name="+")
    offered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "permission"], name="core_roleoffer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.permission_id}"
