"""Sign-in pages: enrolment, the second-factor check, and the Admins' resets and unlocks."""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.image.svg
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from django.views.generic import TemplateView
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.forms import ConfirmForm, ReasonForm, TokenForm, UnlockForm
from accounts.policy import second_factor_required
from core.views import StaffPermissionRequiredMixin
from core.write import PostOnlyWriteView


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _needs_current_factor(request: HttpRequest) -> bool:
    """Enrolled but not verified: a new app may replace the old one only after its code."""
    return not request.user.is_verified() and user_has_device(request.user, confirmed=True)


def _to_verify(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('accounts:verify')}?{urlencode({'next': request.get_full_path()})}")


class EnrolView(View):
    """Scan the QR code, type a code to confirm, get the recovery codes (shown once)."""

    template_name = "accounts/enrol.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _needs_current_factor(request):
            return _to_verify(request)
        return super().dispatch(request, *args, **kwargs)

    def _render(self, request: HttpRequest, form: ConfirmForm, **extra: Any) -> HttpResponse:
        device = services.pending_device(request.user)
        context = {
            "form": form,
            "device": device,
            "secret": _base32(device),
            "required": second_factor_required(request.user),
            "enrolled": user_has_device(request.user, confirmed=True),
            "next": _next_url(request),
            **extra,
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ConfirmForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ConfirmForm(request.POST)
        if form.is_valid():
            device = services.pending_device(request.user)
            try:
                codes = services.confirm_enrolment(
                    request=request, device=device, token=form.cleaned_data["token"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                context = {"codes": codes, "next": _next_url(request)}
                response = render(request, "accounts/recovery_codes.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return self._render(request, form)


def _base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


def enrol_qr(request: HttpRequest) -> HttpResponse:
    """The pending authenticator's otpauth URI as an SVG QR code, drawn here (no service)."""
    if _needs_current_factor(request):
        return HttpResponse(status=403)
    device = services.pending_device(request.user)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


class VerifyView(View):
    """After the password: a code from the app, or a recovery code (each works once)."""

    template_name = "accounts/verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_verified():
            return HttpResponseRedirect(_next_url(request))
        if not user_has_device(request.user, confirmed=True):
            return redirect(f"{reverse('accounts:enrol')}?next={_next_url(request)}")
        return render(
            request, self.template_name, {"form": TokenForm(), "next": _next_url(request)}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenForm(request.POST)
        if form.is_valid():
            if services.verify(request=request, token=form.cleaned_data["token"]):
                return HttpResponseRedirect(_next_url(request))
            form.add_error("token", "That code is not right (or was used already).")
        context = {"form": form, "next": _next_url(request)}
        return render(request, self.template_name, context, status=200)


User = get_user_model()


STAFF_PAGE = 50


class StaffSecurityView(StaffPermissionRequiredMixin, TemplateView):
    """Admins: who has a second factor, current lockouts; reset or unlock with a reason."""

    permission_required = services.RESET_PERMISSION
    template_name = "accounts/staff_security.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("username", "pk")
        # A page of staff at a time (get_page: a bad or too-large ?page= shows a real page).
        page = Paginator(staff, STAFF_PAGE).get_page(self.request.GET.get("page"))
        enrolled = set(
            TOTPDevice.objects.filter(
                confirmed=True, user__in=[u.pk for u in page.object_list]
            ).values_list("user_id", flat=True)
        )
        context["staff"] = [
            {"user": u, "enrolled": u.pk in enrolled, "required": second_factor_required(u)}
            for u in page.object_list
        ]
        context.update(page_obj=page, paginator=page.paginator, is_paginated=page.has_other_pages())
        context["attempts"] = AccessAttempt.objects.filter(
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT
        ).order_by("-attempt_time")[:STAFF_PAGE]
        context["reason_form"] = kwargs.get("reason_form") or ReasonForm()
        return context


class ResetSecondFactorView(PostOnlyWriteView):
    """The Reset button of a row of Sign-in security: a reason, then the user enrols again."""

    permission_required = services.RESET_PERMISSION

    def get_object(self) -> Any:
        return get_object_or_404(User, pk=self.kwargs["pk"])

    def get_back_url(self) -> str:
        return reverse("accounts:staff")

    def act_on(self, request: HttpRequest) -> Any:
        return services.reset_second_factor(
            user=self.object,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            request=request,
        )

    def get_success_message(self, result: Any) -> str:
        return f"The second factor of {self.object.get_username()} was reset."


class UnlockView(PostOnlyWriteView):
    """The Unlock button of a locked-out username or address: with a reason."""

    permission_required = services.RESET_PERMISSION

    def get_back_url(self) -> str:
        return reverse("accounts:staff")

    def act_on(self, request: HttpRequest) -> Any:
        form = UnlockForm(request.POST)
        if not form.is_valid():
            raise ValidationError("Give a reason to unlock.", code="reason_required")
        data = form.cleaned_data
        services.unlock(
            actor=request.user,
            reason=data["reason"],
            username=data["username"],
            ip=data["ip"] or "",
            request=request,
        )
        return data["username"] or data["ip"]

    def get_success_message(self, result: Any) -> str:
        return f"Unlocked {result}."


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a locked-out attempt: the login page with a clear message."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request, initial={"username": request.POST.get("username", "")}),
        "locked_out": True,
        "cooloff_minutes": minutes,
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    return render(request, "registration/login.html", context, status=429)
