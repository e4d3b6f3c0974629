from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView

from approvals import thresholds
from approvals.views import FourEyesMixin
from audit.edits import version_of
from audit.feed import Feed, FeedFilters
from audit.reasons import ReasonCodeMixin
from audit.tracking import event_model_for
from audit.views import RecordHistoryMixin
from clients import services
from clients.forms import (
    ClientFilter,
    ClientForm,
    ContactForm,
    DeleteClientForm,
    EmailForm,
    NoteEditForm,
    NoteForm,
    PasswordForm,
    StatusForm,
    custom_field_definitions,
)
from clients.models import Client, Contact, CustomFieldValue, Note
from core import errors, inputs
from core.extension_points import ProfileTab, visible
from core.forms import errors_to_form
from core.rights import refuse_without
from core.views import StaffPermissionRequiredMixin
from core.write import FilteredListView, PostOnlyWriteView, WriteView


def _is_admin(user: Any) -> bool:
    return user.has_perm("clients.manage_admin_only_fields")


class ClientListView(FilteredListView):
    permission_required = "clients.view_client"
    template_name = "clients/client_list.html"
    filterset_class = ClientFilter

    def get_base_queryset(self) -> Any:
        return Client.objects.select_related("group")

    def order(self, filterset: Any) -> Any:
        queryset = filterset.qs
        return queryset if queryset.query.order_by else queryset.order_by("-id")

    def get_template_names(self) -> list[str]:
        if self.request.htmx and self.request.htmx.target == "client-table":
            return ["clients/includes/_client_table.html"]
        return [self.template_name]


class ClientDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    history_depth = 3  # the client and everything under it: services, add-ons, invoices, items…
    """The client profile: one tab at a time, each a bounded number of queries.

    A form posted from a tab and refused comes back on this same page (every app's tabs
    included), with ``tab`` and the bound form passed to ``get_context_data``.
    """

    permission_required = "clients.view_client"
    template_name = "clients/client_detail.html"
    context_object_name = "customer"

    def get_queryset(self) -> Any:
        return Client.objects.select_related("group")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        customer = self.object
        user = self.request.user
        # Every tab, the profile's own included, is a ProfileTab (core/extension_points.py).
        tabs = {t.key: t for t in visible(ProfileTab, user)}
        default = next(iter(tabs))
        tab = kwargs.get("tab") or self.request.GET.get("tab", default)
        if tab != "history" and tab not in tabs:  # History: RecordHistoryMixin's, everyone's
            tab = default
        context["tab"] = tab
        context["default_tab"] = default
        context["tabs"] = list(tabs.values())
        context["pinned_notes"] = list(
            customer.notes.filter(pinned=True).select_related("author").order_by("-created_at")[:5]
        )
        if tab in tabs:
            context["tab_template"] = tabs[tab].template
            # A bound form the view holds (a refused post) wins over the tab's blank one.
            tab_context = tabs[tab].context(request=self.request, user=user, client=customer)
            for key, value in tab_context.items():
                context.setdefault(key, value)
        return context


def _client_crumbs(customer: Client | None = None) -> list[tuple[str, str]]:
    crumbs = [("Clients", reverse("clients:client-list"))]
    if customer is not None:
        crumbs.append((customer.full_name, customer.get_absolute_url()))
    return crumbs


class _ClientFormView(WriteView):
    """Add or edit a client: every DOMAIN §1 field and the custom fields the user may see."""

    template_name = "clients/client_form.html"
    form_class = ClientForm

    def get_form_kwargs(self) -> dict[str, Any]:
        customer = self.object
        if customer is not None:
            customer = Client.objects.prefetch_related(
                Prefetch("custom_values", queryset=CustomFieldValue.objects.all())
            ).get(pk=customer.pk)
        definitions = custom_field_definitions(admin=_is_admin(self.request.user))
        return {"instance": customer, "definitions": definitions}

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _client_crumbs(self.object)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(customer=self.object, **kwargs)

    def get_success_message(self, result: Client) -> str:
        return f"Client {result} {self.done}."


class ClientCreateView(_ClientFormView):
    permission_required = "clients.add_client"
    done = "added"

    def act(self, form: Any) -> Client:
        data = form.cleaned_data
        return services.create_client(
            data=form.service_data(),
            actor=self.request.user,
            reason=data["audit_reason"],
            custom_values=form.custom_values(),
            password=data.get("password", ""),
            send_set_password_link=data.get("send_password_link", False)
            and not data.get("password"),
            send_welcome=data.get("send_welcome", False),
        )

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        form.add_error(None, exc)


