"""A starter knowledgebase for ``seed_demo`` (once)."""

from __future__ import annotations

from typing import Any

from kb import services
from kb.models import Article, Category

CATEGORIES = [
    ("Getting started", "getting-started", "Your first steps with us.", None),
    ("Email", "email", "Mailboxes, forwarding and mail clients.", None),
    ("Domains & DNS", "domains-dns", "Name servers, records and transfers.", None),
    ("Mail clients", "mail-clients", "Outlook, Thunderbird, phones.", "email"),
]
ARTICLES = [
    (
        "getting-started",
        "Point your domain at our name servers",
        "Set your domain's **name servers** at your registrar to:\n\n"
        "- `ns1.example-hosting.com`\n- `ns2.example-hosting.com`\n\n"
        "Changes can take up to 24 hours to spread.",
        "dns, nameservers",
    ),
    (
        "mail-clients",
        "Set up email on Thunderbird",
        "Use **IMAP** on port 993 (SSL) and **SMTP** on port 465 (SSL).\n\n"
        "| Setting | Value |\n|---|---|\n| Server | mail.example-hosting.com |\n"
        "| User name | your full email address |",
        "email, imap, thunderbird",
    ),
    (
        "domains-dns",
        "Transfer a domain to us",
        "1. Unlock the domain at the current registrar.\n2. Ask them for the **EPP code**.\n"
        "3. Order the transfer and paste the code.",
        "transfer, epp",
    ),
]


def load_demo_kb(actor: Any) -> int:
    if Article.objects.exists():
        return 0
    by_slug: dict[str, Category] = {}
    for position, (name, slug, description, parent) in enumerate(CATEGORIES):
        by_slug[slug], _ = Category.objects.get_or_create(
            slug=slug,
            parent=by_slug.get(parent) if parent else None,
            defaults={"name": name, "description": description, "position": position},
        )
    for category, title, body, tags in ARTICLES:
        services.save_article(
            data={
                "title": title,
                "category": by_slug[category],
                "body": body,
                "tags": tags,
                "status": "published",
                "visibility": "public",
            },
            actor=actor,
            reason="Demo article",
        )
    return len(ARTICLES)
