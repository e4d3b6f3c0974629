from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # Notes, emails and the client's audit entries on the client timeline; the outbox's
        # renderer of set-password links (in services).
        from clients import services, timeline_sources  # noqa: F401
