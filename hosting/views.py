from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import DetailView

from approvals import thresholds
from approvals.views import FourEyesMixin
from audit.edits import version_of
from audit.reasons import ReasonCodeMixin
from audit.views import RecordHistoryMixin
from clients.models import Client
from core.extension_points import ServiceNotice, ServiceTab, registered, visible
from core.rights import has_right, refuse_without
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, FilteredListView, PostOnlyWriteView, WriteView
from hosting import services
from hosting.forms import (
    AddonForm,
    DomainFilter,
    DomainForm,
    RevealForm,
    SecretForm,
    ServiceFilter,
    ServiceForm,
    ServiceStatusForm,
)
from hosting.models import Addon, Domain, Service


def _client_crumbs(client: Client, tab: str) -> list[tuple[str, str]]:
    return [
        ("Clients", reverse("clients:client-list")),
        (client.full_name, client.get_absolute_url() + f"?tab={tab}"),
    ]


# Services -----------------------------------------------------------------------------------


class ServiceListView(FilteredListView):
    permission_required = "hosting.view_service"
    template_name = "hosting/service_list.html"
    filterset_class = ServiceFilter

    def get_base_queryset(self) -> Any:
        return Service.objects.select_related("client", "product", "server")


class ServiceDetailView(StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView):
    history_depth = 2  # the account, its add-ons, changes, domains, notes about it
    permission_required = "hosting.view_service"
    template_name = "hosting/service_detail.html"
    context_object_name = "service"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _client_crumbs(self.object.client, "services")

    def get_queryset(self) -> Any:
        return Service.objects.select_related("client", "product", "server")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        service = self.object
        user = self.request.user
        # Tabs and notices other apps add (ServiceTab, ServiceNotice: core/extension_points.py).
        tabs = visible(ServiceTab, user)
        context["extra_tabs"] = tabs
        context["notices"] = [
            text
            for notice in registered(ServiceNotice)
            for text in notice.notices(service=service, user=user)
        ]
        wanted = self.request.GET.get("tab")
        current = next((t for t in tabs if t.key == wanted), None)
        if current is not None:
            context["tab"], context["extra_tab"] = current.key, current
            context.update(current.context(request=self.request, user=user, service=service))
            return context
        context["addons"] = list(service.addons.select_related("definition")[:100])
        context["domains"] = list(service.domains.select_related("tld")[:50])
        context["transitions"] = sorted(Service.STATUS_TRANSITIONS[Service.Status(service.status)])
        return context


class _ClientRecordCreate(WriteView):
    """A new hosting record from the client's profile."""

    tab = ""

    def get_object(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["client_pk"])

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [(self.object.full_name, self.object.get_absolute_url())]

    def get_back_url(self) -> str:
        return self.object.get_absolute_url() + f"?tab={self.tab}"


class _RecordWrite(WriteView):
    """A form about one hosting record (account or domain) of a client."""

    model: Any = None

    def get_object(self) -> Any:
        return get_object_or_404(self.model.objects.select_related("client"), pk=self.kwargs["pk"])

    def get_crumbs(self) -> list[tuple[str, str]]:
        record = self.object
        return [
            (record.client.full_name, record.client.get_absolute_url()),
            (str(record), record.get_absolute_url()),
        ]


class _RecordEdit(_RecordWrite):
    """The edit form of a hosting record: bound to it, with the version it was opened at (a
    colleague's change made since is shown, not overwritten: ``audit.edits``)."""

    def get_title(self) -> str:
        return f"Edit {self.object}"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"instance": self.object}

    def get_initial(self) -> dict[str, Any]:
        return {"version": version_of(self.object)}


OVERRIDE_PRICE = "hosting.override_price"
OVERRIDE_MESSAGE = "You do not have the right to use a price other than the catalog's."
AMOUNTS = ("first_payment_amount", "recurring_amount")


def price_override_refused(form: Any, user: Any, *, client: Client) -> bool:
    """Typed amounts that differ from the catalog need ``hosting.override_price``: the rule
    of ``services._apply_prices`` (the amounts typed, or kept, against the catalog's)."""
    data = form.cleaned_data
    typed = [n for n in AMOUNTS if n in form.changed_data and data.get(n) is not None]
    if not typed or data.get("recalculate") or has_right(user, OVERRIDE_PRICE):
        return False
    amounts = tuple(data[n] if n in typed else form.initial.get(n) for n in AMOUNTS)
    catalog = services.catalog_amounts(
        product=data.get("product"),
        currency=client.currency,
        cycle=data.get("billing_cycle"),
        quantity=data.get("quantity") or 1,
    )
    if catalog is not None and amounts == tuple(catalog):
        return False
    return refuse_without(form, typed[-1], user, OVERRIDE_PRICE, OVERRIDE_MESSAGE)


