"""Clients: the list, search, the profile and its tabs, the timeline, and the client form."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.config import BUSY_CLIENT_ID
from benchmarks.measure import alternate, set_capture_triggers, summarise
from benchmarks.scenarios.bench import Bench, deeper, row


def reads(b: Bench) -> list[dict]:
    page1 = b.time("client list, page 1", "/clients/")
    page1000 = b.time("client list, page 1,000", "/clients/?page=1000")
    admin1 = b.time("admin changelist, page 1", "/admin/clients/client/")
    admin1000 = b.time("admin changelist, page 1,000", "/admin/clients/client/?p=1000")
    search = b.time("client search 'smi'", "/clients/?q=smi")
    admin_search = b.time("admin search 'smi'", "/admin/clients/client/?q=smi")
    profile = b.time("profile summary", b.busy)
    profile_notes = b.time("profile notes tab", b.busy + "?tab=notes")
    profile_contacts = b.time("profile contacts tab", b.busy + "?tab=contacts")
    admin_change = b.time("admin change form", f"/admin/clients/client/{BUSY_CLIENT_ID}/change/")
    b.shared["admin_change"] = admin_change
    return [
        row("Client list, page 1", page1, admin1),
        row("Client list, page 1,000", page1000, admin1000, deeper(page1000, page1)),
        row("Client search", search, admin_search),
        row(
            "Profile (60 notes, 20 contacts)", profile, admin_change, "baseline: admin change form"
        ),
        row("Profile, notes tab", profile_notes, admin_change),
        row("Profile, contacts tab", profile_contacts, admin_change),
    ]


def timeline(b: Bench) -> list[dict]:
    """Measured after support: the busy client's tickets and replies are on it."""
    admin_change = b.shared["admin_change"]
    timeline_1 = b.time("timeline p1", b.busy + "?tab=timeline")
    timeline_deep = b.time("timeline p50", _timeline_cursor(b.user, b.busy, pages=50))
    return [
        row("Timeline, 5,000+ entries, p1", timeline_1, admin_change),
        row("Timeline, page 50", timeline_deep, admin_change, deeper(timeline_deep, timeline_1)),
    ]


def timeline_kinds(b: Bench) -> list[dict]:
    timeline_f = b.time(
        "timeline replies only", b.busy + "?tab=timeline&kind=reply&kind=communication"
    )
    return [row("Timeline, two kinds", timeline_f, b.shared["admin_change"])]


def _timeline_cursor(user, url: str, pages: int) -> str:
    """The URL of the busy client's timeline ``pages`` pages deep (following "Older")."""
    from clients.models import Client
    from clients.timeline import timeline_page

    customer = Client.objects.get(pk=BUSY_CLIENT_ID)
    cursor = None
    for _ in range(pages - 1):
        page = timeline_page(client=customer, user=user, cursor=cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return f"{url}?tab=timeline" + (f"&after={cursor}" if cursor else "")


def _create(b: Bench, prefix: str) -> Callable[[int], object]:
    def call(i: int) -> None:
        response = b.http.post(
            "/clients/new/",
            {
                "first_name": "Bench",
                "last_name": "Writer",
                "email": f"{prefix}-{b.run_id}-{i}@bench.example",
                "phone": "+442079460000",
                "country": "GB",
                "source": "phone",
                "language": "en",
                "timezone": "UTC",
                "currency": "GBP",
            },
        )
        if response.status_code != 302:
            raise RuntimeError(f"the client form answered {response.status_code}")

    return call


def _triggers(enabled: bool) -> None:
    set_capture_triggers(("clients_client",), enabled)


def writes(b: Bench) -> list[dict]:
    """The client form, audited and with the capture triggers off. Run last: it grows the
    clients table."""
    on, off = _create(b, "on"), _create(b, "off")
    for i in range(3):
        on(-1 - i)
    save_samples, off_samples = alternate(
        b.iterations, _triggers, lambda i, audited: lambda: (on if audited else off)(i)
    )
    save = summarise("create client (form), audited", save_samples)
    save_off = summarise("create client (form), triggers off", off_samples)
    return [row("Create client via form", save, save_off, "baseline: audit triggers off")]
