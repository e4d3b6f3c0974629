from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import formats
from django.views.generic import DetailView, ListView

from affiliates import services
from affiliates.forms import (
    AffiliateFilter,
    AffiliateTermsForm,
    AffiliateUpdateForm,
    CommissionForm,
    PayoutForm,
    ReferralForm,
    ReverseForm,
)
from affiliates.models import Affiliate, Commission, Payout, Referral
from approvals import thresholds
from approvals.views import FourEyesMixin
from audit.edits import version_of
from audit.reasons import ReasonCodeMixin
from audit.views import RecordHistoryMixin
from clients.models import Client
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, WriteView

SHOWN = 100


class AffiliateListView(StaffPermissionRequiredMixin, ListView):
    """Not a ``FilteredListView``: a plain form (code or client search), not a FilterSet."""

    permission_required = "affiliates.view_affiliate"
    template_name = "affiliates/affiliate_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.form = AffiliateFilter(self.request.GET or None)
        rows = Affiliate.objects.with_balances().select_related("client")
        if self.form.is_valid():
            text = self.form.cleaned_data["q"].strip()
            if text:
                rows = rows.filter(code__istartswith=text) | rows.filter(
                    client__in=Client.objects.search(text)
                )
            if self.form.cleaned_data["active"]:
                rows = rows.filter(active=self.form.cleaned_data["active"] == "yes")
        return rows.order_by("code")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(form=self.form, **kwargs)


class AffiliateDetailView(
    StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView
):
    permission_required = "affiliates.view_affiliate"
    template_name = "affiliates/affiliate_detail.html"
    context_object_name = "affiliate"
    queryset = Affiliate.objects.with_balances().select_related("client", "enrolled_by")

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _crumbs()

    def get_current_crumb(self) -> str:
        return self.object.code

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        affiliate = self.object
        context["referrals"] = list(
            Referral.objects.filter(affiliate=affiliate)
            .select_related("client", "service__product", "created_by")
            .order_by("-created_at", "-id")[:SHOWN]
        )
        clawed_back = Commission.objects.filter(clawback_of=OuterRef("pk"))
        context["commissions"] = list(
            Commission.objects.filter(affiliate=affiliate)
            .annotate(clawed_back=Exists(clawed_back))
            .select_related("invoice", "payout", "reversed_by_refund", "created_by")
            .order_by("-created_at", "-id")[:SHOWN]
        )
        context["payouts"] = list(
            Payout.objects.filter(affiliate=affiliate)
            .select_related("transaction", "credit_entry", "created_by")
            .order_by("-created_at", "-id")[:SHOWN]
        )
        return context


def _crumbs(affiliate: Affiliate | None = None) -> list[tuple[str, str]]:
    crumbs = [("Affiliates", reverse("affiliates:affiliate-list"))]
    if affiliate is not None:
        crumbs.append((affiliate.code, affiliate.get_absolute_url()))
    return crumbs


class _AffiliateAction(WriteView):
    """A small form about one affiliate: validate, call one service, redirect."""

    permission_required = "affiliates.change_affiliate"
    form_class: Any = ReverseForm

    def get_object(self) -> Affiliate:
        return get_object_or_404(Affiliate.objects.select_related("client"), pk=self.kwargs["pk"])

    def get_title(self) -> str:
        return self.title.format(a=self.object)

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _crumbs(self.object)

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class AffiliateEnrolView(WriteView):
    permission_required = "affiliates.add_affiliate"
    form_class = AffiliateTermsForm
    submit = "Enrol"

    def get_object(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["client_pk"])

    def get_title(self) -> str:
        return f"Enrol {self.object.full_name} as an affiliate"

    def get_back_url(self) -> str:
        return self.object.get_absolute_url() + "?tab=affiliate"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Clients", reverse("clients:client-list")),
            (self.object.full_name, self.object.get_absolute_url()),
        ]

    def act(self, form: Any) -> Affiliate:
        data = form.cleaned_data
        return services.enrol_affiliate(
            client=self.object,
            actor=self.request.user,
            code=data["code"],
            commission_type=data["commission_type"],
            commission_value=data["commission_value"],
            payout_threshold=data["payout_threshold"],
            notes=data["notes"],
        )

    def get_success_message(self, result: Affiliate) -> str:
        return f"{self.object.full_name} is affiliate {result.code}."


