from django.urls import path

from kb import views

app_name = "kb"

urlpatterns = [
    path("", views.ArticleListView.as_view(), name="article-list"),
    path("new/", views.ArticleCreateView.as_view(), name="article-create"),
    path("<int:pk>/", views.ArticleDetailView.as_view(), name="article-detail"),
    path("<int:pk>/edit/", views.ArticleUpdateView.as_view(), name="article-update"),
    path("<int:pk>/status/", views.ArticleStatusView.as_view(), name="article-status"),
    path("<int:pk>/revisions/", views.RevisionListView.as_view(), name="article-revisions"),
    path("<int:pk>/compare/", views.RevisionCompareView.as_view(), name="article-compare"),
    path(
        "<int:pk>/revisions/<int:number>/restore/",
        views.RevisionRestoreView.as_view(),
        name="article-restore",
    ),
    # The public knowledgebase: no login.
    path("public/", views.PublicIndexView.as_view(), name="public-index"),
    path(
        "public/c/<int:pk>-<slug:slug>/", views.PublicCategoryView.as_view(), name="public-category"
    ),
    path(
        "public/a/<int:pk>-<slug:slug>/", views.PublicArticleView.as_view(), name="public-article"
    ),
    path("public/a/<int:pk>/vote/", views.PublicVoteView.as_view(), name="public-vote"),
]
