"""The one Fernet of the project (``FIELD_ENCRYPTION_KEYS``, newest first; older keys still
decrypt, so keys can be rotated): hosting secrets at rest and secrets waiting in an approval
request use it."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])
