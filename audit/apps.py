from typing import Any

from django.apps import AppConfig
from django.db.models.signals import class_prepared

from audit.tracking import on_class_prepared

# Connected when the app registry imports this module, i.e. before any app's models module is
# imported, so every business model is tracked as its class is created.
class_prepared.connect(on_class_prepared, dispatch_uid="audit.track_business_models")


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # System checks, login/logout receivers; the sidebar's Audit sections, a dashboard panel.
        from audit import checks, extensions, signals  # noqa: F401
        from audit.db import on_post_migrate
        from audit.metrics import seal_lag_seconds
        from core.health import register_info
        from core.metrics import register_figure

        register_info("audit_seal_lag_seconds", seal_lag_seconds)
        register_figure(
            "whmcs_audit_seal_lag_seconds",
            "Seconds since the newest audit seal (NaN before the first).",
            seal_lag_seconds,
        )

        # Grants for new event tables and the hardened trigger check, after every migrate.
        post_migrate.connect(on_post_migrate, dispatch_uid="audit.grants_and_hardening")
        post_migrate.connect(
            _ship_reason_codes, sender=self, dispatch_uid="audit.ship_reason_codes"
        )


def _ship_reason_codes(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if using == "default":
        from audit.reasons import ship_defaults

        ship_defaults()
