"""Django admin for the knowledgebase: categories (nested, ordered) are managed here, audited
with a reason. Articles are written in the app, where every save keeps a revision."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin, ReadOnlyAdminMixin
from kb.models import Article, ArticleRevision, Category


@admin.register(Category)
class CategoryAdmin(AuditedModelAdmin):
    list_display = ("name", "parent", "position", "public")
    list_editable = ("position",)
    list_filter = ("public",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not (obj.articles.exists() or obj.children.exists()))


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "category", "status", "visibility", "updated_at")
    list_filter = ("status", "visibility", "category")
    search_fields = ("title",)
    list_select_related = ("category",)
    show_full_result_count = False
    exclude = ("search_vector", "body_html")


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("article", "number", "title", "created_by", "created_at")
    list_select_related = ("article", "created_by")
    show_full_result_count = False
