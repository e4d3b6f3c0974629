"""Writing, publishing, revising and searching knowledgebase articles.

Markdown is rendered by markdown-it-py with raw HTML switched off, then cleaned by nh3 with an
allow-list of tags, attributes and URL schemes: no script, no event handler, no ``javascript:``
link survives. Every save stores a revision; restoring one saves it again as a new revision.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import nh3
from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.text import slugify
from markdown_it import MarkdownIt

import audit.context
from audit.edits import refuse_if_changed
from core.rules import constraint_name, require_known_fields
from kb.models import (
    SEARCH_CONFIG,
    Article,
    ArticleRevision,
    ArticleStats,
    ArticleVote,
    Category,
)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "s",
    "blockquote",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
ARTICLE_FIELDS = ("title", "slug", "category", "body", "tags", "status", "visibility")
# Ranking every match of a word found in nearly every article would read them all: only the
# newest candidates are ranked (a title match among them comes first).
RANK_CANDIDATES = 2_000


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show to anyone."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def _clean_tags(tags: str) -> str:
    seen = dict.fromkeys(t.strip().lower() for t in tags.split(",") if t.strip())
    return ", ".join(seen)


def unique_slug(category: Category, text: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(text)[:190] or "article"
    slug, n = base, 1
    taken = Article.objects.filter(category=category)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _revision(article: Article, actor: User, note: str, restored: int | None) -> None:
    last = article.revisions.aggregate(n=Max("number"))["n"] or 0
    ArticleRevision.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        slug=article.slug,
        category=article.category,
        body=article.body,
        tags=article.tags,
        status=article.status,
        visibility=article.visibility,
        note=note.strip()[:300],
        restored_from=restored,
        created_by=actor,
    )


@transaction.atomic
def save_article(
    *,
    data: dict[str, Any],
    actor: User,
    article: Article | None = None,
    reason: str = "",
    related: Iterable[Article] | None = None,
    restored_from: int | None = None,
    version: int | None = None,
) -> Article:
    """Create or change an article; every save keeps a revision. A blank slug is made from the
    title (unique in the category); a typed slug that is taken is refused."""
    require_known_fields(data, ARTICLE_FIELDS)
    if article is not None:
        article = Article.objects.select_for_update().get(pk=article.pk)
        refuse_if_changed(article, version)
    else:
        article = Article(created_by=actor)
    for name, value in data.items():
        setattr(article, name, value)
    article.title = article.title.strip()
    article.tags = _clean_tags(article.tags)
    typed = (data.get("slug") or "").strip()
    if typed:
        article.slug = slugify(typed)[:200]
        clash = Article.objects.filter(category=article.category, slug=article.slug)
        if clash.exclude(pk=article.pk).exists():
            raise ValidationError(
                {
                    "slug": ValidationError(
                        "Another article in this category uses this slug.", code="duplicate_slug"
                    )
                }
            )
    elif not article.slug:
        article.slug = unique_slug(article.category, article.title, exclude_pk=article.pk)
    article.body_html = render_markdown(article.body)
    article.updated_by = actor
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    if article.status == Article.Status.DRAFT:
        article.published_at = None
    action = "kb.create_article" if article.pk is None else "kb.update_article"
    with audit.context.context(action=action, reason=reason, actor=actor):
        article.full_clean(exclude=["body_html"])
        article.save()
        ArticleStats.objects.get_or_create(article=article)
        if related is not None:
            article.related.set([a for a in related if a.pk != article.pk])
        _revision(article, actor, reason, restored_from)
    return article


def set_status(*, article: Article, status: str, actor: User) -> Article:
    reason = "Published" if status == Article.Status.PUBLISHED else "Back to draft"
    return save_article(article=article, data={"status": status}, actor=actor, reason=reason)


def restore_revision(*, article: Article, number: int, actor: User) -> Article:
    """Bring back an old revision's content as a new revision (history is never rewritten)."""
    old = ArticleRevision.objects.filter(article=article, number=number).first()
    if old is None:
        raise ValidationError("No such revision.", code="no_revision")
    data = {
        "title": old.title,
        "slug": old.slug,
        "category": old.category,
        "body": old.body,
        "tags": old.tags,
    }
    return save_article(
        article=article,
        data=data,
        actor=actor,
        reason=f"Restored revision {number}",
        restored_from=number,
    )


