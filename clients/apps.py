from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # Notes, emails and the client's audit entries on the client timeline; the outbox's
        # renderer of set-password links (in services).
        from clients import services, timeline_sources  # noqa: F401
        from clients.metrics import outbox_queued_emails
        from core.metrics import register_figure

        register_figure(
            "whmcs_outbox_queued_emails",
            "Emails waiting in the outbox (status queued).",
            outbox_queued_emails,
        )
