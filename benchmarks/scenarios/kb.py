"""Knowledgebase: ranked public search (common, rare, two words), staff search, the list."""

from __future__ import annotations

from benchmarks.scenarios.bench import Bench, row


def run(b: Bench) -> list[dict]:
    kb_common = b.time("kb search common", "/kb/public/?q=hosting")
    kb_rare = b.time("kb search rare", "/kb/public/?q=zeppelin")
    kb_two = b.time("kb search two words", "/kb/public/?q=backup+restore")
    kb_staff = b.time("kb staff search", "/kb/?q=hosting")
    kb_list = b.time("kb article list", "/kb/")
    admin_kb = b.time("admin articles", "/admin/kb/article/")
    admin_kb_q = b.time("admin article search", "/admin/kb/article/?q=zeppelin")
    return [
        row("KB search, word in every article", kb_common, admin_kb_q, "public, ranked"),
        row("KB search, rare word", kb_rare, admin_kb_q, "public, ranked"),
        row("KB search, two words", kb_two, admin_kb_q, "public, ranked"),
        row("KB search, staff", kb_staff, admin_kb_q),
        row("KB article list", kb_list, admin_kb),
    ]
