from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from core.db import is_last_app_migrated
    from core.roles import sync_roles

    # Each app's permissions are created by its own post_migrate: sync once, after the last.
    if is_last_app_migrated(sender):
        sync_roles()


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        # Permissions of models added later are created by post_migrate; give them to the roles.
        post_migrate.connect(_sync_roles, dispatch_uid="core.sync_roles")
        from core import extensions  # noqa: F401  (the Dashboard link of the sidebar)
