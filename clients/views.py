from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView, ListView

from audit.edits import version_of
from audit.feed import Feed, FeedFilters
from audit.tracking import event_model_for
from audit.views import RecordHistoryMixin
from clients import custom_fields, services, timeline
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
from clients.profile import extra_tabs, mark_hidden_subjects
from core import errors, inputs
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin

TABS = ("summary", "timeline", "contacts", "notes", "custom", "emails", "history")
TAB_PAGE_SIZE = 25


def _is_admin(user: Any) -> bool:
    return user.has_perm("clients.manage_admin_only_fields")


class ClientListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "clients.view_client"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator
    template_name = "clients/client_list.html"

    def get_queryset(self) -> Any:
        self.filterset = ClientFilter(
            self.request.GET or None, queryset=Client.objects.select_related("group")
        )
        queryset = self.filterset.qs
        return queryset if queryset.query.order_by else queryset.order_by("-id")

    def get_template_names(self) -> list[str]:
        if self.request.htmx and self.request.htmx.target == "client-table":
            return ["clients/includes/_client_table.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        return context


class ClientDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
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
        extra = {t.key: t for t in extra_tabs() if user.has_perm(t.permission)}
        tab = kwargs.get("tab") or self.request.GET.get("tab", "summary")
        tab = tab if tab in TABS or tab in extra else "summary"
        context["tab"] = tab
        context["extra_tabs"] = list(extra.values())
        if tab in extra:
            context["tab_template"] = extra[tab].template
            context.update(extra[tab].context(self.request, customer))
        context["pinned_notes"] = list(
            customer.notes.filter(pinned=True).select_related("author").order_by("-created_at")[:5]
        )
        if tab == "summary":
            context["contact_count"] = customer.contacts.count()
        elif tab == "contacts":
            context["contacts"] = list(customer.contacts.all()[:200])
        elif tab == "notes":
            notes = list(
                customer.notes.select_related("author", "about_type")
                .prefetch_related("about")
                .pinned_first()[: TAB_PAGE_SIZE * 4]
            )
            mark_hidden_subjects(notes, customer, user)
            context["notes"] = notes
            context.setdefault("note_form", NoteForm(client=customer, user=user))
        elif tab == "custom":
            definitions = custom_field_definitions(admin=_is_admin(self.request.user))
            values = {v.field_id: v.value for v in customer.custom_values.all()}
            context["custom_rows"] = [
                (d, custom_fields.display(d, values.get(d.pk, ""))) for d in definitions
            ]
        elif tab == "timeline":
            sources = timeline.sources_for(user)
            kinds = [k for k in self.request.GET.getlist("kind") if k in {s.kind for s in sources}]
            cursor = self.request.GET.get("after") or None
            context.update(
                timeline=timeline.timeline_page(
                    client=customer, user=user, kinds=kinds, cursor=cursor
                ),
                timeline_sources=sources,
                timeline_kinds=kinds,
                timeline_cursor=cursor,
                timeline_kind_query="".join(f"&kind={k}" for k in kinds),
            )
        elif tab == "emails":
            context["emails"] = list(
                customer.emails.select_related("triggered_by")[: TAB_PAGE_SIZE * 4]
            )
        return context


def _client_form(request: HttpRequest, customer: Client | None = None, **kwargs: Any) -> ClientForm:
    definitions = custom_field_definitions(admin=_is_admin(request.user))
    if customer is not None:
        customer = Client.objects.prefetch_related(
            Prefetch("custom_values", queryset=CustomFieldValue.objects.all())
        ).get(pk=customer.pk)
    return ClientForm(request.POST or None, instance=customer, definitions=definitions, **kwargs)


class ClientCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.add_client"
    template_name = "clients/client_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": _client_form(request)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = _client_form(request)
        if form.is_valid():
            try:
                customer = services.create_client(
                    data=form.service_data(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    custom_values=form.custom_values(),
                    password=form.cleaned_data.get("password", ""),
                    send_set_password_link=form.cleaned_data.get("send_password_link", False)
                    and not form.cleaned_data.get("password"),
                    send_welcome=form.cleaned_data.get("send_welcome", False),
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
        form = _client_form(request, customer, initial={"version": version_of(customer)})
        return render(request, self.template_name, {"form": form, "customer": customer})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Client, pk=pk)
        form = _client_form(request, customer)
        if form.is_valid():
            try:
                customer = services.update_client(
                    client=customer,
                    data=form.service_data(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    custom_values=form.custom_values(),
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Client {customer} saved.")
                return redirect(customer)
        customer.refresh_from_db()
        return render(request, self.template_name, {"form": form, "customer": customer}, status=400)


class _ClientActionView(StaffPermissionRequiredMixin, View):
    """A small form about one client: validate, call one service, redirect."""

    permission_required = "clients.change_client"
    template_name = ""
    form_class: type = StatusForm
    title = ""

    def setup_client(self, pk: int) -> Client:
        return get_object_or_404(Client.objects.select_related("group"), pk=pk)

    def render_form(self, request: HttpRequest, customer: Client, form: Any, status: int = 200):
        return render(
            request,
            self.template_name,
            {"form": form, "customer": customer, "title": self.title.format(customer=customer)},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = self.setup_client(pk)
        return self.render_form(request, customer, self.form_class())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = self.setup_client(pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                response = self.act(request, customer, form)
            except ValidationError as exc:
                self.form_errors(form, exc)
            else:
                return response
        return self.render_form(request, customer, form, status=400)

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        raise NotImplementedError

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        errors_to_form(form, exc)


class ClientCloseView(_ClientActionView):
    template_name = "clients/client_action.html"
    title = "Close {customer.full_name}"

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        services.close_client(
            client=customer, actor=request.user, reason=form.cleaned_data["audit_reason"]
        )
        messages.success(request, f"{customer.full_name} is closed. Everything is kept.")
        return redirect(customer)


class ClientReactivateView(_ClientActionView):
    template_name = "clients/client_action.html"
    title = "Reactivate {customer.full_name}"

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        services.reactivate_client(
            client=customer, actor=request.user, reason=form.cleaned_data["audit_reason"]
        )
        messages.success(request, f"{customer.full_name} is active again.")
        return redirect(customer)


class ClientDeleteView(_ClientActionView):
    permission_required = "clients.delete_client"
    template_name = "clients/client_delete.html"
    form_class = DeleteClientForm
    title = "Delete {customer.full_name}"

    def render_form(self, request: HttpRequest, customer: Client, form: Any, status: int = 200):
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "customer": customer,
                "title": self.title.format(customer=customer),
                "dependents": services.dependent_records(customer),
            },
            status=status,
        )

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        name = customer.full_name
        services.delete_client(
            client=customer, actor=request.user, reason=form.cleaned_data["audit_reason"]
        )
        messages.success(request, f"Client {name} deleted. The audit trail keeps its record.")
        return redirect("clients:client-list")


class ClientPasswordView(_ClientActionView):
    template_name = "clients/client_action.html"
    form_class = PasswordForm
    title = "Set the login password of {customer.full_name}"

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        form.add_error("password", exc)  # the strength checks speak about the password

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        services.set_client_password(
            client=customer, password=form.cleaned_data["password"], actor=request.user
        )
        messages.success(request, "The client's password is set.")
        return redirect(customer)


class ClientPasswordLinkView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.change_client"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Client, pk=pk)
        try:
            services.send_password_link(client=customer, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"A set-password link is on its way to {customer.email}.")
        return redirect(reverse("clients:client-detail", args=[pk]) + "?tab=emails")


class ClientEmailView(_ClientActionView):
    template_name = "clients/client_action.html"
    form_class = EmailForm
    title = "Email {customer.full_name}"

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        services.send_client_email(
            client=customer,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            include_contacts=form.cleaned_data["include_contacts"],
            actor=request.user,
        )
        messages.success(request, "Email queued; it is in the client's email log.")
        return redirect(reverse("clients:client-detail", args=[customer.pk]) + "?tab=emails")


# Contacts -----------------------------------------------------------------------------------


class ContactCreateView(_ClientActionView):
    template_name = "clients/client_action.html"
    form_class = ContactForm
    title = "Add a contact to {customer.full_name}"

    def act(self, request: HttpRequest, customer: Client, form: Any) -> HttpResponse:
        services.add_contact(client=customer, data=form.contact_data(), actor=request.user)
        messages.success(request, "Contact added.")
        return redirect(reverse("clients:client-detail", args=[customer.pk]) + "?tab=contacts")


class ContactUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.change_client"
    template_name = "clients/client_action.html"

    def _render(self, request: HttpRequest, contact: Contact, form: Any, status: int = 200):
        return render(
            request,
            self.template_name,
            {"form": form, "customer": contact.client, "title": f"Edit contact {contact}"},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact.objects.select_related("client"), pk=pk)
        return self._render(
            request,
            contact,
            ContactForm(instance=contact, initial={"version": version_of(contact)}),
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact.objects.select_related("client"), pk=pk)
        form = ContactForm(request.POST, instance=contact)
        if form.is_valid():
            try:
                services.update_contact(
                    contact=contact,
                    data=form.contact_data(),
                    actor=request.user,
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Contact saved.")
                return redirect(contact.get_absolute_url())
        contact.refresh_from_db()
        return self._render(request, contact, form, status=400)


class ContactRemoveView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.change_client"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact, pk=pk)
        url = contact.get_absolute_url()
        try:
            services.remove_contact(
                contact=contact, actor=request.user, reason=request.POST.get("audit_reason", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Contact {contact} removed.")
        return redirect(url)


# Notes --------------------------------------------------------------------------------------


class NoteCreateView(ClientDetailView):
    """The Notes tab's form. Refused, it comes back on the whole profile, Notes tab open."""

    permission_required = "clients.change_client"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = self.object = self.get_object()
        form = NoteForm(request.POST, client=customer, user=request.user)
        if form.is_valid():
            try:
                services.add_note(
                    client=customer,
                    body=form.cleaned_data["body"],
                    pinned=form.cleaned_data["pinned"],
                    about=form.about(),
                    actor=request.user,
                )
            except ValidationError as exc:
                if (
                    getattr(exc, "code", None) == errors.WRONG_CLIENT
                    and "about_record" in form.fields
                ):
                    form.add_error("about_record", exc)
                else:
                    errors_to_form(form, exc)
            else:
                messages.success(request, "Note added.")
                return redirect(reverse("clients:client-detail", args=[pk]) + "?tab=notes")
        context = self.get_context_data(object=customer, tab="notes", note_form=form)
        return self.render_to_response(context, status=400)


class NoteUpdateView(StaffPermissionRequiredMixin, View):
    """Edit a note's text; the page lists its earlier versions from the audit trail."""

    permission_required = "clients.change_client"
    template_name = "clients/note_form.html"

    def _render(self, request: HttpRequest, note: Note, form: Any, status: int = 200):
        event_model = event_model_for(Note)
        versions = Feed(FeedFilters(object_id=note.pk), models=[event_model]).page(per_page=50)
        return render(
            request,
            self.template_name,
            {"form": form, "note": note, "customer": note.client, "versions": versions.rows},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        note = get_object_or_404(Note.objects.select_related("client", "author"), pk=pk)
        return self._render(
            request, note, NoteEditForm(initial={"body": note.body, "version": version_of(note)})
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        note = get_object_or_404(Note.objects.select_related("client", "author"), pk=pk)
        form = NoteEditForm(request.POST)
        if form.is_valid():
            try:
                services.edit_note(
                    note=note,
                    body=form.cleaned_data["body"],
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Note saved; the earlier text stays in its history.")
                return redirect(note.get_absolute_url())
        return self._render(request, note, form, status=400)


class NotePinView(StaffPermissionRequiredMixin, View):
    permission_required = "clients.change_client"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        note = get_object_or_404(Note, pk=pk)
        pinned = request.POST.get("pinned") == "1"
        services.set_note_pinned(note=note, pinned=pinned, actor=request.user)
        messages.success(request, "Note pinned." if pinned else "Note unpinned.")
        return redirect(note.get_absolute_url())


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
