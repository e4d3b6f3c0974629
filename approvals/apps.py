from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals (four eyes)"

    def ready(self) -> None:
        # The approvals queue in the sidebar and the dashboard panel (core/extension_points.py).
        from approvals import extensions  # noqa: F401
