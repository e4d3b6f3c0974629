from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # Notes, emails and the client's audit entries on the client timeline.
        from clients import timeline_sources  # noqa: F401
