from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView, ListView

from audit.edits import version_of
from audit.middleware import client_ip
from audit.views import RecordHistoryMixin
from core import inputs
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from kb import services
from kb.forms import ArticleFilter, ArticleForm, CompareForm
from kb.models import Article, ArticleRevision, Category

# Staff pages -------------------------------------------------------------------------------------


class ArticleListView(StaffPermissionRequiredMixin, ListView):
    """Articles by last change, filtered; with words typed, the ranked search instead."""

    permission_required = "kb.view_article"
    template_name = "kb/article_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.form = ArticleFilter(request.GET or None)
        self.results = None
        if self.form.is_valid() and self.form.cleaned_data["q"].strip():
            self.results = services.search(self.form.cleaned_data["q"], public_only=False)
            return render(request, self.template_name, {"form": self.form, "results": self.results})
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        rows = Article.objects.select_related("category", "updated_by")
        if self.form.is_valid():
            data = self.form.cleaned_data
            if data["status"]:
                rows = rows.filter(status=data["status"])
            if data["visibility"]:
                rows = rows.filter(visibility=data["visibility"])
            if data["category"]:
                rows = rows.filter(category_id=data["category"])
        return rows.order_by("-updated_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form=self.form, **kwargs)


def _form_page(request: HttpRequest, form: Any, article: Article | None, status: int = 200):
    return render(
        request, "kb/article_form.html", {"form": form, "article": article}, status=status
    )


class ArticleCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.add_article"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = ArticleForm(initial={"status": "draft", "visibility": "public"})
        return _form_page(request, form, None)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ArticleForm(request.POST)
        if form.is_valid():
            try:
                article = services.save_article(
                    data=form.article_data(),
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    related=form.cleaned_data["related"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Article “{article}” saved (revision 1).")
                return redirect(article)
        return _form_page(request, form, None, status=400)


class ArticleUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.change_article"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        initial = {name: getattr(article, name) for name in services.ARTICLE_FIELDS}
        initial.update(
            category=article.category_id,
            related=list(article.related.all()),
            version=version_of(article),
        )
        return _form_page(request, ArticleForm(initial=initial, article=article), article)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        form = ArticleForm(request.POST, article=article)
        if form.is_valid():
            try:
                article = services.save_article(
                    article=article,
                    data=form.article_data(),
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    related=form.cleaned_data["related"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Article saved as a new revision.")
                return redirect(article)
        return _form_page(request, form, article, status=400)


class ArticleDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "kb.view_article"
    template_name = "kb/article_detail.html"
    context_object_name = "article"
    queryset = Article.objects.select_related("category", "created_by", "updated_by", "stats")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["related_articles"] = list(self.object.related.order_by("title"))
        context["revision_count"] = self.object.revisions.count()
        return context


class ArticleStatusView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.change_article"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        status = request.POST.get("status", "")
        if status not in Article.Status.values:
            messages.error(request, "Unknown status.")
        else:
            services.set_status(article=article, status=status, actor=request.user)
            messages.success(request, "Published." if status == "published" else "Now a draft.")
        return redirect(article)


class RevisionListView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.view_articlerevision"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        revisions = list(
            ArticleRevision.objects.filter(article=article).select_related("created_by")[:200]
        )
        latest = revisions[0].number if revisions else 1
        form = CompareForm(initial={"old": max(latest - 1, 1), "new": latest})
        return render(
            request,
            "kb/article_revisions.html",
            {"article": article, "revisions": revisions, "form": form},
        )


class RevisionCompareView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.view_articlerevision"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        form = CompareForm(request.GET)
        if not form.is_valid():
            return redirect("kb:article-revisions", pk=pk)
        numbers = (form.cleaned_data["old"], form.cleaned_data["new"])
        found = {
            r.number: r
            for r in ArticleRevision.objects.filter(
                article=article, number__in=numbers
            ).select_related("category", "created_by")
        }
        if len(found) != len(set(numbers)):
            raise Http404("No such revision.")
        old, new = found[numbers[0]], found[numbers[1]]
        return render(
            request,
            "kb/article_compare.html",
            {"article": article, "old": old, "new": new, "diff": services.diff_revisions(old, new)},
        )


class RevisionRestoreView(StaffPermissionRequiredMixin, View):
    permission_required = "kb.change_article"

    def post(self, request: HttpRequest, pk: int, number: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=pk)
        try:
            services.restore_revision(article=article, number=number, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("kb:article-revisions", pk=pk)
        messages.success(request, f"Revision {number} restored as a new revision.")
        return redirect(article)


# The public knowledgebase ------------------------------------------------------------------------


def _public_categories() -> list[Category]:
    """Public categories, each with ``n``: its published public articles (counted from a
    partial index, without reading the articles)."""
    counts = dict(
        Article.objects.filter(status="published", visibility="public")
        .order_by()
        .values_list("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    categories = list(Category.objects.filter(public=True).order_by("position", "name"))
    for category in categories:
        category.n = counts.get(category.pk, 0)
    return categories


@method_decorator(login_not_required, name="dispatch")
class PublicIndexView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        text = inputs.text(request.GET.get("q"))
        results = services.search(text, public_only=True) if text else None
        categories = _public_categories()
        return render(
            request,
            "kb/public/index.html",
            {
                "categories": [c for c in categories if c.parent_id is None],
                "all": categories,
                "q": text,
                "results": results,
            },
        )


@method_decorator(login_not_required, name="dispatch")
class PublicCategoryView(View):
    def get(self, request: HttpRequest, pk: int, slug: str) -> HttpResponse:
        category = get_object_or_404(Category, pk=pk, public=True)
        articles = list(Article.objects.public().filter(category=category).order_by("title")[:500])
        children = [c for c in _public_categories() if c.parent_id == category.pk]
        return render(
            request,
            "kb/public/category.html",
            {"category": category, "articles": articles, "children": children},
        )


@method_decorator(login_not_required, name="dispatch")
class PublicArticleView(View):
    def get(self, request: HttpRequest, pk: int, slug: str) -> HttpResponse:
        article = get_object_or_404(Article.objects.public().select_related("category"), pk=pk)
        if slug != article.slug:
            return redirect(article.get_public_url(), permanent=True)
        services.record_view(article)
        related = list(article.related.public().order_by("title")[:10])
        voted = str(article.pk) in request.session.get("kb_votes", [])
        return render(
            request,
            "kb/public/article.html",
            {"article": article, "related": related, "voted": voted},
        )


@method_decorator(login_not_required, name="dispatch")
class PublicVoteView(View):
    """ "Was this helpful?": one vote per article per client address per day (the session
    only remembers that this browser voted, to say thank you)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        article = get_object_or_404(Article.objects.public(), pk=pk)
        votes = request.session.get("kb_votes", [])
        if str(pk) not in votes and request.POST.get("helpful") in ("yes", "no"):
            today = timezone.localdate()
            services.vote(
                article,
                helpful=request.POST["helpful"] == "yes",
                voter=services.voter_key(client_ip(request), day=today),
                day=today,
            )
            request.session["kb_votes"] = [*votes, str(pk)][-200:]
        return redirect(reverse("kb:public-article", args=[pk, article.slug]) + "#vote")
