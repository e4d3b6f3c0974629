"""Knowledgebase: nested categories, articles in Markdown with every save kept as a revision,
full-text search on a stored, indexed ``tsvector``."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from core.models import TimeStampedModel

SEARCH_CONFIG = "english"


class Category(TimeStampedModel):
    """A knowledgebase section; categories nest (a parent) and are ordered by position."""

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    public = models.BooleanField(default=True, help_text="Shown on the public knowledgebase.")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "slug"],
                name="kb_category_slug_per_parent",
                nulls_distinct=False,
                violation_error_message="Another category here uses this slug.",
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="kb_category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("kb:public-category", args=[self.pk, self.slug])


class ArticleQuerySet(models.QuerySet):
    def public(self) -> ArticleQuerySet:
        return self.filter(
            status=Article.Status.PUBLISHED,
            visibility=Article.Visibility.PUBLIC,
            category__public=True,
        )


class Article(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.PUBLISHED: "success"}

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        STAFF = "staff", "Staff only"

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, help_text="Made from the title when left blank.")
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(editable=False)  # rendered and sanitised on save (services)
    tags = models.CharField(max_length=300, blank=True, help_text="Comma-separated.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    related = models.ManyToManyField(
        "self", through="RelatedArticle", symmetrical=False, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("tags", weight="A", config=SEARCH_CONFIG)
        + SearchVector("body", weight="B", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
        editable=False,
    )

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "slug"],
                name="kb_article_slug_per_category",
                violation_error_message="Another article in this category uses this slug.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published"]), name="kb_article_status"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "staff"]), name="kb_article_visibility"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="kb_article_published_at",
            ),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="kb_article_search_idx"),
            # The staff list's order, and the newest matches the search ranks.
            models.Index(fields=["-updated_at", "-id"], name="kb_article_updated_idx"),
            models.Index(fields=["category", "status", "-updated_at"], name="kb_article_cat_idx"),
            models.Index(fields=["status", "-updated_at", "-id"], name="kb_article_status_idx"),
            models.Index(
                fields=["-published_at", "-id"],
                name="kb_article_public_idx",
                condition=Q(status="published", visibility="public"),
            ),
            # The public index counts articles per category from this index alone.
            models.Index(
                fields=["category", "id"],
                name="kb_article_public_cat_idx",
                condition=Q(status="published", visibility="public"),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("kb:article-detail", args=[self.pk])

    def get_public_url(self) -> str:
        return reverse("kb:public-article", args=[self.pk, self.slug])

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.visibility == self.Visibility.PUBLIC


class RelatedArticle(models.Model):
    """ "See also" links (an explicit row so that adding one is audited)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    related = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "related"], name="kb_related_once"),
            models.CheckConstraint(condition=~Q(article=F("related")), name="kb_related_not_self"),
        ]

    def __str__(self) -> str:
        return f"article #{self.article_id} → #{self.related_id}"


class ArticleRevision(models.Model):
    """What an article was after one save. Never changed or deleted."""

    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    tags = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10)
    visibility = models.CharField(max_length=10)
    note = models.CharField("change note", max_length=300, blank=True)
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_revision_number")
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"Revision {self.number} of article #{self.article_id}"

    def get_absolute_url(self) -> str:
        return reverse("kb:article-revisions", args=[self.article_id])


class ArticleStats(models.Model):
    """Views and "was this helpful?" votes: counters, not manual entries, so kept out of the
    audit trail (a page view must not write an event)."""

    audit_track = False

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    views = models.PositiveBigIntegerField(default=0)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"stats of article #{self.article_id}"


class ArticleVote(models.Model):
    """One "was this helpful?" vote: at most one per article, voter and day, whatever the
    browser session (a new session per vote could stuff the counters otherwise).

    ``voter`` is a keyed hash of the client's address and the day, never the address: it
    cannot be reversed by hashing every IPv4 address, and one voter's days do not link up.
    Anonymous and counted, like ``ArticleStats``: kept out of the audit trail.
    """

    audit_track = False

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=64)
    day = models.DateField()
    helpful = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "voter", "day"], name="kb_vote_once_per_voter_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'}: article #{self.article_id}"
