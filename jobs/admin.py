"""The queue's jobs in the Django admin, for Admins (the only role with ``view`` on them):
read-only, without procrastinate's retry/cancel/abort actions, which would change jobs
without a reason. A failed job shows its attempts and the events of each."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from procrastinate.contrib.django import models
from procrastinate.contrib.django.admin import ProcrastinateEventInline, ProcrastinateJobAdmin


class ReadOnlyEventInline(ProcrastinateEventInline):
    """A job's events (deferred, started, retried, failed…), shown, never edited."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ReadOnlyJobAdmin(ProcrastinateJobAdmin):
    actions: list[Any] = []
    inlines = [ReadOnlyEventInline]


if admin.site.is_registered(models.ProcrastinateJob):
    admin.site.unregister(models.ProcrastinateJob)
admin.site.register(models.ProcrastinateJob, ReadOnlyJobAdmin)