def price_override_needed(form: Any, *, client: Client) -> thresholds.Needed | None:
    """A recurring price typed below ``APPROVAL_THRESHOLDS``' share of the catalog's waits for a
    second person (a first payment alone does not: it carries setup fees and promotions)."""
    data = form.cleaned_data
    typed = data.get("recurring_amount")
    if typed is None or data.get("recalculate") or "recurring_amount" not in form.changed_data:
        return None
    catalog = services.catalog_amounts(
        product=data.get("product"),
        currency=client.currency,
        cycle=data.get("billing_cycle"),
        quantity=data.get("quantity") or 1,
    )
    if catalog is None or not catalog[1]:
        return None
    return thresholds.check(
        OVERRIDE_PRICE,
        label="Prices",
        amount=typed,
        currency=client.currency,
        ratio=typed / catalog[1],
    )


class _PricedRecordMixin(FourEyesMixin):
    """A hosting account's form: a price far below the catalog's waits for approval; the
    password typed with it waits encrypted (``ApprovalAction.secret_kwargs``)."""

    def approval_summary(self, form: Any) -> str:
        data = form.cleaned_data
        return (
            f"{self.summary_verb} {data.get('domain') or data.get('product')} at "
            f"{data['recurring_amount']} {self.client().currency} "
            f"({data.get('billing_cycle')}) for {self.client().full_name}"
        )

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return price_override_needed(form, client=self.client())


class ServiceCreateView(_PricedRecordMixin, _ClientRecordCreate):
    permission_required = "hosting.add_service"
    template_name = "hosting/service_form.html"
    form_class = ServiceForm
    tab = "services"
    success_message = "Hosting account added."
    approval_action = "hosting.create_service"
    summary_verb = "Add hosting account"

    def client(self) -> Client:
        return self.object

    def get_title(self) -> str:
        return f"Add a hosting account for {self.object.full_name}"

    def get_initial(self) -> dict[str, Any]:
        return {"registration_date": timezone.localdate(), "billing_cycle": "monthly"}

    def is_valid(self, form: Any) -> bool:
        return form.is_valid() and not price_override_refused(
            form, self.request.user, client=self.object
        )

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        return {
            "client": self.object,
            "data": form.service_data(),
            "reason": form.cleaned_data["audit_reason"],
            "password": form.cleaned_data["password"],
            "status": form.cleaned_data["initial_status"],
        }


class ServiceUpdateView(_PricedRecordMixin, _RecordEdit):
    permission_required = "hosting.change_service"
    template_name = "hosting/service_form.html"
    form_class = ServiceForm
    model = Service
    success_message = "Hosting account saved."
    approval_action = "hosting.update_service"
    summary_verb = "Change hosting account"

    def client(self) -> Client:
        return self.object.client

    def is_valid(self, form: Any) -> bool:
        return form.is_valid() and not price_override_refused(
            form, self.request.user, client=self.object.client
        )

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        data = form.cleaned_data
        return {
            "service": self.object,
            "data": form.service_data(),
            "reason": data["audit_reason"],
            "recalculate": data.get("recalculate", False),
            "version": data["version"],
            "password": data["password"],
        }


class _RecordStatusView(_RecordWrite):
    """One explicit status action on a hosting record, with a required reason."""

    form_class = ServiceStatusForm

    def get_object(self) -> Any:
        if self.kwargs["status"] not in self.model.Status.values:
            raise Http404("No such status.")
        return super().get_object()

    def label(self) -> str:
        return self.model.Status(self.kwargs["status"]).label

    def get_title(self) -> str:
        return f"{self.label()}: {self.object}"

    def get_success_message(self, result: Any) -> str:
        return f"Status is now {self.model.Status(self.kwargs['status']).label}."

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class ServiceStatusView(_RecordStatusView):
    """Suspend, unsuspend, terminate, cancel, activate, fraud: one explicit action each."""

    permission_required = "hosting.change_service"
    model = Service

    def label(self) -> str:
        status = self.kwargs["status"]
        if self.object.status == Service.Status.SUSPENDED and status == Service.Status.ACTIVE:
            return "Unsuspend"
        return super().label()

    def act(self, form: Any) -> Any:
        return services.change_service_status(
            service=self.object,
            new_status=self.kwargs["status"],
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
        )


class DomainStatusView(_RecordStatusView):
    permission_required = "hosting.change_domain"
    model = Domain

    def act(self, form: Any) -> Any:
        return services.change_domain_status(
            domain=self.object,
            new_status=self.kwargs["status"],
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
        )


class _RevealView(ReasonCodeMixin, _RecordWrite):
    """Show a stored secret after a reason is given; the reveal itself is recorded.

    Its success is the page itself (no redirect: the secret is shown once, never stored in a
    URL or a message), never cached."""

    template_name = "hosting/reveal.html"
    form_class = RevealForm
    what = ""
    reason_codes = "hosting.reveal_secret"
    reason_field = "audit_reason"

    def get_title(self) -> str:
        return f"Reveal the {self.what} of {self.object}"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(what=self.what, **kwargs)

    def reveal(self, reason: str) -> str:
        raise NotImplementedError

    def act(self, form: Any) -> HttpResponse:
        secret = self.reveal(form.cleaned_data["audit_reason"])
        return self.render_form(form, secret=secret)

    def render_form(self, form: Any, status: int = 200, **extra: Any) -> HttpResponse:
        response = super().render_form(form, status, **extra)
        response["Cache-Control"] = "no-store"
        return response


