from django.apps import AppConfig


class HostingConfig(AppConfig):
    name = "hosting"

    def ready(self) -> None:
        # The client profile's Products/Services and Domains tabs, a dashboard panel, the
        # sidebar's sections (core/extension_points.py).
        from hosting import extensions  # noqa: F401
