from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from audit.views import RecordHistoryMixin
from clients.forms import ClientFilter, ClientForm
from clients.models import Client
from clients.services import create_client, update_client
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin


class ClientListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "clients.view_client"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator
    template_name = "clients/client_list.html"

    def get_queryset(self) -> Any:
        self.filterset = ClientFilter(self.request.GET or None, queryset=Client.objects.all())
        queryset = self.filterset.qs
        return queryset if queryset.query.order_by else queryset.order_by("-id")

    def get_template_names(self) -> list[str]:
        if self.request.htmx:
            return ["clients/includes/_client_table.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        return context


class ClientDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "clients.view_client"
    model = Client
    template_name = "clients/client_detail.html"
    context_object_name = "customer"


def _service_data(form: ClientForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.Meta.fields if name in form.cleaned_data}


class ClientCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.add_client"
    template_name = "clients/client_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": ClientForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ClientForm(request.POST)
        if form.is_valid():
            try:
                customer = create_client(
                    data=_service_data(form),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Client {customer} added.")
                return redirect(customer)
        return render(request, self.template_name, {"form": form}, status=400)


class ClientUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.change_client"
    template_name = "clients/client_form.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Client, pk=pk)
        form = ClientForm(instance=customer)
        return render(request, self.template_name, {"form": form, "customer": customer})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Client, pk=pk)
        form = ClientForm(request.POST, instance=customer)
        if form.is_valid():
            try:
                customer = update_client(
                    client=customer,
                    data=_service_data(form),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Client {customer} saved.")
                return redirect(customer)
        customer.refresh_from_db()
        return render(request, self.template_name, {"form": form, "customer": customer}, status=400)
