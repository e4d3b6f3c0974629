from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from kb.models import Article, ArticleStats
from tests.factories.kb import CategoryFactory, write_article

pytestmark = pytest.mark.django_db


def _post(category, **overrides):
    data = {
        "title": "Install WordPress",
        "category": category.pk,
        "slug": "",
        "body": "1. Open **Softaculous**",
        "tags": "wordpress, cms",
        "status": "draft",
        "visibility": "public",
        "reason": "",
    }
    data.update(overrides)
    return data


def test_write_edit_and_publish_an_article(client_as):
    http = client_as("Support")
    category = CategoryFactory(name="Websites")
    response = http.post(reverse("kb:article-create"), _post(category))
    article = Article.objects.get()
    assert response.status_code == 302 and article.slug == "install-wordpress"
    assert "<strong>Softaculous</strong>" in article.body_html
    http.post(
        reverse("kb:article-update", args=[article.pk]),
        _post(category, body="1. Open **Installatron**", reason="new installer"),
    )
    http.post(reverse("kb:article-status", args=[article.pk]), {"status": "published"})
    article.refresh_from_db()
    assert article.status == "published" and article.revisions.count() == 3
    compare = http.get(reverse("kb:article-compare", args=[article.pk]) + "?old=1&new=2")
    assert compare.status_code == 200
    assert b"Installatron" in compare.content and b"Softaculous" in compare.content


def test_bad_article_input_keeps_it(client_as):
    http = client_as("Support")
    category = CategoryFactory()
    write_article(title="Taken", slug="taken", category=category)
    response = http.post(
        reverse("kb:article-create"), _post(category, title="", body="keep this body", slug="taken")
    )
    assert response.status_code == 400 and b"keep this body" in response.content
    assert "title" in response.context["form"].errors
    response = http.post(reverse("kb:article-create"), _post(category, slug="taken"))
    assert response.status_code == 400 and "slug" in response.context["form"].errors
    assert Article.objects.count() == 1


def test_restore_an_old_revision_from_the_page(client_as):
    http = client_as("Support")
    article = write_article(body="original")
    http.post(
        reverse("kb:article-update", args=[article.pk]),
        _post(article.category, title=article.title, body="changed", status="published"),
    )
    response = http.post(reverse("kb:article-restore", args=[article.pk, 1]))
    article.refresh_from_db()
    assert response.status_code == 302 and article.body == "original"
    assert article.revisions.first().restored_from == 1


def test_billing_staff_read_but_cannot_write(client_as):
    http = client_as("Billing")
    assert http.get(reverse("kb:article-list")).status_code == 200
    assert http.get(reverse("kb:article-create")).status_code == 403


def test_public_pages_need_no_login_and_show_only_published_public_articles():
    category = CategoryFactory(name="Email", slug="email")
    public = write_article(title="Set up Outlook", category=category)
    write_article(title="Secret runbook", category=category, visibility="staff")
    write_article(title="Unfinished", category=category, status="draft")
    anonymous = HttpClient()
    index = anonymous.get(reverse("kb:public-index"))
    assert index.status_code == 200 and b"Email" in index.content
    page = anonymous.get(category.get_absolute_url())
    assert b"Set up Outlook" in page.content
    assert b"Secret runbook" not in page.content and b"Unfinished" not in page.content
    assert anonymous.get(public.get_public_url()).status_code == 200
    hidden = Article.objects.get(title="Secret runbook")
    assert (
        anonymous.get(reverse("kb:public-article", args=[hidden.pk, hidden.slug])).status_code
        == 404
    )
    assert anonymous.get(reverse("kb:article-list")).status_code == 302  # staff pages: login
    results = anonymous.get(reverse("kb:public-index") + "?q=runbook")
    assert b"Secret runbook" not in results.content


def test_public_article_counts_views_and_one_vote_per_session():
    article = write_article(title="FTP access")
    anonymous = HttpClient()
    anonymous.get(article.get_public_url())
    anonymous.get(article.get_public_url())
    vote = reverse("kb:public-vote", args=[article.pk])
    anonymous.post(vote, {"helpful": "yes"})
    anonymous.post(vote, {"helpful": "yes"})
    stats = ArticleStats.objects.get(article=article)
    assert (stats.views, stats.helpful_yes) == (2, 1)
    assert b"Thank you for your feedback" in anonymous.get(article.get_public_url()).content


def test_a_wrong_slug_redirects_to_the_right_one():
    article = write_article(title="SSH keys")
    response = HttpClient().get(reverse("kb:public-article", args=[article.pk, "old-slug"]))
    assert response.status_code == 301 and response["Location"] == article.get_public_url()


def test_article_html_is_sanitised_on_the_public_page():
    article = write_article(
        title="Evil", body="<script>alert(1)</script>\n\n[x](javascript:alert(1))"
    )
    content = HttpClient().get(article.get_public_url()).content
    assert b"<script>alert" not in content and b'href="javascript' not in content.lower()


def test_search_results_highlight_only_the_match(client_as):
    write_article(title="Cron jobs", body="Run <b>cron</b> every hour with cron.")
    response = client_as("Support").get(reverse("kb:article-list") + "?q=cron")
    assert b"<mark>" in response.content
    assert b"<b>cron</b>" not in response.content


def test_article_list_runs_a_constant_number_of_queries(client_as, django_assert_max_num_queries):
    http = client_as("Support")
    category = CategoryFactory()
    for n in range(3):
        write_article(title=f"A{n}", category=category)
    with django_assert_max_num_queries(12):
        http.get(reverse("kb:article-list"))
    for n in range(20):
        write_article(title=f"B{n}", category=category)
    with django_assert_max_num_queries(12):
        http.get(reverse("kb:article-list"))


def test_a_new_session_per_vote_still_counts_one_vote_per_address_and_article():
    article = write_article(title="FTP access")
    vote = reverse("kb:public-vote", args=[article.pk])
    for _ in range(5):  # a fresh browser (no session cookie) every time
        HttpClient(REMOTE_ADDR="203.0.113.7").post(vote, {"helpful": "yes"})
    HttpClient(REMOTE_ADDR="2001:db8:1:2::1").post(vote, {"helpful": "no"})
    HttpClient(REMOTE_ADDR="2001:db8:1:2::99").post(vote, {"helpful": "no"})  # same /64
    HttpClient(REMOTE_ADDR="198.51.100.9").post(vote, {"helpful": "yes"})
    stats = ArticleStats.objects.get(article=article)
    assert (stats.helpful_yes, stats.helpful_no) == (2, 1)
