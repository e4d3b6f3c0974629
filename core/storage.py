"""Where private files live: a folder on this machine, or an S3-compatible bucket shared by
every app server.

Settings build ``STORAGES["private"]`` (and ``"default"``, so nothing ever lands anywhere else)
with ``private_storages(env)``: the local folder ``PRIVATE_MEDIA_ROOT`` unless
``STORAGE_S3_BUCKET`` is set, then ``django-storages``' S3 backend (AWS, MinIO, Ceph, Garage,
any S3 API) with private objects, no public URL and no overwriting. Ticket attachments are the
private files today (invoice PDFs are rendered on request and never stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage

FILESYSTEM_BACKEND = "core.storage.PrivateFileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"


class PrivateFileSystemStorage(FileSystemStorage):
    """``PRIVATE_MEDIA_ROOT``, read when the storage is made (the tests point it elsewhere);
    outside the web root, with no URL: only a permission-checked view streams the files."""

    def __init__(self, location: Any = None, **kwargs: Any) -> None:
        super().__init__(
            location=settings.PRIVATE_MEDIA_ROOT if location is None else location, **kwargs
        )


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def private_storage_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``STORAGES`` entry for private files, from environment variables (see .env.example)."""
    bucket = env.get("STORAGE_S3_BUCKET", "").strip()
    if not bucket:
        return {"BACKEND": FILESYSTEM_BACKEND}
    options: dict[str, Any] = {
        "bucket_name": bucket,
        # Objects under this prefix, private (no ACL grants anyone a read), never overwritten
        # (a name taken gets a suffix), never given a public URL.
        "location": env.get("STORAGE_S3_PREFIX", "private").strip("/"),
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": 300,
        "verify": _flag(env.get("STORAGE_S3_VERIFY_TLS"), True),
    }
    optional = {
        "endpoint_url": "STORAGE_S3_ENDPOINT_URL",
        "region_name": "STORAGE_S3_REGION",
        # Without keys boto3 looks for credentials itself (instance role, ~/.aws).
        "access_key": "STORAGE_S3_ACCESS_KEY_ID",
        "secret_key": "STORAGE_S3_SECRET_ACCESS_KEY",
        "addressing_style": "STORAGE_S3_ADDRESSING_STYLE",
    }
    for option, name in optional.items():
        value = env.get(name, "").strip()
        if value:
            options[option] = value
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}


def private_storages(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    config = private_storage_config(env)
    return {"default": dict(config), "private": dict(config)}