class ClientUpdateView(_ClientFormView):
    permission_required = "clients.change_client"
    done = "saved"

    def get_object(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["pk"])

    def get_initial(self) -> dict[str, Any]:
        return {"version": version_of(self.object)}

    def is_valid(self, form: Any) -> bool:
        valid = form.is_valid()
        if valid and "currency" in form.changed_data:
            valid = not refuse_without(
                form,
                "currency",
                self.request.user,
                "clients.change_client_currency",
                "You do not have the right to change a client's currency.",
            )
        return valid

    def act(self, form: Any) -> Client:
        return services.update_client(
            client=self.object,
            data=form.service_data(),
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            custom_values=form.custom_values(),
            version=form.cleaned_data["version"],
        )


class _ClientActionView(WriteView):
    """A small form about one client: validate, call one service, redirect."""

    permission_required = "clients.change_client"
    form_class: Any = StatusForm
    tab = ""

    def get_object(self) -> Client:
        return get_object_or_404(Client.objects.select_related("group"), pk=self.kwargs["pk"])

    def get_title(self) -> str:
        return self.title.format(customer=self.object)

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _client_crumbs(self.object)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(customer=self.object, **kwargs)

    def get_success_url(self, result: Any) -> str:
        url = reverse("clients:client-detail", args=[self.object.pk])
        return f"{url}?tab={self.tab}" if self.tab else url


class ClientCloseView(_ClientActionView):
    title = "Close {customer.full_name}"

    def act(self, form: Any) -> Any:
        return services.close_client(
            client=self.object, actor=self.request.user, reason=form.cleaned_data["audit_reason"]
        )

    def get_success_message(self, result: Any) -> str:
        return f"{self.object.full_name} is closed. Everything is kept."


class ClientReactivateView(_ClientActionView):
    title = "Reactivate {customer.full_name}"

    def act(self, form: Any) -> Any:
        return services.reactivate_client(
            client=self.object, actor=self.request.user, reason=form.cleaned_data["audit_reason"]
        )

    def get_success_message(self, result: Any) -> str:
        return f"{self.object.full_name} is active again."


class ClientDeleteView(ReasonCodeMixin, FourEyesMixin, _ClientActionView):
    permission_required = "clients.delete_client"
    approval_action = "clients.delete_client"
    reason_codes = "clients.delete_client"
    reason_field = "audit_reason"
    template_name = "clients/client_delete.html"
    form_class = DeleteClientForm
    title = "Delete {customer.full_name}"
    submit = "Delete client"
    danger = True
    intro = "Deleting is for a client entered by mistake. The audit trail keeps every value it had."

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            dependents=services.dependent_records(self.object), **kwargs
        )

    def service_kwargs(self, form: Any) -> dict[str, Any]:
        self.name = self.object.full_name
        return {"client": self.object, "reason": form.cleaned_data["audit_reason"]}

    def approval_needed(self, form: Any) -> thresholds.Needed | None:
        return thresholds.check("clients.delete_client", label="Client deletes")

    def approval_summary(self, form: Any) -> str:
        return f"Delete client {self.object.full_name} (#{self.object.pk})"

    def get_success_message(self, result: Any) -> str:
        return f"Client {self.name} deleted. The audit trail keeps its record."

    def get_success_url(self, result: Any) -> str:
        return reverse("clients:client-list")


class ClientPasswordView(_ClientActionView):
    form_class = PasswordForm
    title = "Set the login password of {customer.full_name}"
    success_message = "The client's password is set."

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        form.add_error("password", exc)  # the strength checks speak about the password

    def act(self, form: Any) -> Any:
        return services.set_client_password(
            client=self.object, password=form.cleaned_data["password"], actor=self.request.user
        )


class ClientPasswordLinkView(PostOnlyWriteView):
    permission_required = "clients.change_client"

    def get_object(self) -> Client:
        return get_object_or_404(Client, pk=self.kwargs["pk"])

    def get_back_url(self) -> str:
        return reverse("clients:client-detail", args=[self.object.pk]) + "?tab=emails"

    def act_on(self, request: HttpRequest) -> Any:
        return services.send_password_link(client=self.object, actor=request.user)

    def get_success_message(self, result: Any) -> str:
        return f"A set-password link is on its way to {self.object.email}."