class ServicePasswordView(_RevealView):
    permission_required = ("hosting.view_service", "hosting.reveal_secret")
    model = Service
    what = "account password"

    def reveal(self, reason: str) -> str:
        return services.reveal_service_password(
            service=self.object, actor=self.request.user, reason=reason
        )


class DomainEppView(_RevealView):
    permission_required = ("hosting.view_domain", "hosting.reveal_secret")
    model = Domain
    what = "EPP code"

    def reveal(self, reason: str) -> str:
        return services.reveal_epp_code(domain=self.object, actor=self.request.user, reason=reason)


# Domains ------------------------------------------------------------------------------------


class DomainListView(FilteredListView):
    permission_required = "hosting.view_domain"
    template_name = "hosting/domain_list.html"
    filterset_class = DomainFilter

    def get_base_queryset(self) -> Any:
        return Domain.objects.select_related("client", "tld")


class DomainDetailView(StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView):
    permission_required = "hosting.view_domain"
    template_name = "hosting/domain_detail.html"
    context_object_name = "domain"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _client_crumbs(self.object.client, "domains")

    def get_queryset(self) -> Any:
        return Domain.objects.select_related("client", "tld", "service")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["transitions"] = [
            (s, Domain.Status(s).label)
            for s in sorted(Domain.STATUS_TRANSITIONS[Domain.Status(self.object.status)])
        ]
        return context


class DomainCreateView(_ClientRecordCreate):
    permission_required = "hosting.add_domain"
    template_name = "hosting/domain_form.html"
    form_class = DomainForm
    tab = "domains"

    def get_title(self) -> str:
        return f"Add a domain for {self.object.full_name}"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"client": self.object}

    def get_initial(self) -> dict[str, Any]:
        return {"registration_date": timezone.localdate(), "period_years": 1}

    def act(self, form: Any) -> Domain:
        return services.create_domain(
            client=self.object,
            data=form.domain_data(),
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            epp_code=form.cleaned_data.get("epp_code", ""),
        )

    def get_success_message(self, result: Domain) -> str:
        return f"Domain {result} added."


class DomainUpdateView(_RecordEdit):
    permission_required = "hosting.change_domain"
    template_name = "hosting/domain_form.html"
    form_class = DomainForm
    model = Domain
    success_message = "Domain saved."

    def act(self, form: Any) -> Domain:
        return services.update_domain(
            domain=self.object,
            data=form.domain_data(),
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )


class DomainEppSetView(_RecordWrite):
    permission_required = "hosting.change_domain"
    form_class = SecretForm
    model = Domain
    success_message = "EPP code stored (encrypted)."

    def get_title(self) -> str:
        return f"Set the EPP code of {self.object}"

    def act(self, form: Any) -> Any:
        return services.set_epp_code(
            domain=self.object, epp_code=form.cleaned_data["secret"], actor=self.request.user
        )

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()

    def form_errors(self, form: Any, exc: Any) -> None:
        form.add_error("secret", exc.messages)  # what is refused is the code itself


# Add-ons ------------------------------------------------------------------------------------


class AddonCreateView(WriteView):
    permission_required = "hosting.add_addon"
    form_class = AddonForm
    success_message = "Add-on added."

    def get_object(self) -> Service:
        return get_object_or_404(
            Service.objects.select_related("client"), pk=self.kwargs["service_pk"]
        )

    def get_title(self) -> str:
        return f"Add an add-on to {self.object}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        service = self.object
        return [
            (service.client.full_name, service.client.get_absolute_url()),
            (str(service), service.get_absolute_url()),
        ]

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"service": self.object}

    def get_initial(self) -> dict[str, Any]:
        return {"billing_cycle": "monthly"}

    def act(self, form: Any) -> Any:
        return services.add_addon(
            service=self.object,
            data={k: form.cleaned_data[k] for k in services.ADDON_FIELDS},
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
        )

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class AddonStatusView(PostOnlyWriteView):
    """The status form in each add-on row of the account page: next status and a reason."""

    permission_required = "hosting.change_addon"
    success_message = "Add-on updated."

    def get_object(self) -> Addon:
        return get_object_or_404(Addon, pk=self.kwargs["pk"])

    def get_back_url(self) -> str:
        return reverse("hosting:service-detail", args=[self.object.service_id])

    def act_on(self, request: HttpRequest) -> Any:
        status = request.POST.get("status", "")
        if status not in Addon.Status.values:
            raise ValidationError("Choose the add-on's new status.", code="invalid_status")
        return services.change_addon_status(
            addon=self.object,
            new_status=status,
            actor=request.user,
            reason=request.POST.get("audit_reason", ""),
        )
