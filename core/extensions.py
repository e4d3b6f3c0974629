"""What core adds: the Dashboard link at the top of the sidebar."""

from __future__ import annotations

from core.extension_points import NavSection, register

register(NavSection("dashboard", "Dashboard", "core:dashboard", None))