class ClientEmailView(_ClientActionView):
    form_class = EmailForm
    title = "Email {customer.full_name}"
    success_message = "Email queued; it is in the client's email log."
    tab = "emails"

    def act(self, form: Any) -> Any:
        data = form.cleaned_data
        return services.send_client_email(
            client=self.object,
            subject=data["subject"],
            body=data["body"],
            include_contacts=data["include_contacts"],
            actor=self.request.user,
        )


# Contacts -----------------------------------------------------------------------------------


class ContactCreateView(_ClientActionView):
    form_class = ContactForm
    title = "Add a contact to {customer.full_name}"
    success_message = "Contact added."
    tab = "contacts"

    def act(self, form: Any) -> Any:
        return services.add_contact(
            client=self.object, data=form.contact_data(), actor=self.request.user
        )


class ContactUpdateView(WriteView):
    permission_required = "clients.change_client"
    form_class = ContactForm
    success_message = "Contact saved."

    def get_object(self) -> Contact:
        return get_object_or_404(Contact.objects.select_related("client"), pk=self.kwargs["pk"])

    def get_title(self) -> str:
        return f"Edit contact {self.object}"

    def get_crumbs(self) -> list[tuple[str, str]]:
        return _client_crumbs(self.object.client)

    def get_back_url(self) -> str:
        return self.object.client.get_absolute_url()

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"instance": self.object}

    def get_initial(self) -> dict[str, Any]:
        return {"version": version_of(self.object)}

    def act(self, form: Any) -> Any:
        return services.update_contact(
            contact=self.object,
            data=form.contact_data(),
            actor=self.request.user,
            version=form.cleaned_data["version"],
        )


class ContactRemoveView(PostOnlyWriteView):
    permission_required = "clients.change_client"

    def get_object(self) -> Contact:
        return get_object_or_404(Contact, pk=self.kwargs["pk"])

    def act_on(self, request: HttpRequest) -> Any:
        return services.remove_contact(
            contact=self.object, actor=request.user, reason=request.POST.get("audit_reason", "")
        )

    def get_success_message(self, result: Any) -> str:
        return f"Contact {self.object} removed."


# Notes --------------------------------------------------------------------------------------


