from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from django.apps import apps

    from core.roles import sync_roles

    # post_migrate is sent once per app with models, in INSTALLED_APPS order, and each app's
    # permissions are created by its own turn: sync once, after the last app's permissions exist.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is with_models[-1]:
        sync_roles()


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        # Permissions of models added later are created by post_migrate; give them to the roles.
        post_migrate.connect(_sync_roles, dispatch_uid="core.sync_roles")
        from core import extensions  # noqa: F401  (the Dashboard link of the sidebar)
