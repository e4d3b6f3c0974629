"""Secrets at rest (hosting passwords, EPP codes): Fernet with rotating keys."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.exceptions import ValidationError

from core.crypto import fernet as _fernet

# The columns (500 characters) hold the Fernet token: base64 of 57 bytes of envelope and the
# plain text padded to 16-byte blocks. 300 bytes of plain text make a 484-character token.
MAX_SECRET_BYTES = 300
MAX_SECRET_LENGTH = 100  # what the forms offer: 100 characters of up to 3 bytes each


def validate_secret_length(plain: str) -> None:
    """Refuse a secret whose token would not fit its column (a validator for forms too)."""
    if len(plain.encode()) > MAX_SECRET_BYTES:
        raise ValidationError(
            "Too long to store: at most %(max)s characters.",
            code="secret_too_long",
            params={"max": MAX_SECRET_LENGTH},
        )


def encrypt(plain: str, *, field: str = "secret") -> str:
    """The token stored for ``plain``; too long a secret is refused as an error on ``field``."""
    if not plain:
        return ""
    try:
        validate_secret_length(plain)
    except ValidationError as exc:
        raise ValidationError({field: exc}) from exc
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("This secret cannot be decrypted with the configured keys.") from exc
