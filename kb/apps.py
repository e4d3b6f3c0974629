from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledgebase"

    def ready(self) -> None:
        # The sidebar's Knowledgebase section (core/extension_points.py).
        from kb import extensions  # noqa: F401