class AffiliateUpdateView(_AffiliateAction):
    form_class = AffiliateUpdateForm
    title = "Edit affiliate {a.code}"
    success_message = "Affiliate saved."

    def get_initial(self) -> dict[str, Any]:
        initial = {name: getattr(self.object, name) for name in services.AFFILIATE_FIELDS}
        initial["version"] = version_of(self.object)
        return initial

    def act(self, form: Any) -> Any:
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("audit_reason", "version")}
        return services.update_affiliate(
            affiliate=self.object,
            data=data,
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )


class ReferralCreateView(_AffiliateAction):
    form_class = ReferralForm
    title = "Add a referral to {a.code}"
    submit = "Add referral"
    success_message = "Referral added."

    def act(self, form: Any) -> Any:
        return services.add_referral(
            affiliate=self.object,
            actor=self.request.user,
            client=form.cleaned_data["client"],
            service=form.cleaned_data["service"],
            reason=form.cleaned_data["reason"],
        )


class CommissionCreateView(_AffiliateAction):
    form_class = CommissionForm
    title = "Add a commission for {a.code}"
    submit = "Add commission"

    def act(self, form: Any) -> Commission:
        data = form.cleaned_data
        return services.add_commission(
            affiliate=self.object,
            amount=data["amount"],
            actor=self.request.user,
            invoice=data["invoice"],
            reason=data["reason"],
            clears_on=data["clears_on"],
        )

    def get_success_message(self, result: Commission) -> str:
        clears_on = formats.date_format(result.clears_on, "SHORT_DATE_FORMAT")
        return f"Commission of {result.amount} added; it clears on {clears_on}."


class PayoutCreateView(ReasonCodeMixin, FourEyesMixin, _AffiliateAction):
    permission_required = ("affiliates.change_affiliate", "affiliates.pay_out_affiliate")
    approval_action = "affiliates.record_payout"
    reason_codes = "affiliates.record_payout"

    def reason_amount(self, form: Any) -> Decimal | None:
        return form.cleaned_data["amount"]

    def reason_currency(self, form: Any) -> str:
        return self.object.client.currency

    form_class = PayoutForm
    title = "Pay affiliate {a.code}"
    submit = "Record payout"

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            "affiliate": self.object,
            "amount": data["amount"],
            "method": data["method"],
            "reference": data["reference"],
            "reason": data["reason"],
            "gateway": data["gateway"],
        }

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return thresholds.check(
            "affiliates.pay_out_affiliate",
            label="Affiliate payouts",
            amount=form.cleaned_data["amount"],
            currency=self.object.client.currency,
        )

    def approval_summary(self, form: Any) -> str:
        amount = form.cleaned_data["amount"]
        return f"Pay affiliate {self.object.code} {amount} {self.object.client.currency}"

    def get_success_message(self, result: Payout) -> str:
        return f"Payout of {result.amount} recorded."


class CommissionReverseView(WriteView):
    permission_required = "affiliates.change_commission"
    form_class = ReverseForm
    danger = True

    def get_object(self) -> Commission:
        return get_object_or_404(
            Commission.objects.select_related("affiliate"), pk=self.kwargs["pk"]
        )

    @property
    def paid_out(self) -> bool:
        return self.object.status == Commission.Status.PAID

    @property
    def submit(self) -> str:
        return "Claw back" if self.paid_out else "Reverse"

    def get_title(self) -> str:
        return f"{self.submit} commission #{self.object.pk} ({self.object.amount})"

    def get_intro(self) -> str:
        commission = self.object
        if not self.paid_out:
            return ""
        return (
            f"This commission was paid out (payout #{commission.payout_id}): a clawback "
            f"line of -{commission.amount} is added to the ledger and the affiliate's "
            "balance goes down by that much."
        )

    def get_back_url(self) -> str:
        return self.object.affiliate.get_absolute_url()

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _crumbs(self.object.affiliate)

    def act(self, form: Any) -> Commission:
        return services.reverse_commission(
            commission=self.object, reason=form.cleaned_data["reason"], actor=self.request.user
        )

    def get_success_message(self, result: Commission) -> str:
        if result.kind == Commission.Kind.CLAWBACK:
            return f"Clawback of {result.amount} added."
        return "Commission reversed."

    def get_success_url(self, result: Any) -> str:
        return self.get_back_url()
