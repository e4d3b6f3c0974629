from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models.fields.json import KT
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.generic import ListView, TemplateView

from audit import provenance, reasons
from audit import revert as reverting
from audit import scope as scoping
from audit.feed import Feed, FeedFilters, FeedRow, _start_of, actor_display, hydrate, model_label
from audit.forms import FeedFilterForm, ReasonReportForm, RevertForm
from audit.models import StaffSession
from audit.seal import SealStatus
from audit.seal import status as seal_status
from audit.tracking import UPDATE, event_model_for, event_models
from core.views import StaffPermissionRequiredMixin
from core.write import WriteView

REVIEW = "audit.review_audit"
FEED_PAGE_SIZE = 50


class FeedView(StaffPermissionRequiredMixin, TemplateView):
    permission_required = REVIEW
    template_name = "audit/feed.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = FeedFilterForm(self.request.GET or None)
        page = None
        if not form.is_bound or form.is_valid():
            filters = form.to_filters() if form.is_bound else FeedFilters()
            # The feed shows which fields changed, not their values (the entry page does).
            page = Feed(filters).page(
                cursor=self.request.GET.get("after"), per_page=FEED_PAGE_SIZE, with_values=False
            )
        context.update(form=form, page=page, seal_status=seal_status())
        return context


@dataclass
class EntrySection:
    """What one service call (one context) of the request changed, grouped by record."""

    context: Any
    records: dict[tuple[str, Any], list[FeedRow]] = field(default_factory=dict)
    reverted_by: list[Any] = field(default_factory=list)  # the entries that undid it

    @property
    def metadata(self) -> dict[str, Any]:
        return self.context.metadata if self.context is not None else {}

    @property
    def actor(self) -> str:
        return actor_display(self.metadata)


# A request with more service calls than this (a demo seed, a bulk job) lists the first ones.
ENTRY_CONTEXT_LIMIT = 2_000


class EntryView(StaffPermissionRequiredMixin, TemplateView):
    """Everything one request or command run changed: a section per service call (action)."""

    permission_required = REVIEW
    template_name = "audit/entry.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from pghistory.models import Context

        context = super().get_context_data(**kwargs)
        entry = Context.objects.filter(pk=kwargs["context_id"]).first()
        if entry is None:
            raise Http404("No such entry.")
        request_id = entry.metadata.get("request_id", "")
        contexts = [entry]
        if request_id:
            # ->> (text), so that the index on metadata->>'request_id' serves it.
            contexts = list(
                Context.objects.annotate(request_id=KT("metadata__request_id"))
                .filter(request_id=request_id)
                .order_by("created_at", "id")[:ENTRY_CONTEXT_LIMIT]
            )
        by_id = {c.pk: c for c in contexts}
        by_id.setdefault(entry.pk, entry)  # the one clicked, even past the limit
        page = Feed(FeedFilters(context_ids=tuple(by_id))).page(
            cursor=self.request.GET.get("after"), per_page=500
        )
        sections: dict[Any, EntrySection] = {}
        for row in reversed(page.rows):  # oldest first reads like the story of the request
            section = sections.setdefault(
                row.event.pgh_context_id, EntrySection(context=by_id.get(row.event.pgh_context_id))
            )
            section.records.setdefault((row.model_label, row.object_id), []).append(row)
        # The entries that reverted one of these: one indexed query (audit migration 0009).
        reverts = reverting.reverted_by([c for c in sections if c is not None])
        for context_id, section in sections.items():
            section.reverted_by = reverts.get(str(context_id), [])
        can_revert = self.request.user.has_perm(reverting.RIGHT)
        # Who/where/when of the request: the outermost frame's metadata (no action, reason).
        metadata = {
            k: v for k, v in entry.metadata.items() if k not in ("action", "reason", "within")
        }
        context.update(
            entry=entry,
            metadata=metadata,
            page=page,
            sections=list(sections.values()),
            truncated=len(contexts) >= ENTRY_CONTEXT_LIMIT,
            seal_status=seal_status(),
            revertible=reverting.revertible_labels() if can_revert else frozenset(),
            # Events already reverted offer no second Revert (it would be refused as stale).
            reverted_events={
                c.metadata.get("reverts_event") for found in reverts.values() for c in found
            },
            # In the order they ran, each once.
            actions=list(
                dict.fromkeys(
                    s.metadata["action"] for s in sections.values() if s.metadata.get("action")
                )
            ),
        )
        return context


