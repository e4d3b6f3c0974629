from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and ``manage.py seed_demo``: the one app that may import every other (nothing
    imports it but the tests and the benchmark). ``demo/<app>.py`` holds each app's demo rows."""

    name = "demo"
    verbose_name = "Demo data"
