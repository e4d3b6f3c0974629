from __future__ import annotations

from typing import Any

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
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, PostOnlyWriteView, WriteView
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


class _ArticleFormView(WriteView):
    template_name = "kb/article_form.html"
    form_class = ArticleForm

    def get_title(self) -> str:
        return f"Edit {self.object.title}" if self.object else "New article"

    def get_crumbs(self) -> list[tuple[str, str]]:
        crumbs = [("Knowledgebase", reverse("kb:article-list"))]
        if self.object:
            crumbs.append((self.object.title, self.object.get_absolute_url()))
        return crumbs

    def get_back_url(self) -> str:
        return self.object.get_absolute_url() if self.object else reverse("kb:article-list")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(article=self.object, **kwargs)

    def act(self, form: Any) -> Article:
        return services.save_article(
            article=self.object,
            data=form.article_data(),
            actor=self.request.user,
            reason=form.cleaned_data["reason"],
            related=form.cleaned_data["related"],
            version=form.cleaned_data.get("version"),
        )


class ArticleCreateView(_ArticleFormView):
    permission_required = "kb.add_article"

    def get_initial(self) -> dict[str, Any]:
        return {"status": "draft", "visibility": "public"}

    def get_success_message(self, result: Article) -> str:
        return f"Article “{result}” saved (revision 1)."


class ArticleUpdateView(_ArticleFormView):
    permission_required = "kb.change_article"
    success_message = "Article saved as a new revision."

    def get_object(self) -> Article:
        return get_object_or_404(Article, pk=self.kwargs["pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"article": self.object}

    def get_initial(self) -> dict[str, Any]:
        article = self.object
        initial = {name: getattr(article, name) for name in services.ARTICLE_FIELDS}
        initial.update(
            category=article.category_id,
            related=list(article.related.all()),
            version=version_of(article),
        )
        return initial


def _kb_crumbs(article: Article | None = None) -> list[tuple[str, str]]:
    crumbs = [("Knowledgebase", reverse("kb:article-list"))]
    if article is not None:
        crumbs.append((article.title, article.get_absolute_url()))
    return crumbs


class ArticleDetailView(StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView):
    permission_required = "kb.view_article"
    template_name = "kb/article_detail.html"
    context_object_name = "article"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _kb_crumbs()

    def get_current_crumb(self) -> str:
        return self.object.title

    queryset = Article.objects.select_related("category", "created_by", "updated_by", "stats")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["related_articles"] = list(self.object.related.order_by("title"))
        context["revision_count"] = self.object.revisions.count()
        return context


class ArticleStatusView(PostOnlyWriteView):
    permission_required = "kb.change_article"

    def get_object(self) -> Article:
        return get_object_or_404(Article, pk=self.kwargs["pk"])

    def act_on(self, request: HttpRequest) -> Any:
        status = request.POST.get("status", "")
        if status not in Article.Status.values:
            raise ValidationError("Unknown status.", code="invalid_status")
        self.status = status
        return services.set_status(article=self.object, status=status, actor=request.user)

    def get_success_message(self, result: Any) -> str:
        return "Published." if self.status == "published" else "Now a draft."


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
            {
                "article": article,
                "revisions": revisions,
                "form": form,
                "crumbs": _kb_crumbs(article),
                "crumb_current": "Revisions",
            },
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
            {
                "article": article,
                "old": old,
                "new": new,
                "diff": services.diff_revisions(old, new),
                "crumbs": [
                    *_kb_crumbs(article),
                    ("Revisions", reverse("kb:article-revisions", args=[article.pk])),
                ],
                "crumb_current": f"{old.number} → {new.number}",
            },
        )


class RevisionRestoreView(PostOnlyWriteView):
    permission_required = "kb.change_article"

    def get_object(self) -> Article:
        return get_object_or_404(Article, pk=self.kwargs["pk"])

    def get_refused_url(self) -> str:
        return reverse("kb:article-revisions", kwargs={"pk": self.object.pk})

    def act_on(self, request: HttpRequest) -> Any:
        return services.restore_revision(
            article=self.object, number=self.kwargs["number"], actor=request.user
        )

    def get_success_message(self, result: Any) -> str:
        return f"Revision {self.kwargs['number']} restored as a new revision."


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