class RevertView(WriteView):
    """Set back the fields one update event changed (``audit/revert.py``): the page shows each
    field as it is now and as the revert leaves it, or why it may not be reverted and what to
    do instead."""

    permission_required = (REVIEW, reverting.RIGHT)
    form_class = RevertForm
    template_name = "audit/revert.html"
    title = "Revert this edit"
    submit = "Revert"
    danger = True
    success_message = "The edit was reverted."

    def get_object(self) -> reverting.Plan:
        found = reverting.plan(label=self.kwargs["model"], pgh_id=self.kwargs["pgh_id"])
        if found is None:
            raise Http404("No such event.")
        return found

    def act(self, form: Any) -> Any:
        return reverting.revert_event(
            label=self.object.label,
            pgh_id=self.object.event.pgh_id,
            actor=self.request.user,
            reason=form.cleaned_data["reason"],
        )

    def get_success_url(self, result: Any) -> str:
        if result is not None:
            return reverse("audit:entry", args=[result])
        record = self.object.record
        return record.get_absolute_url() if hasattr(record, "get_absolute_url") else self.back()

    def back(self) -> str:
        context_id = self.object.context_id
        if context_id is not None:
            return reverse("audit:entry", args=[context_id])
        return reverse("audit:event", args=[self.object.label, self.object.event.pgh_id])

    def get_back_url(self) -> str:
        return self.back()

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Audit trail", reverse("audit:feed")), ("Entry", self.back())]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The entry page's change table, read the other way: now → after the revert.
        context["preview_row"] = {"operation": UPDATE, "changes": self.object.preview}
        return context


class EventView(StaffPermissionRequiredMixin, TemplateView):
    """One event on its own: the way to look at an unattributed write."""

    permission_required = REVIEW
    template_name = "audit/event.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        by_label = {model_label(m): m for m in event_models()}
        if kwargs["model"] not in by_label:
            raise Http404("No such record type.")
        rows = hydrate([(kwargs["model"], kwargs["pgh_id"])], by_label)
        if not rows:
            raise Http404("No such event.")
        context["row"] = rows[0]
        return context


# Cells a spreadsheet would run as a formula. Prefixing a quote makes them plain text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_HEADER = [
    "time (UTC)",
    "actor",
    "channel",
    "action",
    "operation",
    "record type",
    "record id",
    "record",
    "changes",
    "reason",
    "ip",
    "request id",
    "entry id",
]


def seal_lines(filters: FeedFilters, seal: SealStatus, *, now: dt.datetime) -> list[list[str]]:
    """The export's header lines: what was exported, and how much of that range the seals
    cover (events after the last seal can still be rewritten by a superuser unnoticed)."""
    start = _start_of(filters.since) if filters.since else None
    end = _start_of(filters.until + dt.timedelta(days=1)) if filters.until else now
    end = min(end, now)
    shown = [
        f"{k}={v}"
        for k, v in sorted(vars(filters).items())
        if v not in (None, "", False) and k != "context_ids"
    ]
    if seal.sealed_through is None:
        coverage = "not sealed: no seal exists yet"
    elif seal.sealed_through >= end:
        coverage = f"fully sealed (sealed up to {_iso(seal.sealed_through)})"
    elif start is not None and seal.sealed_through < start:
        coverage = f"not sealed (sealed up to {_iso(seal.sealed_through)}, before this range)"
    else:
        coverage = (
            f"sealed up to {_iso(seal.sealed_through)}; later events in this range are not "
            "sealed yet"
        )
    if seal.verified_at is None:
        verified = "never verified"
    else:
        outcome = "OK" if seal.verified_ok else f"{seal.problems} problem(s)"
        verified = f"last verified at {_iso(seal.verified_at)}: {outcome}"
    return [
        [f"# audit trail export, made at {_iso(now)}"],
        [f"# range: {_iso(start) if start else 'the beginning'} to {_iso(end)} (UTC)"],
        ["# filters: " + (", ".join(shown) if shown else "none")],
        [f"# seal status of this range: {coverage}; {verified}"],
    ]


