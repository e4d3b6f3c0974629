"""The approvals queue, one request's page with its decision, and ``FourEyesMixin``, which
turns a business write view's entry into a request when it is over its threshold."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView, ListView

from approvals import services
from approvals.models import ApprovalRequest
from approvals.thresholds import Needed
from core.pagination import DeferredJoinPaginator
from core.permissions import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, WriteView

VIEW = "approvals.view_approvalrequest"
SHOWS = {
    "waiting": "Waiting for me",
    "mine": "My requests",
    "pending": "All waiting",
    "decided": "Decided",
}


class FourEyesMixin:
    """For a ``WriteView`` whose service may need a second person.

    The view declares ``approval_action`` (the ``ApprovalAction`` key its app registered),
    ``service_kwargs(form)`` (the call, without ``actor``), ``approval_needed(form)`` (a
    ``thresholds.check`` answer: ``None`` runs the service now) and ``approval_summary(form)``.
    Over the threshold, ``act`` saves a request instead and sends the maker to its page.
    """

    approval_action = ""
    request: HttpRequest
    object: Any

    def approval_needed(self, form: Any) -> Needed | None:
        raise NotImplementedError

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        raise NotImplementedError

    def approval_summary(self, form: Any) -> str:
        raise NotImplementedError

    def approval_reason(self, form: Any) -> str:
        return str(self.service_kwargs(form).get("reason", ""))

    def act(self, form: Any) -> Any:
        kwargs = self.service_kwargs(form)
        needed = self.approval_needed(form)
        if needed is None:
            return services.action_for(self.approval_action).run(actor=self.request.user, **kwargs)
        made = services.request_approval(
            action=self.approval_action,
            needed=needed,
            maker=self.request.user,
            kwargs=kwargs,
            summary=self.approval_summary(form),
            reason=self.approval_reason(form),
            reason_code=form.cleaned_data.get("reason_code", ""),
            subject=self.object,
        )
        messages.info(
            self.request,
            f"Waiting for approval: {needed.why} Nothing has been changed yet; "
            "you will find the request under Approvals.",
        )
        return redirect(made)


class RequestListView(StaffPermissionRequiredMixin, CrumbsMixin, ListView):
    permission_required = VIEW
    template_name = "approvals/request_list.html"
    context_object_name = "requests"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_current_crumb(self) -> str:
        return "Approvals"

    def show(self) -> str:
        shown = self.request.GET.get("show", "waiting")
        return shown if shown in SHOWS else "waiting"

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        user, shown = self.request.user, self.show()
        if shown == "waiting":
            rows = services.waiting_for(user).order_by("created_at", "id")
        elif shown == "mine":
            rows = ApprovalRequest.objects.filter(maker_id=user.pk).order_by("-created_at", "-id")
        elif shown == "pending":
            rows = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).order_by(
                "created_at", "id"
            )
        else:
            rows = ApprovalRequest.objects.exclude(status=ApprovalRequest.Status.PENDING).order_by(
                "-created_at", "-id"
            )
        return rows.select_related("maker", "decided_by")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        shown = self.show()
        return super().get_context_data(
            shows=SHOWS, shown=shown, shown_label=SHOWS[shown], **kwargs
        )


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label="Reason for your decision",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        help_text="Recorded in the audit trail with the decision.",
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Why withdraw it (optional)", required=False, max_length=500)


class RequestDetailView(StaffPermissionRequiredMixin, CrumbsMixin, DetailView):
    permission_required = VIEW
    template_name = "approvals/request_detail.html"
    context_object_name = "approval"
    queryset = ApprovalRequest.objects.select_related("maker", "decided_by")

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [("Approvals", reverse("approvals:request-list"))]

    def get_current_crumb(self) -> str:
        return f"Request #{self.object.pk}"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        approval = self.object
        user = self.request.user
        refusal = services.approval_refusal(approval, user)
        overdue = approval.is_pending and approval.expires_at <= timezone.now()
        return super().get_context_data(
            arguments=services.shown_arguments(approval),
            may_decide=approval.is_pending and not overdue and refusal is None,
            refusal=" ".join(refusal.messages)
            if refusal is not None and approval.is_pending
            else "",
            may_withdraw=approval.is_pending and not overdue and approval.maker_id == user.pk,
            overdue=overdue,
            self_approval=approval.maker_id == user.pk and refusal is None,
            decision_form=kwargs.pop("decision_form", None) or DecisionForm(),
            withdraw_form=WithdrawForm(),
            **kwargs,
        )


class _DecideView(WriteView):
    permission_required = VIEW
    form_class: Any = DecisionForm
    template_name = "approvals/request_detail.html"

    def get_object(self) -> ApprovalRequest:
        return get_object_or_404(
            ApprovalRequest.objects.select_related("maker", "decided_by"), pk=self.kwargs["pk"]
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return redirect(self.get_object())

    def render_form(self, form: Any, status: int = 200, **extra: Any) -> HttpResponse:
        detail = RequestDetailView(request=self.request, kwargs=self.kwargs, object=self.object)
        context = detail.get_context_data(object=self.object, decision_form=form, **extra)
        return render(self.request, self.template_name, context, status=status)

    def get_success_url(self, result: Any) -> str:
        return result.get_absolute_url()


class ApproveView(_DecideView):
    def act(self, form: Any) -> ApprovalRequest:
        return services.approve_request(
            request=self.object, approver=self.request.user, reason=form.cleaned_data["reason"]
        )

    def get_success_message(self, result: ApprovalRequest) -> str:
        done = f" — {result.result_label}" if result.result_label else ""
        return f"Approved and applied{done}."


class RejectView(_DecideView):
    def act(self, form: Any) -> ApprovalRequest:
        return services.reject_request(
            request=self.object, approver=self.request.user, reason=form.cleaned_data["reason"]
        )

    def get_success_message(self, result: ApprovalRequest) -> str:
        return "Rejected: nothing was changed."


class WithdrawView(_DecideView):
    form_class = WithdrawForm

    def act(self, form: Any) -> ApprovalRequest:
        return services.withdraw_request(
            request=self.object, maker=self.request.user, reason=form.cleaned_data["reason"]
        )

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        messages.error(self.request, " ".join(exc.messages))

    def get_success_message(self, result: ApprovalRequest) -> str:
        return "Withdrawn: nothing was changed."
