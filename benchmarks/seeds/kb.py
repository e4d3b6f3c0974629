"""Knowledgebase articles."""

from __future__ import annotations

import time

from benchmarks.config import N_ARTICLES
from benchmarks.seeds.common import set_seed_context


def seed_kb() -> bool:
    """100,000 articles in 50 categories. "hosting" is in every article; "zeppelin" in ten."""
    from django.db import connection, transaction

    from kb.models import Article

    if Article.objects.count() >= N_ARTICLES:
        return False
    started = time.perf_counter()
    words = [
        *("domain", "email", "server", "backup", "restore", "password", "database"),
        *("website", "upload", "ftp", "dns", "record", "certificate", "ssl", "invoice"),
        *("payment", "account", "cpanel", "plesk", "php", "mysql", "cron", "redirect"),
        *("forward", "mailbox", "quota", "spam", "filter", "migrate", "transfer", "renew"),
    ]
    with transaction.atomic(), connection.cursor() as cur:
        set_seed_context(cur)
        cur.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%'")
        (staff,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO kb_category (name, slug, description, position, public, created_at,
                updated_at)
            SELECT 'Bench category ' || g, 'bench-' || g, '', g, true, now(), now()
            FROM generate_series(1, 50) AS g
            """
        )
        cur.execute("SELECT array_agg(id ORDER BY id) FROM kb_category WHERE slug LIKE 'bench-%%'")
        (categories,) = cur.fetchone()
        cur.execute(
            """
            INSERT INTO kb_article (category_id, title, slug, body, body_html, tags, status,
                visibility, published_at, created_by_id, updated_by_id, created_at, updated_at)
            SELECT (%(categories)s::bigint[])[1 + g %% 50],
                   initcap(w[1 + g %% 30]) || ' and ' || w[1 + (g / 30) %% 30] || ' guide ' || g,
                   'bench-article-' || g, b, b, w[1 + g %% 30],
                   CASE WHEN g %% 10 = 0 THEN 'draft' ELSE 'published' END,
                   CASE WHEN g %% 20 = 0 THEN 'staff' ELSE 'public' END,
                   CASE WHEN g %% 10 = 0 THEN NULL ELSE now() - make_interval(mins => g) END,
                   %(staff)s, %(staff)s, now() - make_interval(mins => g),
                   now() - make_interval(mins => g)
            FROM (
                SELECT g, %(words)s::text[] AS w,
                       'How hosting handles ' || array_to_string(ARRAY(
                           SELECT (%(words)s::text[])[1 + ((g * 7 + i * 13) %% 30)]
                           FROM generate_series(1, 80) AS i), ' ')
                       || CASE WHEN g %% 10000 = 1 THEN ' zeppelin' ELSE '' END
                       || '. Contact support if the hosting panel shows an error.' AS b
                FROM generate_series(1, %(n)s) AS g
            ) AS rows
            """,
            {"categories": categories, "staff": staff, "words": words, "n": N_ARTICLES},
        )
        cur.execute(
            "INSERT INTO kb_articlestats (article_id, views, helpful_yes, helpful_no) "
            "SELECT id, 0, 0, 0 FROM kb_article"
        )
    print(f"Seed: {N_ARTICLES:,} articles in {time.perf_counter() - started:.1f}s")
    return True
