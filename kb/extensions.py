"""What the knowledgebase registers (``core/extension_points.py``): its sidebar section."""

from __future__ import annotations

from typing import Any

from core.extension_points import NavSection, Reverter, register
from kb import services
from kb.models import Article

register(NavSection("kb", "Knowledgebase", "kb:article-list", "kb.view_article"))


def _revert_article(
    *, record: Article, values: dict[str, Any], actor: Any, reason: str, version: int
) -> Article:
    # A new revision like any save: the article's revision list shows the revert too.
    return services.save_article(
        article=record, data=values, actor=actor, reason=reason, version=version
    )


def _edit_article(*, record: Article) -> tuple[str, str]:
    return "Edit the article, or bring back an earlier revision.", record.get_absolute_url()


# Undo of a plain edit from the audit trail (``audit/revert.py``).
register(
    Reverter(
        "kb.article",
        fields=services.ARTICLE_FIELDS,
        # What a save works out again: the HTML, who saved, when it was first published.
        derived=("body_html", "updated_by", "published_at"),
        revert=_revert_article,
        instead=_edit_article,
    )
)
