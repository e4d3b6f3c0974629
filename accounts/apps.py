from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        # Login time and lockouts in the staff sessions; the sidebar's Sign-in security entry.
        from accounts import extensions, signals  # noqa: F401
