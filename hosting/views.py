from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from audit.edits import version_of
from audit.views import RecordHistoryMixin
from clients.models import Client
from core.extension_points import ServiceNotice, ServiceTab, registered, visible
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
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


def form_page(
    request: HttpRequest,
    form: Any,
    *,
    title: str,
    back: str,
    crumbs: list,
    status: int = 200,
    template: str = "hosting/form_page.html",
    **extra: Any,
):
    return render(
        request,
        template,
        {"form": form, "title": title, "back": back, "crumbs": crumbs, **extra},
        status=status,
    )


# Services -----------------------------------------------------------------------------------


class ServiceListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "hosting.view_service"
    template_name = "hosting/service_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = ServiceFilter(
            self.request.GET or None,
            queryset=Service.objects.select_related("client", "product", "server"),
        )
        return self.filterset.qs.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, **kwargs)


class ServiceDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "hosting.view_service"
    template_name = "hosting/service_detail.html"
    context_object_name = "service"

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


class ServiceCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.add_service"

    def _page(self, request: HttpRequest, client: Client, form: Any, status: int = 200):
        return form_page(
            request,
            form,
            title=f"Add a hosting account for {client.full_name}",
            back=client.get_absolute_url() + "?tab=services",
            crumbs=[(client.full_name, client.get_absolute_url())],
            status=status,
            template="hosting/service_form.html",
        )

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        form = ServiceForm(initial={"registration_date": _today(), "billing_cycle": "monthly"})
        return self._page(request, client, form)

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        form = ServiceForm(request.POST)
        if form.is_valid():
            try:
                service = services.create_service(
                    client=client,
                    data=form.service_data(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    password=form.cleaned_data["password"],
                    status=form.cleaned_data["initial_status"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Hosting account added.")
                return redirect(service)
        return self._page(request, client, form, status=400)


class ServiceUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.change_service"

    def _page(self, request: HttpRequest, service: Service, form: Any, status: int = 200):
        return form_page(
            request,
            form,
            title=f"Edit {service}",
            back=service.get_absolute_url(),
            crumbs=[
                (service.client.full_name, service.client.get_absolute_url()),
                (str(service), service.get_absolute_url()),
            ],
            status=status,
            template="hosting/service_form.html",
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.select_related("client"), pk=pk)
        return self._page(
            request,
            service,
            ServiceForm(instance=service, initial={"version": version_of(service)}),
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.select_related("client"), pk=pk)
        form = ServiceForm(request.POST, instance=service)
        if form.is_valid():
            reason = form.cleaned_data["audit_reason"]
            try:
                with transaction.atomic():
                    service = services.update_service(
                        service=service,
                        data=form.service_data(),
                        actor=request.user,
                        reason=reason,
                        recalculate=form.cleaned_data.get("recalculate", False),
                        version=form.cleaned_data["version"],
                    )
                    if form.cleaned_data["password"]:
                        services.set_service_password(
                            service=service,
                            password=form.cleaned_data["password"],
                            actor=request.user,
                            reason=reason,
                        )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Hosting account saved.")
                return redirect(service)
        service.refresh_from_db()
        return self._page(request, service, form, status=400)


def _reveal_page(request, record, form, what, secret=None, status=200):
    response = form_page(
        request,
        form,
        title=f"Reveal the {what} of {record}",
        back=record.get_absolute_url(),
        crumbs=[
            (record.client.full_name, record.client.get_absolute_url()),
            (str(record), record.get_absolute_url()),
        ],
        status=status,
        template="hosting/reveal.html",
        secret=secret,
        what=what,
    )
    response["Cache-Control"] = "no-store"
    return response


class _RecordStatusView(StaffPermissionRequiredMixin, View):
    """One explicit status action on a hosting record, with a required reason."""

    model: Any = None

    def change(self, record: Any, status: str, request: HttpRequest, reason: str) -> None:
        raise NotImplementedError

    def label(self, record: Any, status: str) -> str:
        return self.model.Status(status).label

    def _record(self, pk: int, status: str) -> Any:
        if status not in self.model.Status.values:
            raise Http404("No such status.")
        return get_object_or_404(self.model.objects.select_related("client"), pk=pk)

    def _page(self, request: HttpRequest, record: Any, status: str, form: Any, code: int = 200):
        return form_page(
            request,
            form,
            title=f"{self.label(record, status)}: {record}",
            back=record.get_absolute_url(),
            crumbs=[
                (record.client.full_name, record.client.get_absolute_url()),
                (str(record), record.get_absolute_url()),
            ],
            status=code,
        )

    def get(self, request: HttpRequest, pk: int, status: str) -> HttpResponse:
        record = self._record(pk, status)
        return self._page(request, record, status, ServiceStatusForm())

    def post(self, request: HttpRequest, pk: int, status: str) -> HttpResponse:
        record = self._record(pk, status)
        form = ServiceStatusForm(request.POST)
        if form.is_valid():
            try:
                self.change(record, status, request, form.cleaned_data["audit_reason"])
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Status is now {self.model.Status(status).label}.")
                return redirect(record)
        return self._page(request, record, status, form, code=400)


class ServiceStatusView(_RecordStatusView):
    """Suspend, unsuspend, terminate, cancel, activate, fraud: one explicit action each."""

    permission_required = "hosting.change_service"
    model = Service

    def label(self, record: Any, status: str) -> str:
        if record.status == Service.Status.SUSPENDED and status == Service.Status.ACTIVE:
            return "Unsuspend"
        return super().label(record, status)

    def change(self, record: Any, status: str, request: HttpRequest, reason: str) -> None:
        services.change_service_status(
            service=record, new_status=status, actor=request.user, reason=reason
        )


class DomainStatusView(_RecordStatusView):
    permission_required = "hosting.change_domain"
    model = Domain

    def change(self, record: Any, status: str, request: HttpRequest, reason: str) -> None:
        services.change_domain_status(
            domain=record, new_status=status, actor=request.user, reason=reason
        )


class _RevealView(StaffPermissionRequiredMixin, View):
    """Show a stored secret after a reason is given; the reveal itself is recorded."""

    model: Any = None
    what = ""

    def reveal(self, record: Any, request: HttpRequest, reason: str) -> str:
        raise NotImplementedError

    def _record(self, pk: int) -> Any:
        return get_object_or_404(self.model.objects.select_related("client"), pk=pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _reveal_page(request, self._record(pk), RevealForm(), self.what)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        record = self._record(pk)
        form = RevealForm(request.POST)
        secret = None
        if form.is_valid():
            secret = self.reveal(record, request, form.cleaned_data["audit_reason"])
        return _reveal_page(
            request,
            record,
            form,
            self.what,
            secret=secret,
            status=200 if secret is not None else 400,
        )


class ServicePasswordView(_RevealView):
    permission_required = "hosting.change_service"
    model = Service
    what = "account password"

    def reveal(self, record: Any, request: HttpRequest, reason: str) -> str:
        return services.reveal_service_password(service=record, actor=request.user, reason=reason)


class DomainEppView(_RevealView):
    permission_required = "hosting.change_domain"
    model = Domain
    what = "EPP code"

    def reveal(self, record: Any, request: HttpRequest, reason: str) -> str:
        return services.reveal_epp_code(domain=record, actor=request.user, reason=reason)


# Domains ------------------------------------------------------------------------------------


class DomainListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "hosting.view_domain"
    template_name = "hosting/domain_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = DomainFilter(
            self.request.GET or None, queryset=Domain.objects.select_related("client", "tld")
        )
        return self.filterset.qs.order_by("-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, **kwargs)


class DomainDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "hosting.view_domain"
    template_name = "hosting/domain_detail.html"
    context_object_name = "domain"

    def get_queryset(self) -> Any:
        return Domain.objects.select_related("client", "tld", "service")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["transitions"] = [
            (s, Domain.Status(s).label)
            for s in sorted(Domain.STATUS_TRANSITIONS[Domain.Status(self.object.status)])
        ]
        return context


class DomainCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.add_domain"

    def _page(self, request, client, form, status=200):
        return form_page(
            request,
            form,
            title=f"Add a domain for {client.full_name}",
            back=client.get_absolute_url() + "?tab=domains",
            crumbs=[(client.full_name, client.get_absolute_url())],
            status=status,
            template="hosting/domain_form.html",
        )

    def get(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        form = DomainForm(client=client, initial={"registration_date": _today(), "period_years": 1})
        return self._page(request, client, form)

    def post(self, request: HttpRequest, client_pk: int) -> HttpResponse:
        client = get_object_or_404(Client, pk=client_pk)
        form = DomainForm(request.POST, client=client)
        if form.is_valid():
            try:
                domain = services.create_domain(
                    client=client,
                    data=form.domain_data(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    epp_code=form.cleaned_data.get("epp_code", ""),
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Domain {domain} added.")
                return redirect(domain)
        return self._page(request, client, form, status=400)


class DomainUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.change_domain"

    def _page(self, request, domain, form, status=200):
        return form_page(
            request,
            form,
            title=f"Edit {domain}",
            back=domain.get_absolute_url(),
            crumbs=[
                (domain.client.full_name, domain.client.get_absolute_url()),
                (str(domain), domain.get_absolute_url()),
            ],
            status=status,
            template="hosting/domain_form.html",
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = get_object_or_404(Domain.objects.select_related("client"), pk=pk)
        return self._page(
            request, domain, DomainForm(instance=domain, initial={"version": version_of(domain)})
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = get_object_or_404(Domain.objects.select_related("client"), pk=pk)
        form = DomainForm(request.POST, instance=domain)
        if form.is_valid():
            try:
                domain = services.update_domain(
                    domain=domain,
                    data=form.domain_data(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Domain saved.")
                return redirect(domain)
        domain.refresh_from_db()
        return self._page(request, domain, form, status=400)


class DomainEppSetView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.change_domain"

    def _page(self, request, domain, form, status=200):
        return form_page(
            request,
            form,
            title=f"Set the EPP code of {domain}",
            back=domain.get_absolute_url(),
            crumbs=[
                (domain.client.full_name, domain.client.get_absolute_url()),
                (str(domain), domain.get_absolute_url()),
            ],
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = get_object_or_404(Domain.objects.select_related("client"), pk=pk)
        return self._page(request, domain, SecretForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        domain = get_object_or_404(Domain.objects.select_related("client"), pk=pk)
        form = SecretForm(request.POST)
        if form.is_valid():
            try:
                services.set_epp_code(
                    domain=domain, epp_code=form.cleaned_data["secret"], actor=request.user
                )
            except ValidationError as exc:
                form.add_error("secret", exc.messages)
            else:
                messages.success(request, "EPP code stored (encrypted).")
                return redirect(domain)
        return self._page(request, domain, form, status=400)


# Add-ons ------------------------------------------------------------------------------------


class AddonCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "hosting.add_addon"

    def _page(self, request, service, form, status=200):
        return form_page(
            request,
            form,
            title=f"Add an add-on to {service}",
            back=service.get_absolute_url(),
            crumbs=[
                (service.client.full_name, service.client.get_absolute_url()),
                (str(service), service.get_absolute_url()),
            ],
            status=status,
        )

    def get(self, request: HttpRequest, service_pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.select_related("client"), pk=service_pk)
        return self._page(
            request, service, AddonForm(service=service, initial={"billing_cycle": "monthly"})
        )

    def post(self, request: HttpRequest, service_pk: int) -> HttpResponse:
        service = get_object_or_404(Service.objects.select_related("client"), pk=service_pk)
        form = AddonForm(request.POST, service=service)
        if form.is_valid():
            data = {k: form.cleaned_data[k] for k in services.ADDON_FIELDS}
            try:
                services.add_addon(
                    service=service,
                    data=data,
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Add-on added.")
                return redirect(service)
        return self._page(request, service, form, status=400)


class AddonStatusView(StaffPermissionRequiredMixin, View):
    """The status form in each add-on row of the account page: next status and a reason."""

    permission_required = "hosting.change_addon"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        addon = get_object_or_404(Addon, pk=pk)
        status = request.POST.get("status", "")
        if status not in Addon.Status.values:
            messages.error(request, "Choose the add-on's new status.")
            return redirect("hosting:service-detail", addon.service_id)
        try:
            services.change_addon_status(
                addon=addon,
                new_status=status,
                actor=request.user,
                reason=request.POST.get("audit_reason", ""),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Add-on updated.")
        return redirect("hosting:service-detail", addon.service_id)


def _today():
    from django.utils import timezone

    return timezone.localdate()
