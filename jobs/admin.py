"""The queue's jobs in the Django admin, for Admins (the only role with ``view`` on them):
read-only, without procrastinate's retry/cancel/abort actions, which would change jobs
without a reason. A failed job shows its attempts and the events of each."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from procrastinate.contrib.django import models
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin


class ReadOnlyJobAdmin(ProcrastinateJobAdmin):
    actions: list[Any] = []


if admin.site.is_registered(models.ProcrastinateJob):
    admin.site.unregister(models.ProcrastinateJob)
admin.site.register(models.ProcrastinateJob, ReadOnlyJobAdmin)