@dataclass
class DiffLine:
    kind: str  # "same", "added", "removed", "gap"
    text: str


def diff_revisions(old: ArticleRevision, new: ArticleRevision) -> dict[str, Any]:
    """What changed between two revisions: fields side by side and the body line by line."""
    fields = []
    for name in ("title", "slug", "category_id", "tags", "status", "visibility"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            if name == "category_id":
                before, after = str(old.category), str(new.category)
                name = "category"
            fields.append((name.replace("_", " ").capitalize(), before, after))
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old.body.splitlines(), b=new.body.splitlines())
    for group in matcher.get_grouped_opcodes(3):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", t) for t in old.body.splitlines()[i1:i2]]
                continue
            lines += [DiffLine("removed", t) for t in old.body.splitlines()[i1:i2]]
            lines += [DiffLine("added", t) for t in new.body.splitlines()[j1:j2]]
    return {"fields": fields, "lines": lines}


def search(text: str, *, public_only: bool, limit: int = 20) -> list[Article]:
    """Articles matching the words typed (web-search syntax: "quotes", -not, or), best first,
    each with ``rank`` and a highlighted ``snippet`` (only ``<mark>`` is ever unescaped)."""
    if not text.strip():
        return []
    query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    rows = Article.objects.public() if public_only else Article.objects.all()
    candidates = (
        rows.filter(search_vector=query).order_by("-updated_at").values("pk")[:RANK_CANDIDATES]
    )
    ranked = (
        Article.objects.filter(pk__in=candidates)  # type: ignore[misc]  # a subquery of keys
        .select_related("category")
        .annotate(rank=SearchRank(F("search_vector"), query, normalization=1))
        .order_by("-rank", "-updated_at")[:limit]
    )
    ids = [a.pk for a in ranked]
    snippets = dict(
        Article.objects.filter(pk__in=ids)
        .annotate(
            snippet=SearchHeadline(
                "body",
                query,
                config=SEARCH_CONFIG,
                start_sel="\x02",
                stop_sel="\x03",
                max_words=30,
                min_words=12,
                max_fragments=2,
            )
        )
        .values_list("pk", "snippet")
    )
    results: list[Article] = list(ranked)
    for article in results:
        article.snippet = snippets.get(article.pk, "")  # type: ignore[attr-defined]  # for the page
    return results


def record_view(article: Article) -> None:
    ArticleStats.objects.filter(article=article).update(views=F("views") + 1)


def voter_key(address: str, *, day: dt.date) -> str:
    """Who votes, as stored: a keyed hash of the client's address (an IPv6 address counts as
    its /64, what one subscriber is given) and the day."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        network = address
    else:
        network = str(ipaddress.ip_network(f"{ip}/{64 if ip.version == 6 else 32}", strict=False))
    return salted_hmac("kb.vote", f"{day.isoformat()}|{network}").hexdigest()


def vote(article: Article, *, helpful: bool, voter: str, day: dt.date | None = None) -> bool:
    """Count a "was this helpful?" vote, at most one per article, voter and day (the
    database's unique constraint decides, so two racing requests count once). Whether it
    counted."""
    try:
        with transaction.atomic():
            ArticleVote.objects.create(
                article=article, voter=voter, day=day or timezone.localdate(), helpful=helpful
            )
    except IntegrityError as exc:
        if constraint_name(exc) != "kb_vote_once_per_voter_per_day":
            raise
        return False
    field = "helpful_yes" if helpful else "helpful_no"
    ArticleStats.objects.filter(article=article).update(**{field: F(field) + 1})
    return True
