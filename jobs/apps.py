from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background work: the task decorator, the job admin, ``make run``'s worker."""

    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        # The sidebar's Background jobs entry.
        from jobs import extensions  # noqa: F401
