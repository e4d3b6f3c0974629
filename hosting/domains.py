"""Domain names as staff type them, checked the way registries do.

Input goes through IDNA 2008 with UTS 46 mapping (the ``idna`` package): upper case and
full-width forms are mapped, and the result is the lower-case A-label form we store
("bücher.de" → "xn--bcher-kva.de"). The public suffix comes from ``tldextract``'s bundled
list, never fetched at run time, so "example.co.uk" is the name "example" under "co.uk".
"""

from __future__ import annotations

import functools
import re

import idna
import tldextract
from django.core.exceptions import ValidationError

MAX_NAME = 253
MAX_LABEL = 63
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() and no cache: the snapshot shipped with the package, offline.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def to_ascii(text: str) -> str:
    """The lower-case A-label form of a host name, or ValidationError with a code."""
    name = (text or "").strip()
    if name.endswith("."):
        name = name[:-1]  # the root label is implied
    if not name:
        raise ValidationError("Enter a domain name.", code="empty")
    if any(label == "" for label in name.split(".")):
        raise ValidationError("A domain name cannot have an empty label (..).", code="empty_label")
    if name.isascii():
        _check_lengths(name)
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise ValidationError(
            "%(name)s is not a valid domain name: %(why)s.",
            code="invalid_idna",
            params={"name": text, "why": str(exc).rstrip(".")},
        ) from exc
    except UnicodeError as exc:
        raise ValidationError(
            "%(name)s is too long or malformed.", code="invalid_idna", params={"name": text}
        ) from exc
    ascii_name = ascii_name.lower()
    _check_lengths(ascii_name)
    for label in ascii_name.split("."):
        if not _HOST_LABEL.match(label):
            raise ValidationError(
                "“%(label)s” is not a valid label: letters, digits and hyphens, not at either end.",
                code="invalid_label",
                params={"label": label},
            )
    return ascii_name


def _check_lengths(ascii_name: str) -> None:
    if len(ascii_name) > MAX_NAME:
        raise ValidationError(
            "A domain name has at most %(max)s characters.",
            code="name_too_long",
            params={"max": MAX_NAME},
        )
    if any(len(label) > MAX_LABEL for label in ascii_name.split(".")):
        raise ValidationError(
            "Each label has at most %(max)s characters.",
            code="label_too_long",
            params={"max": MAX_LABEL},
        )


def to_unicode(ascii_name: str) -> str:
    """For display: the U-label form; the stored form if it cannot be decoded."""
    if not ascii_name:
        return ""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name


def split_registrable(ascii_name: str) -> tuple[str, str]:
    """("example", "co.uk") for "example.co.uk"; ValidationError unless exactly one label
    stands before a known public suffix."""
    parts = _extractor()(ascii_name)
    if not parts.suffix:
        raise ValidationError(
            "%(name)s has no known top-level domain.",
            code="unknown_suffix",
            params={"name": ascii_name},
        )
    if not parts.domain or parts.subdomain:
        raise ValidationError(
            "Enter the registrable name only (like example.%(suffix)s), not a subdomain.",
            code="not_registrable",
            params={"suffix": parts.suffix},
        )
    return parts.domain, parts.suffix


def validate_domain_name(text: str, *, sold_tlds: set[str]) -> tuple[str, str]:
    """The stored name and its TLD for staff input, or ValidationError with a code."""
    ascii_name = to_ascii(text)
    _, suffix = split_registrable(ascii_name)
    if suffix not in sold_tlds:
        raise ValidationError(
            "We do not sell .%(suffix)s domains.", code="tld_not_sold", params={"suffix": suffix}
        )
    return ascii_name, suffix


def validate_host_name(text: str) -> str:
    """A name server: any valid host name with at least two labels, stored in ASCII."""
    ascii_name = to_ascii(text)
    if "." not in ascii_name:
        raise ValidationError(
            "%(name)s is not a full host name.", code="invalid_nameserver", params={"name": text}
        )
    return ascii_name


def to_ascii_prefix(text: str) -> str:
    """A search prefix in stored form; "" when it cannot be one."""
    text = (text or "").strip().lower().rstrip(".")
    if not text:
        return ""
    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return text if text.isascii() else ""
