from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView

from audit.edits import version_of
from audit.views import RecordHistoryMixin
from billing.views import action_page
from clients.models import Client, Note
from core import inputs
from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from support import services
from support.forms import (
    ChooseRequesterForm,
    CommunicationFilter,
    CommunicationForm,
    FollowUpDoneForm,
    FollowUpFilter,
    ReplyForm,
    TicketFilter,
    TicketForm,
    TicketStatusForm,
    TicketUpdateForm,
)
from support.models import Communication, Ticket, TicketAttachment, TicketReply

REPLIES_SHOWN = 200  # the newest replies of a very long ticket; older ones in the admin


def visible_ticket(request: HttpRequest, number: str) -> Ticket:
    """The ticket by its public number, if this user may see its department (else 404)."""
    queryset = Ticket.objects.visible_to(request.user).select_related(
        "department", "client", "contact", "service__product", "domain", "assignee", "opened_by"
    )
    return get_object_or_404(queryset, number=number.upper())


# Queue -----------------------------------------------------------------------------------------


class TicketListView(StaffPermissionRequiredMixin, ListView):
    """The ticket queue: newest activity first, filters, counts per status, "my tickets"."""

    permission_required = "support.view_ticket"
    template_name = "support/ticket_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        data = self.request.GET.copy()
        data.setdefault("view", "awaiting")
        visible = Ticket.objects.visible_to(self.request.user)
        self.visible = visible
        self.filterset = TicketFilter(
            data,
            queryset=visible.select_related("department", "client", "assignee"),
            user=self.request.user,
        )
        return self.filterset.qs.order_by("-last_activity_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(filter=self.filterset, **kwargs)
        # Closed tickets (most of them) are not counted; a partial index covers the others.
        counts = dict(
            self.visible.awaiting()
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        context["status_counts"] = [
            (value, label, None if value == Ticket.Status.CLOSED else counts.get(value, 0))
            for value, label in Ticket.Status.choices
        ]
        context["awaiting_count"] = sum(counts.values())
        context["mine_count"] = self.visible.awaiting().filter(assignee=self.request.user).count()
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query"] = query.urlencode()
        return context


# Opening a ticket --------------------------------------------------------------------------------


class TicketCreateView(StaffPermissionRequiredMixin, View):
    """Open a ticket: choose the client (or "not a client"), then the ticket itself."""

    permission_required = "support.add_ticket"
    template_name = "support/ticket_form.html"

    def _client(self, request: HttpRequest) -> Client | bool | None:
        pk = inputs.record_id(request.GET.get("client"))
        if pk is not None:
            return get_object_or_404(Client, pk=pk)
        return None if request.GET.get("guest") else False

    def get(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        if client is False:
            form = ChooseRequesterForm(request.GET or None)
            return render(request, "support/choose_requester.html", {"form": form})
        form = TicketForm(client=client, user=request.user)
        return self._render(request, form, client)

    def post(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        if client is False:
            return redirect("support:ticket-create")
        form = TicketForm(request.POST, request.FILES, client=client, user=request.user)
        if form.is_valid():
            try:
                ticket = services.open_ticket(actor=request.user, **form.service_kwargs())
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Ticket #{ticket.number} opened.")
                return redirect(ticket)
        return self._render(request, form, client, status=400)

    def _render(self, request: HttpRequest, form: Any, client: Any, status: int = 200):
        pinned = []
        if client is not None:
            pinned = list(
                Note.objects.filter(client=client, pinned=True)
                .select_related("author")
                .order_by("-created_at")[:5]
            )
        return render(
            request,
            self.template_name,
            {"form": form, "customer": client, "pinned_notes": pinned},
            status=status,
        )


# One ticket ------------------------------------------------------------------------------------


class TicketDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "support.view_ticket"
    template_name = "support/ticket_detail.html"
    context_object_name = "ticket"

    def get_object(self, queryset: Any = None) -> Ticket:
        return visible_ticket(self.request, self.kwargs["number"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ticket = self.object
        context.update(ticket_page_context(self.request, ticket))
        context.setdefault("reply_form", ReplyForm())
        return context


def ticket_page_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    replies = list(
        TicketReply.objects.filter(ticket=ticket)
        .select_related("author")
        .order_by("-created_at", "-id")[:REPLIES_SHOWN]
    )
    replies.reverse()
    attachments = list(TicketAttachment.objects.filter(ticket=ticket).order_by("id"))
    by_reply: dict[int | None, list[TicketAttachment]] = {}
    for attachment in attachments:
        by_reply.setdefault(attachment.reply_id, []).append(attachment)
    for reply in replies:
        reply.files = by_reply.get(reply.pk, [])
    pinned = []
    if ticket.client_id:
        pinned = list(
            Note.objects.filter(client_id=ticket.client_id, pinned=True)
            .select_related("author")
            .order_by("-created_at")[:5]
        )
    return {
        "replies": replies,
        "opening_files": by_reply.get(None, []),
        "pinned_notes": pinned,
        "communications": list(
            Communication.objects.filter(ticket=ticket).select_related("logged_by")[:20]
        ),
        "can_reply": request.user.has_perm("support.add_ticketreply"),
        "can_change": request.user.has_perm("support.change_ticket"),
        "can_download": request.user.has_perm("support.view_ticketattachment"),
        "can_log": request.user.has_perm("support.add_communication"),
    }


class TicketByIdView(StaffPermissionRequiredMixin, View):
    """Links from the audit trail and the timeline know a ticket's id, not its number."""

    permission_required = "support.view_ticket"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=pk)
        return redirect(ticket)


class TicketReplyView(StaffPermissionRequiredMixin, View):
    permission_required = "support.add_ticketreply"

    def post(self, request: HttpRequest, number: str) -> HttpResponse:
        ticket = visible_ticket(request, number)
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                reply = services.add_reply(
                    ticket=ticket,
                    kind=form.cleaned_data["kind"],
                    message=form.cleaned_data["message"],
                    attachments=form.cleaned_data["attachments"],
                    new_status=form.cleaned_data["new_status"],
                    send_email=form.cleaned_data["send_email"],
                    actor=request.user,
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                if reply.emailed_to:
                    messages.success(request, f"Reply added and emailed to {reply.emailed_to}.")
                else:
                    messages.success(request, f"{reply.get_kind_display()} added (not emailed).")
                return redirect(
                    reverse("support:ticket-detail", args=[ticket.number]) + f"#reply-{reply.pk}"
                )
        context = {
            "ticket": ticket,
            "object": ticket,
            "reply_form": form,
            "tab": "overview",
            "can_review_audit": request.user.has_perm("audit.review_audit"),
        }
        context.update(ticket_page_context(request, ticket))
        return render(request, "support/ticket_detail.html", context, status=400)


class TicketStatusView(StaffPermissionRequiredMixin, View):
    permission_required = "support.change_ticket"

    def _page(self, request: HttpRequest, ticket: Ticket, form: Any, status: int = 200):
        return action_page(
            request,
            form,
            title=f"Change the status of ticket #{ticket.number}",
            back=ticket.get_absolute_url(),
            crumbs=[
                ("Tickets", reverse("support:ticket-list")),
                (f"#{ticket.number}", ticket.get_absolute_url()),
            ],
            submit="Change status",
            status=status,
            intro=f"Now: {ticket.get_status_display()}.",
        )

    def get(self, request: HttpRequest, number: str) -> HttpResponse:
        ticket = visible_ticket(request, number)
        initial = {"status": request.GET.get("status", "")}
        return self._page(request, ticket, TicketStatusForm(initial=initial, ticket=ticket))

    def post(self, request: HttpRequest, number: str) -> HttpResponse:
        ticket = visible_ticket(request, number)
        form = TicketStatusForm(request.POST, ticket=ticket)
        if form.is_valid():
            try:
                ticket = services.change_ticket_status(
                    ticket=ticket,
                    status=form.cleaned_data["status"],
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(
                    request, f"Ticket #{ticket.number} is {ticket.get_status_display()}."
                )
                return redirect(ticket)
        return self._page(request, ticket, form, status=400)


class TicketUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "support.change_ticket"

    def _page(self, request: HttpRequest, ticket: Ticket, form: Any, status: int = 200):
        return action_page(
            request,
            form,
            title=f"Edit ticket #{ticket.number}",
            back=ticket.get_absolute_url(),
            crumbs=[
                ("Tickets", reverse("support:ticket-list")),
                (f"#{ticket.number}", ticket.get_absolute_url()),
            ],
            status=status,
        )

    def get(self, request: HttpRequest, number: str) -> HttpResponse:
        ticket = visible_ticket(request, number)
        initial = {name: getattr(ticket, name) for name in services.EDITABLE_FIELDS}
        initial["version"] = version_of(ticket)
        form = TicketUpdateForm(initial=initial, ticket=ticket, user=request.user)
        return self._page(request, ticket, form)

    def post(self, request: HttpRequest, number: str) -> HttpResponse:
        ticket = visible_ticket(request, number)
        form = TicketUpdateForm(request.POST, ticket=ticket, user=request.user)
        if form.is_valid():
            try:
                services.update_ticket(
                    ticket=ticket,
                    data=form.changes(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"Ticket #{ticket.number} saved.")
                return redirect(ticket)
        return self._page(request, ticket, form, status=400)


class AttachmentDownloadView(StaffPermissionRequiredMixin, View):
    """Streams an attachment to staff allowed to see its ticket; always as a download, so a
    file never renders in the app's origin."""

    permission_required = "support.view_ticketattachment"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        attachment = get_object_or_404(TicketAttachment.objects.select_related("ticket"), pk=pk)
        if not Ticket.objects.visible_to(request.user).filter(pk=attachment.ticket_id).exists():
            raise Http404("No such attachment.")
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404("The file is missing from storage.") from exc
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.content_type,
        )
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


# Communication log ---------------------------------------------------------------------------


class CommunicationListView(StaffPermissionRequiredMixin, ListView):
    permission_required = "support.view_communication"
    template_name = "support/communication_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.filterset = CommunicationFilter(
            self.request.GET or None,
            queryset=Communication.objects.select_related(
                "client", "contact", "logged_by", "follow_up_owner"
            ),
        )
        return self.filterset.qs.order_by("-occurred_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, **kwargs)


def _communication_page(request, form, *, client, title, status=200, entry=None):
    crumbs = [
        ("Clients", reverse("clients:client-list")),
        (client.full_name, client.get_absolute_url()),
    ]
    if entry is not None:
        crumbs.append((str(entry), entry.get_absolute_url()))
    return render(
        request,
        "support/communication_form.html",
        {"form": form, "customer": client, "title": title, "crumbs": crumbs, "entry": entry},
        status=status,
    )


class CommunicationCreateView(StaffPermissionRequiredMixin, View):
    permission_required = "support.add_communication"

    def _client(self, request: HttpRequest) -> Client:
        pk = inputs.record_id(request.GET.get("client"))
        if pk is None:
            raise Http404("Log a communication from the client's profile.")
        return get_object_or_404(Client, pk=pk)

    def get(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        initial = {}
        if (ticket := inputs.record_id(request.GET.get("ticket"))) is not None:
            initial["ticket"] = ticket
        form = CommunicationForm(client=client, user=request.user, initial=initial)
        return _communication_page(
            request, form, client=client, title=f"Log a communication with {client.full_name}"
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        client = self._client(request)
        form = CommunicationForm(request.POST, client=client, user=request.user)
        if form.is_valid():
            try:
                entry = services.log_communication(
                    client=client, data=form.data_for_service(), actor=request.user
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, f"{entry} logged.")
                return redirect(
                    reverse("clients:client-detail", args=[client.pk]) + "?tab=timeline"
                )
        return _communication_page(
            request,
            form,
            client=client,
            title=f"Log a communication with {client.full_name}",
            status=400,
        )


class CommunicationDetailView(StaffPermissionRequiredMixin, RecordHistoryMixin, DetailView):
    permission_required = "support.view_communication"
    template_name = "support/communication_detail.html"
    context_object_name = "entry"
    queryset = Communication.objects.select_related(
        "client",
        "contact",
        "service__product",
        "domain",
        "invoice",
        "ticket",
        "logged_by",
        "follow_up_owner",
        "follow_up_done_by",
    )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["done_form"] = FollowUpDoneForm()
        ticket_id = self.object.ticket_id
        context["ticket_visible"] = bool(ticket_id) and (
            Ticket.objects.visible_to(self.request.user).filter(pk=ticket_id).exists()
        )
        return context


class CommunicationUpdateView(StaffPermissionRequiredMixin, View):
    permission_required = "support.change_communication"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(Communication.objects.select_related("client"), pk=pk)
        form = CommunicationForm(
            instance=entry,
            client=entry.client,
            user=request.user,
            initial={"version": version_of(entry)},
        )
        return _communication_page(
            request, form, client=entry.client, title=f"Correct {entry}", entry=entry
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(Communication.objects.select_related("client"), pk=pk)
        form = CommunicationForm(
            request.POST, instance=entry, client=entry.client, user=request.user
        )
        if form.is_valid():
            try:
                services.update_communication(
                    communication=entry,
                    data=form.data_for_service(),
                    actor=request.user,
                    reason=form.cleaned_data["audit_reason"],
                    version=form.cleaned_data["version"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, "Communication saved.")
                return redirect(entry)
        return _communication_page(
            request, form, client=entry.client, title=f"Correct {entry}", entry=entry, status=400
        )


class FollowUpDoneView(StaffPermissionRequiredMixin, View):
    permission_required = "support.change_communication"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(Communication, pk=pk)
        form = FollowUpDoneForm(request.POST)
        if form.is_valid():
            try:
                services.complete_follow_up(
                    communication=entry, actor=request.user, result=form.cleaned_data["result"]
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, "Follow-up done.")
        else:
            messages.error(request, "The result is too long (500 characters at most).")
        back = request.POST.get("next", "")
        if back == "follow-ups":
            return redirect("support:follow-up-list")
        return redirect(entry)


class FollowUpListView(StaffPermissionRequiredMixin, ListView):
    """Follow-ups due, per staff member (the user's own by default)."""

    permission_required = "support.view_communication"
    template_name = "support/follow_up_list.html"
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_queryset(self) -> Any:
        self.form = FollowUpFilter(self.request.GET or None)
        owner, when = self.request.user, "due"
        if self.form.is_valid():
            owner = self.form.cleaned_data["owner"] or self.request.user
            when = self.form.cleaned_data["when"] or "due"
        self.owner = owner
        today = timezone.localdate()
        rows = Communication.objects.follow_ups_open().filter(follow_up_owner=owner)
        if when == "due":
            rows = rows.filter(follow_up_on__lte=today)
        elif when == "upcoming":
            rows = rows.filter(follow_up_on__gt=today)
        return rows.select_related("client", "contact", "logged_by").order_by("follow_up_on", "id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            form=self.form,
            owner=self.owner,
            today=timezone.localdate(),
            done_form=FollowUpDoneForm(),
            **kwargs,
        )
