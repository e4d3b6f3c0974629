"""The one shape of a page that writes: look the record up, check the permission, show a form,
call one service, put its refusal back on the form (with the input kept) or redirect with a
message.

Every write view in the app is a ``WriteView``; the page is ``core/form_page.html`` unless a
view needs its own layout (and then it extends that template). A view declares:

- ``permission_required``; ``get_object()`` (the record, 404 when missing);
- ``form_class`` and ``get_form_kwargs()`` / ``get_initial()``;
- ``act(form)``: the single service call, returning what was written (``is_valid(form)`` and
  ``preview(form)`` for pages that post more than one form or show a preview first);
- ``success_message`` / ``get_success_url(result)``;
- ``expected_errors``: exceptions other than ``ValidationError`` that are a refusal the person
  can act on (``PdfUnavailable``...), shown on the form with a 400 instead of an error page;
- the page: ``title``, ``submit``, ``intro`` (or ``get_intro()``), ``danger``,
  ``get_crumbs()`` (a list of ``(label, url)`` leading to the page) and ``get_back_url()``.

``core`` imports no business app: records are reached through the hooks above.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from core.forms import errors_to_form
from core.pagination import DeferredJoinPaginator
from core.permissions import StaffPermissionRequiredMixin

Crumbs = list[tuple[str, str]]


class CrumbsMixin:
    """For a read page: the breadcrumbs (``includes/breadcrumbs.html``) the view declares, a
    list of ``(label, url)`` leading to the page and the page's own label."""

    def get_crumbs(self) -> Crumbs:
        return []

    def get_current_crumb(self) -> str:
        return str(getattr(self, "object", "") or "")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]  # the view has it
        context.setdefault("crumbs", self.get_crumbs())
        context.setdefault("crumb_current", self.get_current_crumb())
        return context


class WriteView(StaffPermissionRequiredMixin, View):
    """GET shows the form; POST validates it, calls ``act`` and redirects, or shows it again
    (400) with the service's refusal on it."""

    form_class: Any = None
    template_name = "core/form_page.html"
    title = ""
    submit = "Save"
    intro = ""
    danger = False
    success_message = ""
    expected_errors: tuple[type[Exception], ...] = ()

    object: Any = None

    # The record ---------------------------------------------------------------------------

    def get_object(self) -> Any:
        return None

    # The form -----------------------------------------------------------------------------

    def get_initial(self) -> dict[str, Any]:
        return {}

    def get_form_kwargs(self) -> dict[str, Any]:
        return {}

    def get_form(self, data: Any = None, files: Any = None) -> forms.BaseForm:
        kwargs = self.get_form_kwargs()
        if data is None:
            initial = self.get_initial()
            if initial:
                kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
            return self.form_class(**kwargs)
        if files:
            kwargs["files"] = files
        return self.form_class(data, **kwargs)

    # The write ----------------------------------------------------------------------------

    def is_valid(self, form: Any) -> bool:
        """The form, and whatever else the page posts (line formsets), is valid."""
        return form.is_valid()

    def preview(self, form: Any) -> HttpResponse | None:
        """A page shown instead of writing (a Preview button); ``None`` goes on to ``act``."""
        return None

    def act(self, form: Any) -> Any:
        """The one service call; its ``ValidationError`` comes back on the form."""
        raise NotImplementedError

    def form_errors(self, form: Any, exc: ValidationError) -> None:
        errors_to_form(form, exc)

    def get_success_message(self, result: Any) -> str:
        return self.success_message

    def get_success_url(self, result: Any) -> str:
        target = result if hasattr(result, "get_absolute_url") else self.object
        return target.get_absolute_url()

    # The page -----------------------------------------------------------------------------

    def get_title(self) -> str:
        return self.title

    def get_intro(self) -> str:
        return self.intro

    def get_crumbs(self) -> Crumbs:
        return []

    def get_back_url(self) -> str:
        return self.object.get_absolute_url() if self.object is not None else ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = {
            "view": self,
            "object": self.object,
            "title": self.get_title(),
            "crumbs": self.get_crumbs(),
            "back": self.get_back_url(),
            "submit": self.submit,
            "intro": self.get_intro(),
            "danger": self.danger,
        }
        context.update(kwargs)
        return context

    def render_form(self, form: Any, status: int = 200, **extra: Any) -> HttpResponse:
        return render(
            self.request,
            self.template_name,
            self.get_context_data(form=form, **extra),
            status=status,
        )

    # HTTP ---------------------------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        form = self.get_form(request.POST, request.FILES)
        if self.is_valid(form):
            shown = self.preview(form)
            if shown is not None:
                return shown
            try:
                result = self.act(form)
            except ValidationError as exc:
                self.form_errors(form, exc)
            except self.expected_errors as exc:
                form.add_error(None, str(exc))
            else:
                return self.succeeded(result)
        return self.refused(form)

    def succeeded(self, result: Any) -> HttpResponse:
        if isinstance(result, HttpResponse):
            return result
        message = self.get_success_message(result)
        if message:
            messages.success(self.request, message)
        return redirect(self.get_success_url(result))

    def refused(self, form: Any) -> HttpResponse:
        # A ModelForm wrote the typed values onto the record while validating: the page shows
        # the record as it is (its name in the title), the form what was typed.
        record = self.object
        if getattr(form, "instance", None) is record and isinstance(record, models.Model):
            record.refresh_from_db()
        return self.render_form(form, status=400)


class PostOnlyWriteView(WriteView):
    """A button on another page (remove, pin, mark done): no form page; the refusal is a
    message on the page it came back to."""

    http_method_names = ["post"]

    def act_on(self, request: HttpRequest) -> Any:
        raise NotImplementedError

    def get_redirect_url(self) -> str:
        return self.get_back_url()

    def get_refused_url(self) -> str:
        return self.get_redirect_url()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        # Taken before the write: a removed record has no page to go back to.
        url, refused_url = self.get_redirect_url(), self.get_refused_url()
        try:
            result = self.act_on(request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(refused_url)
        message = self.get_success_message(result)
        if message:
            messages.success(request, message)
        return HttpResponseRedirect(url)


class FilteredListView(StaffPermissionRequiredMixin, ListView):
    """A list with a filter form: ``filterset_class`` over ``get_base_queryset()``, newest
    first unless ``order()`` says otherwise; the template gets ``filter``."""

    filterset_class: Any = None
    paginate_by = 25
    paginator_class = DeferredJoinPaginator

    def get_base_queryset(self) -> Any:
        raise NotImplementedError

    def order(self, filterset: Any) -> Any:
        return filterset.qs.order_by("-id")

    def get_queryset(self) -> Any:
        self.filterset = self.filterset_class(
            self.request.GET or None, queryset=self.get_base_queryset()
        )
        return self.order(self.filterset)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter=self.filterset, **kwargs)
