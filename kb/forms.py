from __future__ import annotations

from typing import Any

from django import forms

from core import inputs
from core.forms import VersionField, style_widgets
from kb.models import Article, Category

RELATED_CHOICES = 500  # newest articles offered as "related"


def category_choices() -> list[tuple[int, str]]:
    """Every category as "Parent / Child", in tree order (categories are few)."""
    rows = list(Category.objects.order_by("position", "name"))
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    out: list[tuple[int, str]] = []

    def walk(parent: int | None, prefix: str) -> None:
        for row in children.get(parent, []):
            out.append((row.pk, prefix + row.name))
            walk(row.pk, prefix + row.name + " / ")

    walk(None, "")
    return out


class ArticleForm(forms.Form):
    version = VersionField()
    title = forms.CharField(max_length=200)
    category = forms.TypedChoiceField(coerce=int, choices=[])
    slug = forms.SlugField(max_length=200, required=False, help_text="Blank: made from the title.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16, "class": "font-monospace"}),
        help_text="Markdown: **bold**, _italic_, `code`, lists, [links](https://…), tables. "
        "Raw HTML is not rendered.",
    )
    tags = forms.CharField(max_length=300, required=False, help_text="Comma-separated.")
    status = forms.ChoiceField(choices=Article.Status.choices)
    visibility = forms.ChoiceField(choices=Article.Visibility.choices)
    related = forms.ModelMultipleChoiceField(
        queryset=Article.objects.none(),
        required=False,
        label="Related articles",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    reason = forms.CharField(
        label="Change note",
        max_length=300,
        required=False,
        help_text='Kept with the revision (e.g. "new cPanel screenshots").',
    )

    def __init__(self, *args: Any, article: Article | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
        newest = Article.objects.order_by("-updated_at").values_list("pk", flat=True)
        ids = list(newest[:RELATED_CHOICES])
        queryset = Article.objects.filter(pk__in=ids).order_by("title")
        if article is not None:
            queryset = queryset.exclude(pk=article.pk) | article.related.all()
        self.fields["related"].queryset = queryset.distinct()

    def clean_category(self) -> Category:
        category = Category.objects.filter(pk=self.cleaned_data["category"]).first()
        if category is None:
            raise forms.ValidationError("Choose a category.")
        return category

    def article_data(self) -> dict[str, Any]:
        return {
            k: self.cleaned_data[k]
            for k in ("title", "slug", "category", "body", "tags", "status", "visibility")
        }


class ArticleFilter(forms.Form):
    q = inputs.SearchField(label="Search")
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Article.Status.choices], required=False
    )
    visibility = forms.ChoiceField(
        choices=[("", "Any visibility"), *Article.Visibility.choices], required=False
    )
    category = forms.TypedChoiceField(coerce=int, choices=[], required=False, empty_value=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Any category"), *category_choices()]
        style_widgets(self)


class CompareForm(forms.Form):
    old = forms.IntegerField(min_value=1, label="From revision")
    new = forms.IntegerField(min_value=1, label="To revision")
