from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views import View
from django.views.generic import DetailView, ListView

from audit.edits import version_of
from audit.views import RecordHistoryMixin
from clients.models import Client, Note
from core import inputs
from core.pagination import DeferredJoinPaginator
from core.views import StaffPermissionRequiredMixin
from core.write import CrumbsMixin, FilteredListView, PostOnlyWriteView, WriteView
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


class TicketCreateView(WriteView):
    """Open a ticket: choose the client (or "not a client"), then the ticket itself."""

    permission_required = "support.add_ticket"
    template_name = "support/ticket_form.html"
    form_class = TicketForm

    def get_object(self) -> Client | bool | None:
        """The client, ``None`` for someone who is not a client, ``False`` not chosen yet."""
        if not hasattr(self, "_requester"):
            pk = inputs.record_id(self.request.GET.get("client"))
            if pk is not None:
                self._requester: Client | bool | None = get_object_or_404(Client, pk=pk)
            else:
                self._requester = None if self.request.GET.get("guest") else False
        return self._requester

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"client": self.object, "user": self.request.user}

    def get_title(self) -> str:
        return "Open a ticket"

    def get_crumbs(self) -> list[tuple[str, str]]:
        crumbs = [("Tickets", reverse("support:ticket-list"))]
        if self.object:
            client = self.object
            crumbs.append((client.full_name, client.get_absolute_url() + "?tab=tickets"))
        return crumbs

    def get_back_url(self) -> str:
        return reverse("support:ticket-list")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        pinned = []
        if self.object is not None:
            pinned = list(
                Note.objects.filter(client=self.object, pinned=True)
                .select_related("author")
                .order_by("-created_at")[:5]
            )
        return super().get_context_data(customer=self.object, pinned_notes=pinned, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.get_object() is False:
            form = ChooseRequesterForm(request.GET or None)
            context = {
                "form": form,
                "crumbs": [("Tickets", reverse("support:ticket-list"))],
                "crumb_current": "Open a ticket",
            }
            return render(request, "support/choose_requester.html", context)
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.get_object() is False:
            return redirect("support:ticket-create")
        return super().post(request, *args, **kwargs)

    def act(self, form: Any) -> Ticket:
        return services.open_ticket(actor=self.request.user, **form.service_kwargs())

    def get_success_message(self, result: Ticket) -> str:
        return f"Ticket #{result.number} opened."


# One ticket ------------------------------------------------------------------------------------


def _ticket_crumbs(ticket: Ticket) -> dict[str, Any]:
    crumbs = [("Tickets", reverse("support:ticket-list"))]
    if client := ticket.client:
        crumbs.append((client.full_name, client.get_absolute_url() + "?tab=tickets"))
    return {"crumbs": crumbs, "crumb_current": f"#{ticket.number}"}


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
        context.update(_ticket_crumbs(ticket))
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


class _TicketWrite(WriteView):
    """A form about one ticket the user may see (its department)."""

    def get_object(self) -> Ticket:
        return visible_ticket(self.request, self.kwargs["number"])

    def get_crumbs(self) -> list[tuple[str, str]]:
        return [
            ("Tickets", reverse("support:ticket-list")),
            (f"#{self.object.number}", self.object.get_absolute_url()),
        ]


class TicketReplyView(_TicketWrite):
    """The reply box of the ticket page; refused, the whole ticket page comes back."""

    permission_required = "support.add_ticketreply"
    http_method_names = ["post"]
    template_name = "support/ticket_detail.html"
    form_class = ReplyForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ticket = self.object
        context = {
            "ticket": ticket,
            "object": ticket,
            "reply_form": kwargs.pop("form"),
            "tab": "overview",
            "can_review_audit": self.request.user.has_perm("audit.review_audit"),
        }
        context.update(ticket_page_context(self.request, ticket))
        context.update(_ticket_crumbs(ticket))
        return context

    def act(self, form: Any) -> TicketReply:
        data = form.cleaned_data
        return services.add_reply(
            ticket=self.object,
            kind=data["kind"],
            message=data["message"],
            attachments=data["attachments"],
            new_status=data["new_status"],
            send_email=data["send_email"],
            actor=self.request.user,
        )

    def get_success_message(self, result: TicketReply) -> str:
        if result.emailed_to:
            return f"Reply added and emailed to {result.emailed_to}."
        return f"{result.get_kind_display()} added (not emailed)."

    def get_success_url(self, result: TicketReply) -> str:
        url = reverse("support:ticket-detail", args=[self.object.number])
        return f"{url}#reply-{result.pk}"


class TicketStatusView(_TicketWrite):
    permission_required = "support.change_ticket"
    form_class = TicketStatusForm
    submit = "Change status"

    def get_title(self) -> str:
        return f"Change the status of ticket #{self.object.number}"

    def get_intro(self) -> str:
        return f"Now: {self.object.get_status_display()}."

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"ticket": self.object}

    def get_initial(self) -> dict[str, Any]:
        return {"status": self.request.GET.get("status", "")}

    def act(self, form: Any) -> Ticket:
        return services.change_ticket_status(
            ticket=self.object,
            status=form.cleaned_data["status"],
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
        )

    def get_success_message(self, result: Ticket) -> str:
        return f"Ticket #{result.number} is {result.get_status_display()}."


