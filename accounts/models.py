"""The second factor's records, seen through proxies so that the audit trail captures them.

django-otp owns the tables (``otp_totp``, ``otp_static``); the proxies put their event tables in
our migrations, like ``audit.StaffUser`` does for Django's user. Enrolling, confirming and
resetting a factor and the failed sign-ins axes counts are therefore events of the trail, with
the service's action and reason. The TOTP key is stored as a digest only; the recovery codes
stay out of the trail (their use is in the staff sessions).
"""

from __future__ import annotations

from axes.models import AccessAttempt
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


class AuthenticatorApp(TOTPDevice):
    """A staff member's authenticator app (TOTP)."""

    audit_track_proxy = True
    audit_secret_fields = ("key",)

    class Meta:
        proxy = True
        verbose_name = "authenticator app"


class RecoveryCodeSet(StaticDevice):
    """The set of single-use recovery codes given at enrolment."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "recovery code set"


class FailedSignIns(AccessAttempt):
    """django-axes' count of failed sign-ins per username and address (IP, user agent)."""

    audit_track_proxy = True

    class Meta:
        proxy = True
        verbose_name = "failed sign-ins"