class NoteCreateView(WriteView):
    """The Notes tab's form. Refused, it comes back on the whole profile, Notes tab open."""

    permission_required = "clients.change_client"
    http_method_names = ["post"]
    form_class = NoteForm
    success_message = "Note added."

    def get_object(self) -> Client:
        return get_object_or_404(Client.objects.select_related("group"), pk=self.kwargs["pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"client": self.object, "user": self.request.user}

    def act(self, form: Any) -> Any:
        return services.add_note(
            client=self.object,
            body=form.cleaned_data["body"],
            pinned=form.cleaned_data["pinned"],
            about=form.about(),
            actor=self.request.user,
        )

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        if getattr(exc, "code", None) == errors.WRONG_CLIENT and "about_record" in form.fields:
            form.add_error("about_record", exc)
        else:
            errors_to_form(form, exc)

    def get_success_url(self, result: Any) -> str:
        return reverse("clients:client-detail", args=[self.object.pk]) + "?tab=notes"

    def render_form(self, form: Any, status: int = 200, **extra: Any) -> HttpResponse:
        profile = ClientDetailView()
        profile.setup(self.request, **self.kwargs)
        profile.object = self.object
        context = profile.get_context_data(object=self.object, tab="notes", note_form=form)
        return profile.render_to_response(context, status=status)


class NoteUpdateView(WriteView):
    """Edit a note's text; the page lists its earlier versions from the audit trail."""

    permission_required = "clients.change_client"
    template_name = "clients/note_form.html"
    form_class = NoteEditForm
    success_message = "Note saved; the earlier text stays in its history."

    def get_object(self) -> Note:
        return get_object_or_404(
            Note.objects.select_related("client", "author"), pk=self.kwargs["pk"]
        )

    def get_title(self) -> str:
        return "Edit note"

    def get_crumbs(self) -> list[tuple[str, str]]:
        client = self.object.client
        return [
            ("Clients", reverse("clients:client-list")),
            (client.full_name, client.get_absolute_url() + "?tab=notes"),
        ]

    def get_initial(self) -> dict[str, Any]:
        return {"body": self.object.body, "version": version_of(self.object)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        event_model = event_model_for(Note)
        filters = FeedFilters(object_id=self.object.pk)
        versions = Feed(filters, models=[event_model]).page(per_page=50)
        return super().get_context_data(
            note=self.object, customer=self.object.client, versions=versions.rows, **kwargs
        )

    def act(self, form: Any) -> Any:
        return services.edit_note(
            note=self.object,
            body=form.cleaned_data["body"],
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


class NotePinView(PostOnlyWriteView):
    permission_required = "clients.change_client"

    def get_object(self) -> Note:
        return get_object_or_404(Note, pk=self.kwargs["pk"])

    def act_on(self, request: HttpRequest) -> Any:
        self.pinned = request.POST.get("pinned") == "1"
        return services.set_note_pinned(note=self.object, pinned=self.pinned, actor=request.user)

    def get_success_message(self, result: Any) -> str:
        return "Note pinned." if self.pinned else "Note unpinned."


# Helpers for other screens --------------------------------------------------------------------


class DuplicateCheckView(StaffPermissionRequiredMixin, View):
    """htmx: clients that share what is being typed on the add form."""

    permission_required = "clients.view_client"

    def get(self, request: HttpRequest) -> HttpResponse:
        typed = {
            name: inputs.text(request.GET.get(name))
            for name in ("email", "phone", "company_name", "tax_id")
        }
        matches = list(
            Client.objects.possible_duplicates(
                email=typed["email"],
                phone=_normalise_phone(typed["phone"]),
                company_name=typed["company_name"],
                tax_id=typed["tax_id"],
                exclude_pk=inputs.record_id(request.GET.get("exclude")),
            ).order_by("-id")[:10]
        )
        for match in matches:
            match.matched_on = _matched_on(match, typed)
        return render(request, "clients/includes/_duplicates.html", {"matches": matches})


def _normalise_phone(text: str) -> str:
    from phonenumber_field.phonenumber import to_python

    number = to_python(text.strip()) if text.strip() else None
    return number.as_e164 if number is not None and number.is_valid() else ""


def _matched_on(client: Client, typed: dict[str, str]) -> list[str]:
    found = []
    if typed["email"].lower() == client.email.lower():
        found.append("email")
    if client.phone and _normalise_phone(typed["phone"]) == str(client.phone):
        found.append("phone")
    if typed["company_name"].lower() == client.company_name.lower() and client.company_name:
        found.append("company")
    if typed["tax_id"].lower() == client.tax_id.lower() and client.tax_id:
        found.append("VAT number")
    return found


class ClientAutocompleteView(StaffPermissionRequiredMixin, View):
    """The client picker's suggestions: at most ten matches, never the whole table."""

    permission_required = "clients.view_client"
    limit = 10

    def get(self, request: HttpRequest) -> HttpResponse:
        query = inputs.text(request.GET.get("q"))
        matches = []
        if query:
            matches = list(Client.objects.search(query).order_by("-id")[: self.limit])
        return render(
            request,
            "clients/includes/_picker_results.html",
            {"matches": matches, "query": query, "target": inputs.text(request.GET.get("target"))},
        )


# The client's own page (outside staff login) ------------------------------------------------


@method_decorator(login_not_required, name="dispatch")
class SetPasswordView(View):
    """Where a client lands from the emailed link to choose a password."""

    template_name = "clients/set_password.html"

    def _client(self, token: str) -> tuple[Client | None, str]:
        try:
            return services.client_for_set_password_token(token), ""
        except ValidationError as exc:
            return None, " ".join(exc.messages)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        customer, error = self._client(token)
        return render(
            request,
            self.template_name,
            {"form": PasswordForm(), "customer": customer, "error": error},
            status=200 if customer else 400,
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        customer, error = self._client(token)
        form = PasswordForm(request.POST)
        if customer is not None and form.is_valid():
            try:
                services.set_password_from_link(token=token, password=form.cleaned_data["password"])
            except ValidationError as exc:
                form.add_error("password", exc)
            else:
                return render(request, self.template_name, {"done": True, "customer": customer})
        return render(
            request,
            self.template_name,
            {"form": form, "customer": customer, "error": error},
            status=400,
        )