class TicketUpdateView(_TicketWrite):
    permission_required = "support.change_ticket"
    form_class = TicketUpdateForm

    def get_title(self) -> str:
        return f"Edit ticket #{self.object.number}"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {"ticket": self.object, "user": self.request.user}

    def get_initial(self) -> dict[str, Any]:
        initial = {name: getattr(self.object, name) for name in services.EDITABLE_FIELDS}
        initial["version"] = version_of(self.object)
        return initial

    def act(self, form: Any) -> Any:
        return services.update_ticket(
            ticket=self.object,
            data=form.changes(),
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )

    def get_success_message(self, result: Any) -> str:
        return f"Ticket #{self.object.number} saved."

    def get_success_url(self, result: Any) -> str:
        return self.object.get_absolute_url()


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


class CommunicationListView(FilteredListView):
    permission_required = "support.view_communication"
    template_name = "support/communication_list.html"
    filterset_class = CommunicationFilter

    def get_base_queryset(self) -> Any:
        return Communication.objects.select_related(
            "client", "contact", "logged_by", "follow_up_owner"
        )

    def order(self, filterset: Any) -> Any:
        return filterset.qs.order_by("-occurred_at", "-id")


class _CommunicationWrite(WriteView):
    template_name = "support/communication_form.html"
    form_class = CommunicationForm
    entry: Communication | None = None

    @property
    def customer(self) -> Client:
        return self.object if self.entry is None else self.entry.client

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"client": self.customer, "user": self.request.user}
        if self.entry is not None:
            kwargs["instance"] = self.entry
        return kwargs

    def get_crumbs(self) -> list[tuple[str, str]]:
        client = self.customer
        crumbs = [
            ("Clients", reverse("clients:client-list")),
            (client.full_name, client.get_absolute_url()),
        ]
        if self.entry is not None:
            crumbs.append((str(self.entry), self.entry.get_absolute_url()))
        return crumbs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(customer=self.customer, entry=self.entry, **kwargs)


class CommunicationCreateView(_CommunicationWrite):
    permission_required = "support.add_communication"

    def get_object(self) -> Client:
        pk = inputs.record_id(self.request.GET.get("client"))
        if pk is None:
            raise Http404("Log a communication from the client's profile.")
        return get_object_or_404(Client, pk=pk)

    def get_title(self) -> str:
        return f"Log a communication with {self.object.full_name}"

    def get_initial(self) -> dict[str, Any]:
        ticket = inputs.record_id(self.request.GET.get("ticket"))
        return {"ticket": ticket} if ticket is not None else {}

    def act(self, form: Any) -> Communication:
        return services.log_communication(
            client=self.object, data=form.data_for_service(), actor=self.request.user
        )

    def get_success_message(self, result: Communication) -> str:
        return f"{result} logged."

    def get_success_url(self, result: Communication) -> str:
        return reverse("clients:client-detail", args=[self.object.pk]) + "?tab=timeline"


class CommunicationDetailView(
    StaffPermissionRequiredMixin, CrumbsMixin, RecordHistoryMixin, DetailView
):
    permission_required = "support.view_communication"
    template_name = "support/communication_detail.html"
    context_object_name = "entry"

    def get_crumbs(self) -> list[tuple[str, str]]:
        client = self.object.client
        return [
            ("Communications", reverse("support:communication-list")),
            (client.full_name, client.get_absolute_url() + "?tab=communications"),
        ]

    def get_current_crumb(self) -> str:
        when = timezone.localtime(self.object.occurred_at)
        return formats.date_format(when, "SHORT_DATETIME_FORMAT")

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


class CommunicationUpdateView(_CommunicationWrite):
    permission_required = "support.change_communication"
    success_message = "Communication saved."

    def get_object(self) -> Communication:
        self.entry = get_object_or_404(
            Communication.objects.select_related("client"), pk=self.kwargs["pk"]
        )
        return self.entry

    def get_title(self) -> str:
        return f"Correct {self.entry}"

    def get_initial(self) -> dict[str, Any]:
        return {"version": version_of(self.entry)}

    def act(self, form: Any) -> Any:
        return services.update_communication(
            communication=self.entry,
            data=form.data_for_service(),
            actor=self.request.user,
            reason=form.cleaned_data["audit_reason"],
            version=form.cleaned_data["version"],
        )

    def get_success_url(self, result: Any) -> str:
        return self.entry.get_absolute_url()


class FollowUpDoneView(PostOnlyWriteView):
    """The "done" button of a follow-up, on its page or on the follow-ups list."""

    permission_required = "support.change_communication"
    success_message = "Follow-up done."

    def get_object(self) -> Communication:
        return get_object_or_404(Communication, pk=self.kwargs["pk"])

    def get_redirect_url(self) -> str:
        if self.request.POST.get("next", "") == "follow-ups":
            return reverse("support:follow-up-list")
        return self.object.get_absolute_url()

    def act_on(self, request: HttpRequest) -> Any:
        form = FollowUpDoneForm(request.POST)
        if not form.is_valid():
            raise ValidationError(
                "The result is too long (500 characters at most).", code="too_long"
            )
        return services.complete_follow_up(
            communication=self.object, actor=request.user, result=form.cleaned_data["result"]
        )


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
