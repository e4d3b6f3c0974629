"""Every extension point of the app, declared once.

An app adds to another app's pages (a client profile tab, a dashboard panel, a sidebar section…)
or reacts to another app's events (an invoice becoming paid) by registering one of the typed
objects below, from its ``<app>/extensions.py``, imported by its ``AppConfig.ready``. The page
or service that offers the point reads what was registered here, so it never imports the apps
that extend it, and ``core`` (this module included) imports no business app.

Every data callable receives the user it answers for (keyword ``user``), so what it returns is
filtered by the same visibility rules as the app's own pages (a restricted department's
tickets never reach a tab, a timeline or the "About" list of a note). The one exception is a
``CurrencyLock``: a business rule, which holds whoever asks.

Where several things share a page, their order is declared here (``*_ORDER``), in one place,
and registering a key that is not in its order list is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest

# Orders ------------------------------------------------------------------------------------------
# The client profile's tabs, left to right (History, from audit's RecordHistoryMixin, comes last
# on every record page). The first is the default tab.
PROFILE_TAB_ORDER = (
    "summary",  # clients
    "timeline",  # clients
    "contacts",  # clients
    "notes",  # clients
    "custom",  # clients
    "emails",  # clients
    "services",  # hosting
    "domains",  # hosting
    "orders",  # orders
    "invoices",  # billing
    "tickets",  # support
    "communications",  # support
    "transactions",  # billing
    "credit",  # billing
    "affiliate",  # affiliates
)
# A hosting account's tabs after Overview (hosting's own), before History.
SERVICE_TAB_ORDER = (
    "changes",  # orders: upgrades, downgrades and cancellation
    "tickets",  # support
)
# The timeline's kinds, in the order its filter lists them.
TIMELINE_ORDER = (
    "note",  # clients
    "communication",  # support
    "ticket",  # support
    "reply",  # support
    "order",  # orders
    "invoice",  # billing
    "payment",  # billing
    "email",  # clients
    "audit",  # clients (the client record's own audit entries)
)
# Dashboard panels, in reading order.
DASHBOARD_ORDER = (
    "clients",  # clients: finder, counts, newest
    "hosting",  # hosting: accounts due, domains expiring
    "tickets",  # support: awaiting a reply, mine
    "follow_ups",  # support: my follow-ups due
    "billing",  # billing: unpaid, overdue, drafts
    "orders",  # orders: pending, cancellations due
    "approvals",  # approvals: what waits for my approval, my requests
    "audit",  # audit: latest manual entries
    "review",  # review: entries waiting for review
)
# The sidebar, top to bottom (sections with a heading come after the main list, in this order).
NAVIGATION_ORDER = (
    "dashboard",  # core
    "clients",  # clients
    "services",  # hosting
    "domains",  # hosting
    "orders",  # orders
    "tickets",  # support
    "communications",  # support
    "invoices",  # billing
    "transactions",  # billing
    "affiliates",  # affiliates
    "kb",  # kb
    "audit-feed",  # audit
    "reasons",  # audit: the reason codes report
    "staff-sessions",  # audit
    "review-queue",  # review: flagged entries to review (review.review_entry)
    "roles",  # audit: each role's rights (Admins)
    "sign-in-security",  # accounts: second factors and lockouts (Admins)
    "jobs",  # jobs: the background queue's jobs, failed ones included (Admins)
    "approvals",  # approvals: entries waiting for a second person
)


# The extension points ----------------------------------------------------------------------------


class ClientTabContext(Protocol):
    def __call__(self, *, request: HttpRequest, user: Any, client: Any) -> dict[str, Any]: ...


class ServiceTabContext(Protocol):
    def __call__(self, *, request: HttpRequest, user: Any, service: Any) -> dict[str, Any]: ...


class PanelContext(Protocol):
    def __call__(self, *, request: HttpRequest, user: Any) -> dict[str, Any]: ...


class ClientRecords(Protocol):
    def __call__(self, *, client: Any, user: Any) -> QuerySet: ...


class ServiceNotices(Protocol):
    def __call__(self, *, service: Any, user: Any) -> list[str]: ...


@dataclass(frozen=True)
class ProfileTab:
    """A tab of the client profile, shown to users with ``permission``; ``template`` is included
    with the view's context plus what ``context(request=, user=, client=)`` returns (a bound
    form the view already holds, after a refused post, wins over the tab's own)."""

    key: str  # ?tab=<key>; listed in PROFILE_TAB_ORDER
    label: str
    permission: str
    template: str
    context: ClientTabContext


