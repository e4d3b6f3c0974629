from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit.context import command_context


class AuditedCommand(BaseCommand):
    """Base for the project's commands: their writes carry channel ``command`` and the name.

    ``manage.py`` opens the same context for every command; this base also covers
    ``call_command`` from code and tests.
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        name = self.__module__.rsplit(".", 1)[-1]
        with command_context(name):
            return super().execute(*args, **options)
