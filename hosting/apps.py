from django.apps import AppConfig


class HostingConfig(AppConfig):
    name = "hosting"

    def ready(self) -> None:
        # Adds Services and Domains to the client profile, and a panel to the dashboard.
        from hosting import dashboard, profile_tabs  # noqa: F401
