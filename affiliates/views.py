from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
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
from audit.edits import version_of
from audit.views import RecordHistoryMixin
from billing.views import action_page
from clients.models import Client
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin

SHOWN = 100


class AffiliateListView(StaffPermissionRequiredMixin, ListView):
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


class AffiliateDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "affiliates.view_affiliate"
    template_name = "affiliates/affiliate_detail.html"
    context_object_name = "affiliate"
    queryset = Affiliate.objects.with_balances().select_related("client", "enrolled_by")

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


class _AffiliateAction(StaffPermissionRequiredMixin, View):
    """A small form about one affiliate: validate, call one service, redirect."""

    permission_required = "affiliates.change_affiliate"
    form_class: type = ReverseForm
    title = ""
    submit = "Save"

    def affiliate(self, pk: int) -> Affiliate:
        return get_object_or_404(Affiliate.objects.select_related("client"), pk=pk)

    def form(self, request: HttpRequest, affiliate: Affiliate) -> Any:
        return self.form_class(request.POST or None)

    def page(self, request: HttpRequest, affiliate: Affiliate, form: Any, status: int = 200):
        return action_page(
            request,
            form,
            title=self.title.format(a=affiliate),
            back=affiliate.get_absolute_url(),
            crumbs=_crumbs(affiliate),
            submit=self.submit,
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        affiliate = self.affiliate(pk)
        return self.page(request, affiliate, self.form(request, affiliate))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        affiliate = self.affiliate(pk)
        form = self.form(request, affiliate)
        if form.is_valid():
            try:
                message = self.act(request, affiliate, form)
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, message)
                return redirect(affiliate)
        return self.page(request, affiliate, form, status=400)

    def act(self, request: HttpRequest, affiliate: Affiliate, form: Any) -> str:
        raise NotImplementedError


class AffiliateEnrolView(StaffPermissionRequiredMixin, View):
    permission_required = "affiliates.add_affiliate"

    def _page(self, request: HttpRequest, client: Client, form: Any, status: int = 200):
        return action_page(
            request,
            form,
            title=f"Enrol {client.full_name} as an affiliate",
            back=client.get_absolute_url() + "?tab=affiliate",
            crumbs=[
                ("Clients", reverse("clients:client-list")),
                (client.full_name, client.get_absolute_url()),
            ],
            submit="Enrol",
            status=status,
        )

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        return self._page(request, client, AffiliateTermsForm())

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        form = AffiliateTermsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                affiliate = services.enrol_affiliate(
                    client=client,
                    actor=request.user,
                    code=data["code"],
                    commission_type=data["commission_type"],
                    commission_value=data["commission_value"],
                    payout_threshold=data["payout_threshold"],
                    notes=data["notes"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"{client.full_name} is affiliate {affiliate.code}.")
                return redirect(affiliate)
        return self._page(request, client, form, status=400)


class AffiliateUpdateView(_AffiliateAction):
    form_class = AffiliateUpdateForm
    title = "Edit affiliate {a.code}"

    def form(self, request: HttpRequest, affiliate: Affiliate) -> Any:
        initial = {name: getattr(affiliate, name) for name in services.AFFILIATE_FIELDS}
        initial["version"] = version_of(affiliate)
        return AffiliateUpdateForm(request.POST or None, initial=initial)

    def act(self, request: HttpRequest, affiliate: Affiliate, form: Any) -> str:
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("audit_reason", "version")}
        services.update_affiliate(
            affiliate=affiliate,
            data=data,
            actor=request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )
        return "Affiliate saved."


class ReferralCreateView(_AffiliateAction):
    form_class = ReferralForm
    title = "Add a referral to {a.code}"
    submit = "Add referral"

    def act(self, request: HttpRequest, affiliate: Affiliate, form: Any) -> str:
        services.add_referral(
            affiliate=affiliate,
            actor=request.user,
            client=form.cleaned_data["client"],
            service=form.cleaned_data["service"],
            reason=form.cleaned_data["reason"],
        )
        return "Referral added."


class CommissionCreateView(_AffiliateAction):
    form_class = CommissionForm
    title = "Add a commission for {a.code}"
    submit = "Add commission"

    def act(self, request: HttpRequest, affiliate: Affiliate, form: Any) -> str:
        data = form.cleaned_data
        commission = services.add_commission(
            affiliate=affiliate,
            amount=data["amount"],
            actor=request.user,
            invoice=data["invoice"],
            reason=data["reason"],
            clears_on=data["clears_on"],
        )
        return (
            f"Commission of {commission.amount} added; "
            f"it clears on {commission.clears_on:%d/%m/%Y}."
        )


class PayoutCreateView(_AffiliateAction):
    form_class = PayoutForm
    title = "Pay affiliate {a.code}"
    submit = "Record payout"

    def act(self, request: HttpRequest, affiliate: Affiliate, form: Any) -> str:
        data = form.cleaned_data
        payout = services.record_payout(
            affiliate=affiliate,
            amount=data["amount"],
            method=data["method"],
            actor=request.user,
            reference=data["reference"],
            reason=data["reason"],
            gateway=data["gateway"],
        )
        return f"Payout of {payout.amount} recorded."


class CommissionReverseView(StaffPermissionRequiredMixin, View):
    permission_required = "affiliates.change_commission"

    def _page(self, request: HttpRequest, commission: Commission, form: Any, status: int = 200):
        affiliate = commission.affiliate
        paid_out = commission.status == Commission.Status.PAID
        verb = "Claw back" if paid_out else "Reverse"
        return action_page(
            request,
            form,
            title=f"{verb} commission #{commission.pk} ({commission.amount})",
            intro=(
                f"This commission was paid out (payout #{commission.payout_id}): a clawback "
                f"line of -{commission.amount} is added to the ledger and the affiliate's "
                "balance goes down by that much."
                if paid_out
                else ""
            ),
            back=affiliate.get_absolute_url(),
            crumbs=_crumbs(affiliate),
            submit=verb,
            status=status,
            danger=True,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        commission = get_object_or_404(Commission.objects.select_related("affiliate"), pk=pk)
        return self._page(request, commission, ReverseForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        commission = get_object_or_404(Commission.objects.select_related("affiliate"), pk=pk)
        form = ReverseForm(request.POST)
        if form.is_valid():
            try:
                line = services.reverse_commission(
                    commission=commission, reason=form.cleaned_data["reason"], actor=request.user
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(
                    request,
                    f"Clawback of {line.amount} added."
                    if line.kind == Commission.Kind.CLAWBACK
                    else "Commission reversed.",
                )
                return redirect(commission.affiliate)
        return self._page(request, commission, form, status=400)
