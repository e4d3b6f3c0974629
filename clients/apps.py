from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # The profile's own tabs, timeline entries, a dashboard panel, the sidebar's Clients
        # section and the set-password email body (core/extension_points.py).
        from clients import extensions  # noqa: F401
        from clients.metrics import outbox_queued_emails
        from core.metrics import register_figure

        register_figure(
            "whmcs_outbox_queued_emails",
            "Emails waiting in the outbox (status queued).",
            outbox_queued_emails,
        )