@dataclass(frozen=True)
class ServiceTab:
    """A tab of a hosting account's page: ``context(request=, user=, service=)``."""

    key: str  # listed in SERVICE_TAB_ORDER
    label: str
    permission: str
    template: str
    context: ServiceTabContext


@dataclass(frozen=True)
class ServiceNotice:
    """Sentences shown above a hosting account's tabs (a pending upgrade, a cancellation due…):
    ``notices(service=, user=)``."""

    key: str
    notices: ServiceNotices


@dataclass(frozen=True)
class NoteSubject:
    """Records a client's note can be about: ``records(client=, user=)`` is a QuerySet of the
    client's records of this model that ``user`` may see, in the order the "About" list offers
    them (its first ``limit``). Notes about a model nobody registers, or about a record the user
    may not see, show "a record you cannot see"."""

    key: str  # the model's label, "billing.invoice"
    records: ClientRecords
    limit: int = 50


@dataclass(frozen=True)
class TimelineSource:
    """One kind of entry on the client timeline (``clients/timeline.py`` merges them)."""

    key: str  # the kind, stable: used in URLs and the cursor ("ticket"); in TIMELINE_ORDER
    label: str  # plural, for the filter: "Tickets"
    permission: str
    rows: ClientRecords  # the client's rows of this kind that the user may see
    time_field: str  # the column the entry is dated by
    load: Callable[[list[int]], dict[int, Any]]  # ids -> objects, in a constant number of queries
    template: str  # renders one entry; gets ``entry``

    @property
    def kind(self) -> str:
        return self.key


@dataclass(frozen=True)
class DashboardPanel:
    """A panel of the dashboard: ``template`` is included with ``panel`` = what
    ``context(request=, user=)`` returns. Counts belong in ``cached_figures``."""

    key: str  # in DASHBOARD_ORDER
    permission: str
    template: str
    context: PanelContext


@dataclass(frozen=True)
class NavSection:
    """A link of the sidebar, shown to users with ``permission`` (None: every staff member);
    active while the path is under its URL. Sections with a ``heading`` are grouped under it."""

    key: str  # in NAVIGATION_ORDER
    label: str
    url_name: str
    permission: str | None
    heading: str = ""


@dataclass(frozen=True)
class FeedFilter:
    """An extra filter of the audit feed from another app (the review queue's "review state"):
    a choice ``key`` (the query parameter) whose chosen value ``contexts(value=)`` turns into
    the ids of the contexts the feed keeps."""

    key: str
    label: str
    choices: Sequence[tuple[str, str]]
    contexts: Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class CurrencyLock:
    """A reason a client's currency may no longer change: ``check(client=)`` returns why
    ("the client has invoices"), or "" when it may."""

    key: str
    check: Callable[..., str]


@dataclass(frozen=True)
class InvoiceStatusChange:
    """What billing tells other apps when an invoice enters a status: the invoice (already saved
    in ``new_status``), where it came from, who and why, and the money row that did it where
    there is one (the payment that paid it, the refund that emptied it)."""

    invoice: Any  # billing.models.Invoice
    old_status: str
    new_status: str  # "paid", "cancelled" or "refunded"
    actor: Any
    reason: str = ""
    transaction: Any = None  # billing.models.Transaction: the payment or the refund, or None

    @property
    def refund(self) -> Any:
        return self.transaction if self.new_status == "refunded" else None


@dataclass(frozen=True)
class InvoiceStatusHandler:
    """Runs inside billing's transaction when an invoice enters ``status`` (``paid``,
    ``cancelled`` or ``refunded``): ``handle(change)``; raising refuses the change. Handlers
    run in registration order (INSTALLED_APPS order)."""

    key: str
    status: str
    handle: Callable[[InvoiceStatusChange], None]


@dataclass(frozen=True)
class EmailAttachmentSource:
    """Renders an email attachment at delivery (``clients/outbox.py``): object id → (content,
    MIME type). Billing renders invoice PDFs, support ticket files."""

    key: str
    render: Callable[[int], tuple[bytes, str]]


@dataclass(frozen=True)
class EmailBodySource:
    """Writes a body that holds a secret (a set-password link) at delivery: log → text."""

    key: str
    render: Callable[[Any], str]


@dataclass(frozen=True)
class ApprovalAction:
    """A service call that can wait for a second person (``approvals``): ``run(actor=,
    **kwargs)`` is the service itself, run with the maker as ``actor`` once approved.
    ``secret_kwargs`` wait encrypted and are never shown; ``labels`` name the arguments on the
    request's page (the others are shown by their names)."""

    key: str  # the service's audit action, e.g. "billing.refund_payment"
    label: str
    run: Callable[..., Any]
    secret_kwargs: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HistoryFilter:
    """Which events of one tracked model a user may read in a record-wide history (a client's
    History tab, ``audit/scope.py``): ``where(user=)`` returns a SQL condition over the event
    row ``e`` and its parameters, or None when the user may read them all. The owning app
    writes it from the same rule its pages use (a restricted department's tickets)."""

    key: str  # the tracked model's label, "support.ticket"
    where: Callable[..., tuple[str, list[Any]] | None]


