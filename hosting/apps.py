from django.apps import AppConfig


class HostingConfig(AppConfig):
    name = "hosting"

    def ready(self) -> None:
        from hosting import profile_tabs  # noqa: F401  (adds Services and Domains to the client)
