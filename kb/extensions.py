"""What the knowledgebase registers (``core/extension_points.py``): its sidebar section."""

from __future__ import annotations

from core.extension_points import NavSection, register

register(NavSection("kb", "Knowledgebase", "kb:article-list", "kb.view_article"))
