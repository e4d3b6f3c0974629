from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _default_rules(sender: AppConfig, **kwargs: Any) -> None:
    from core.db import is_last_app_migrated
    from review.rules import ensure_default_rules

    # Once, after the last app: the rules are rows of a tracked table (their creation is an
    # entry of the trail like any other).
    if is_last_app_migrated(sender):
        ensure_default_rules()


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Review queue"

    def ready(self) -> None:
        # The dashboard's count waiting and the sidebar's Review queue (core/extension_points.py).
        from review import extensions  # noqa: F401

        post_migrate.connect(_default_rules, dispatch_uid="review.default_rules")