@dataclass(frozen=True)
class Reverter:
    """How the owning app sets a field edit of one of its records back (``audit/revert.py``,
    the "Revert" button of an audit entry).

    ``revert(record=, values=, actor=, reason=, version=)`` calls the app's own update service
    with ``values`` (field name -> the value before the edit; related rows as instances) and
    returns the record; ``version`` is the event being undone, so that the service refuses
    (``changed_since_opened``) when the record changed since. ``fields`` are the ones it may
    set back; ``derived`` ones the service recomputes (an edit that touched only those and
    ``fields`` is revertible). ``refuse(record=, values=)`` says why this record may not be
    reverted ("" when it may); ``revert=None`` never may (money). ``instead(record=)`` says
    what to do instead, as ``(text, url)`` (url may be "")."""

    key: str  # the tracked model's label, "clients.client"
    fields: tuple[str, ...] = ()
    revert: Callable[..., Any] | None = None
    refuse: Callable[..., str] | None = None
    instead: Callable[..., tuple[str, str]] | None = None
    derived: tuple[str, ...] = ()


# The registry ------------------------------------------------------------------------------------

Point = (
    ProfileTab
    | ServiceTab
    | ServiceNotice
    | NoteSubject
    | TimelineSource
    | DashboardPanel
    | NavSection
    | FeedFilter
    | CurrencyLock
    | InvoiceStatusHandler
    | EmailAttachmentSource
    | EmailBodySource
    | ApprovalAction
    | HistoryFilter
    | Reverter
)
P = TypeVar("P", bound=Point)

ORDERS: dict[type, Sequence[str]] = {
    ProfileTab: PROFILE_TAB_ORDER,
    ServiceTab: SERVICE_TAB_ORDER,
    TimelineSource: TIMELINE_ORDER,
    DashboardPanel: DASHBOARD_ORDER,
    NavSection: NAVIGATION_ORDER,
}
_registered: dict[type, dict[str, Any]] = {}


def register(*points: Point) -> None:
    """Add (or replace, by key) extension points; call from ``<app>/extensions.py``."""
    for point in points:
        kind = type(point)
        order = ORDERS.get(kind)
        if order is not None and point.key not in order:
            raise ImproperlyConfigured(
                f"{kind.__name__} {point.key!r} is not in its order list in "
                "core/extension_points.py: add it where it belongs."
            )
        _registered.setdefault(kind, {})[point.key] = point


def unregister(point: Point) -> None:
    _registered.get(type(point), {}).pop(point.key, None)


def registered(kind: type[P]) -> list[P]:
    """Every registered point of ``kind``: in its declared order, else in registration order."""
    points = list(_registered.get(kind, {}).values())
    order = ORDERS.get(kind)
    if order is not None:
        points.sort(key=lambda p: order.index(p.key))
    return points


def get(kind: type[P], key: str) -> P | None:
    return _registered.get(kind, {}).get(key)


def visible(kind: type[P], user: Any) -> list[P]:
    """The registered points of ``kind`` (with a ``permission``) that ``user`` may see."""
    return [
        p
        for p in registered(kind)
        if p.permission is None or user.has_perm(p.permission)  # type: ignore[union-attr]  # kinds with one
    ]


# Helpers for the points --------------------------------------------------------------------------


def invoice_entered(change: InvoiceStatusChange) -> None:
    """Billing calls this, inside its transaction, when an invoice enters a status."""
    for handler in registered(InvoiceStatusHandler):
        if handler.status == change.new_status:
            handler.handle(change)


def cached_figures(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A dashboard panel's counts and totals, computed at most once per
    ``DASHBOARD_FIGURES_SECONDS``.

    Counting hundreds of thousands of rows on every visit is most of the dashboard's cost; staff
    can live with figures a few seconds old (the page says how old). The lists beside them (the
    most overdue invoices, the pending orders) stay live. 0 turns the cache off (the tests).
    """
    seconds = settings.DASHBOARD_FIGURES_SECONDS
    if not seconds:
        return compute()
    figures = cache.get(f"dashboard:{key}")
    if figures is None:
        figures = compute()
        cache.set(f"dashboard:{key}", figures, seconds)
    return figures
