from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import ListView

from audit.feed import FeedRow, hydrate, model_label
from audit.tracking import event_models
from core.permissions import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, FilteredListView, PostOnlyWriteView, WriteView
from review import services
from review.forms import DecisionForm, DigestForm, FlaggedEntryFilter, RuleForm
from review.models import FlaggedEntry, ReviewDecision, ReviewerSettings, ReviewRule, ScanState
from review.scan import scan_trail

REVIEW = services.REVIEW_RIGHT
MANAGE_RULES = "review.change_reviewrule"


def attach_diffs(entries: Sequence[FlaggedEntry]) -> None:
    """Each entry's events as the audit entry page shows them (``entry.rows``): one query for
    the whole page's events and one for the names of related rows, whatever the page holds."""
    by_label = {model_label(m): m for m in event_models()}
    wanted: list[tuple[str, int]] = []
    for entry in entries:
        for label, pgh_id in entry.event_refs:
            if label in by_label and (label, pgh_id) not in wanted:
                wanted.append((label, pgh_id))
    found: dict[tuple[str, int], FeedRow] = {
        (row.model_label, row.event.pgh_id): row for row in hydrate(wanted, by_label)
    }
    for entry in entries:
        entry.rows = [found[(lb, pk)] for lb, pk in entry.event_refs if (lb, pk) in found]  # type: ignore[attr-defined]  # for the page


class QueueView(FilteredListView):
    """The flagged entries left to review, newest first, with their diffs."""

    permission_required = REVIEW
    template_name = "review/queue.html"
    filterset_class = FlaggedEntryFilter
    paginate_by = 20

    def get_base_queryset(self) -> Any:
        return FlaggedEntry.objects.select_related("rule").prefetch_related(
            Prefetch(
                "decisions",
                queryset=ReviewDecision.objects.select_related("reviewer").order_by("created_at"),
            )
        )

    def order(self, filterset: Any) -> Any:
        return filterset.qs.order_by("-occurred_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        entries = list(context["object_list"])
        attach_diffs(entries)
        user = self.request.user
        is_admin = services.is_admin(user)
        for entry in entries:
            entry.own = entry.maker_id is not None and entry.maker_id == user.pk
            entry.can_decide = (
                entry.is_open
                and not entry.own
                and (entry.status != FlaggedEntry.Status.ESCALATED or is_admin)
            )
        context.update(
            entries=entries,
            decision_form=DecisionForm(),
            scan_state=ScanState.objects.filter(pk=1).first(),
            can_manage_rules=user.has_perm(MANAGE_RULES),
        )
        return context


class DecideView(WriteView):
    """Mark one flagged entry reviewed or escalate it (the queue's buttons post here; a refusal
    comes back on this page, the note kept)."""

    permission_required = REVIEW
    form_class = DecisionForm
    template_name = "review/decide.html"
    submit = "Save decision"
    success_message = "Decision recorded."

    def get_object(self) -> FlaggedEntry:
        return get_object_or_404(FlaggedEntry.objects.select_related("rule"), pk=self.kwargs["pk"])

    def get_title(self) -> str:
        return f"Review: {self.object.summary}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Review queue", reverse("review:queue"))]

    def get_back_url(self) -> str:
        return reverse("review:queue")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        attach_diffs([self.object])
        return super().get_context_data(entry=self.object, **kwargs)

    def act(self, form: Any) -> ReviewDecision:
        return services.decide_entry(
            entry=self.object,
            decision=form.cleaned_data["decision"],
            note=form.cleaned_data["note"],
            reviewer=self.request.user,
        )

    def get_success_url(self, result: Any) -> str:
        return reverse("review:queue")


class ScanNowView(PostOnlyWriteView):
    """Read the trail now rather than at the next minute's scan."""

    permission_required = REVIEW

    def get_back_url(self) -> str:
        return reverse("review:queue")

    def act_on(self, request: HttpRequest) -> Any:
        return scan_trail()

    def get_success_message(self, result: Any) -> str:
        return f"Trail read: {result.events:,} event(s), {result.flagged:,} newly flagged."


class RuleListView(CrumbsMixin, StaffPermissionRequiredMixin, ListView):
    permission_required = MANAGE_RULES
    template_name = "review/rules.html"
    context_object_name = "rules"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Review queue", reverse("review:queue"))]

    def get_current_crumb(self) -> str:
        return "Rules"

    def get_queryset(self) -> Any:
        return ReviewRule.objects.order_by("key")


class RuleEditView(WriteView):
    permission_required = MANAGE_RULES
    form_class = RuleForm
    submit = "Save rule"
    success_message = "Rule saved."
    intro = "The change and its reason are in the audit trail. Entries already flagged stay."

    def get_object(self) -> ReviewRule:
        return get_object_or_404(ReviewRule, pk=self.kwargs["pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"rule": self.object}

    def get_title(self) -> str:
        return f"Review rule: {self.object.title}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Review queue", reverse("review:queue")), ("Rules", reverse("review:rules"))]

    def get_back_url(self) -> str:
        return reverse("review:rules")

    def act(self, form: Any) -> ReviewRule:
        return services.update_rule(
            rule=self.object,
            enabled=form.cleaned_data["enabled"],
            params=form.params(),
            reason=form.cleaned_data["reason"],
            actor=self.request.user,
        )

    def get_success_url(self, result: Any) -> str:
        return reverse("review:rules")


class DigestSettingsView(WriteView):
    """The reviewer's own choice: the daily digest by email or not."""

    permission_required = REVIEW
    form_class = DigestForm
    title = "Daily review digest"
    submit = "Save"
    success_message = "Digest setting saved."
    intro = "Once a day, an email listing what was flagged since the last one."

    def get_initial(self) -> dict[str, Any]:
        prefs = ReviewerSettings.objects.filter(user_id=self.request.user.pk or 0).first()
        return {"daily_digest": bool(prefs and prefs.daily_digest)}

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Review queue", reverse("review:queue"))]

    def get_back_url(self) -> str:
        return reverse("review:queue")

    def act(self, form: Any) -> ReviewerSettings:
        return services.set_daily_digest(
            user=self.request.user,
            daily_digest=form.cleaned_data["daily_digest"],
            actor=self.request.user,
        )

    def get_success_url(self, result: Any) -> str:
        return reverse("review:queue")