def _iso(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def export_rows(feed: Feed, *, batch: int = 500) -> Iterator[list[str]]:
    yield EXPORT_HEADER
    for row in feed.iterate(batch=batch):
        changes = "; ".join(f"{c.label}: {c.old} → {c.new}" for c in row.changes)
        yield [
            spreadsheet_safe(v)
            for v in (
                row.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                row.actor,
                row.channel,
                row.action,
                row.operation,
                row.model_label,
                row.object_id,
                row.object_repr,
                changes,
                row.reason,
                row.metadata.get("ip", ""),
                row.metadata.get("request_id", ""),
                row.context.pk if row.context else "",
            )
        ]


class ExportView(StaffPermissionRequiredMixin, TemplateView):
    """The feed as CSV, streamed: rows are read a keyset page (``batch`` events) at a time and
    written as they come, so memory holds one page whatever the range; every feed filter
    applies. The header lines say which range it is and how far the seals cover it."""

    permission_required = REVIEW
    batch = 500

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = FeedFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return HttpResponse(
                "Invalid filters: "
                + "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items()),
                status=400,
                content_type="text/plain",
            )
        filters = form.to_filters() if form.is_bound else FeedFilters()
        writer = csv.writer(_Echo())
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        # A stream is a response too; the stubs type TemplateView.get as the plain kind.
        lines = seal_lines(filters, seal_status(), now=timezone.now())
        rows = itertools.chain(lines, export_rows(Feed(filters), batch=self.batch))
        return StreamingHttpResponse(  # type: ignore[return-value]  # a stream: a response
            (writer.writerow(r) for r in rows),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )


class StaffSessionListView(StaffPermissionRequiredMixin, ListView):
    permission_required = REVIEW
    template_name = "audit/staff_sessions.html"
    paginate_by = 50
    context_object_name = "sessions"

    def get_queryset(self) -> Any:
        queryset = StaffSession.objects.select_related("user").newest_first()
        kind = self.request.GET.get("kind", "")
        if kind in StaffSession.Kind.values:
            queryset = queryset.filter(kind=kind)
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["kinds"] = StaffSession.Kind.choices
        context["kind"] = self.request.GET.get("kind", "")
        return context


class RecordHistoryMixin:
    """Adds a History tab and provenance markers to a detail view.

    Whoever may view the record reads its history (the view's own permission and queryset
    decide that); the audit feed and entry pages stay Admin-only. ``history_depth`` > 0 makes
    it record-wide (``audit/scope.py``): a client's tab covers its contacts, services,
    invoices…, a hosting account's its add-ons and changes; models the user may not view, and
    rows an app hides from them (a restricted department's tickets), are left out.
    """

    history_page_size = 25
    history_depth = 0
    request: HttpRequest

    def history_url(self, obj: Any) -> str:
        return (obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else "") + "?tab=history"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]  # a view mixin
        obj = context["object"]
        user = self.request.user
        context["can_review_audit"] = user.has_perm(REVIEW)
        context["can_read_history"] = event_model_for(type(obj)) is not None
        context["tab"] = "history" if self.request.GET.get("tab") == "history" else "overview"
        if context["tab"] == "history":
            if not context["can_read_history"]:
                raise Http404("This record has no history.")
            found = scoping.for_user(scoping.branches(obj, obj.pk, self.history_depth), user)
            context["history_wide"] = self.history_depth > 0
            context["history"] = Feed(FeedFilters(), scope=found).page(
                cursor=self.request.GET.get("after"), per_page=self.history_page_size
            )
        else:
            context["provenance"] = provenance.of(obj, history_url=self.history_url(obj))
        return context


class ReasonReportView(StaffPermissionRequiredMixin, TemplateView):
    """The reasons report (``audit.reasons``): entries per month, action, reason code and staff
    member, with the money they moved per currency; ``?format=csv`` downloads the same rows."""

    permission_required = REVIEW
    template_name = "audit/reasons.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ReasonReportForm(request.GET or None)
        valid = not form.is_bound or form.is_valid()
        data = form.cleaned_data if form.is_bound and valid else {}
        # A year unless asked otherwise: the table stays a page long.
        until = data.get("until")
        since = data.get("since") or (until or timezone.localdate()) - dt.timedelta(days=365)
        rows = (
            reasons.report(since=since, until=data.get("until"), action=data.get("action", ""))
            if valid
            else []
        )
        if valid and request.GET.get("format") == "csv":
            writer = csv.writer(_Echo())
            return StreamingHttpResponse(  # type: ignore[return-value]  # a stream: a response
                (writer.writerow(r) for r in reasons.csv_lines(rows)),
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="reason-codes.csv"'},
            )
        totals: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            total = totals.setdefault(
                (r.action, r.code),
                {"action": r.action, "label": r.label, "code": r.code, "count": 0, "sums": {}},
            )
            total["count"] += r.count
            if r.amount is not None:
                total["sums"][r.currency] = total["sums"].get(r.currency, 0) + r.amount
        context = self.get_context_data(
            form=form,
            rows=rows,
            totals=sorted(totals.values(), key=lambda t: -t["count"]),
            since=since,
            until=until,
        )
        return self.render_to_response(context, status=200 if valid else 400)
