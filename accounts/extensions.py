"""The accounts app's place in the shared screens (core/extension_points.py)."""

from core.extension_points import NavSection, register

register(
    NavSection(
        "sign-in-security",
        "Sign-in security",
        "accounts:staff",
        "auth.change_user",
        heading="Audit",
    ),
)
