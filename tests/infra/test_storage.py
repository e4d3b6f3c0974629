"""Private files go through STORAGES: a local folder by default, a shared S3 bucket by env."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.files.storage import InMemoryStorage, storages
from django.utils.functional import empty

from core.storage import S3_BACKEND, PrivateFileSystemStorage, private_storage_config

BASE_DIR = Path(__file__).resolve().parents[2]
S3_ENV = {
    "STORAGE_S3_BUCKET": "whmcs-private",
    "STORAGE_S3_ENDPOINT_URL": "https://s3.example.net",
    "STORAGE_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "STORAGE_S3_SECRET_ACCESS_KEY": "not-a-real-secret",
    "STORAGE_S3_REGION": "eu-west-1",
}


def test_without_a_bucket_private_files_stay_in_the_local_folder():
    assert private_storage_config({}) == {"BACKEND": "core.storage.PrivateFileSystemStorage"}
    assert private_storage_config({"STORAGE_S3_BUCKET": "  "})["BACKEND"] != S3_BACKEND


def test_a_bucket_selects_the_s3_backend_with_private_objects():
    config = private_storage_config(S3_ENV)
    assert config["BACKEND"] == S3_BACKEND
    assert config["OPTIONS"] == {
        "bucket_name": "whmcs-private",
        "location": "private",
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "querystring_expire": 300,
        "verify": True,
        "endpoint_url": "https://s3.example.net",
        "region_name": "eu-west-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "not-a-real-secret",
    }


def test_keys_are_optional_so_boto3_can_find_an_instance_role():
    options = private_storage_config({"STORAGE_S3_BUCKET": "b", "STORAGE_S3_PREFIX": "/x/"})[
        "OPTIONS"
    ]
    assert "access_key" not in options and "secret_key" not in options
    assert options["location"] == "x"


def test_the_s3_backend_is_built_without_talking_to_s3():
    storage = storages.create_storage(private_storage_config(S3_ENV))
    assert type(storage).__module__ == "storages.backends.s3"
    assert storage.bucket_name == "whmcs-private"
    assert storage.location == "private"
    assert storage.file_overwrite is False


def test_settings_pick_the_s3_backend_from_the_environment():
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORAGE_S3_")},
        **S3_ENV,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/unused",  # never connected to
        "DJANGO_SETTINGS_MODULE": "whmcs_manual.settings",
    }
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: v['BACKEND'] for k, v in settings.STORAGES.items()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    backends = json.loads(result.stdout.strip().splitlines()[-1])
    assert backends["private"] == S3_BACKEND
    assert backends["default"] == S3_BACKEND
    assert backends["staticfiles"] != S3_BACKEND  # static files stay with whitenoise


def test_by_default_the_private_storage_is_the_private_folder():
    assert settings.STORAGES["private"]["BACKEND"] == "core.storage.PrivateFileSystemStorage"
    storage = storages.create_storage(settings.STORAGES["private"])
    assert isinstance(storage, PrivateFileSystemStorage)
    assert Path(storage.location) == Path(settings.PRIVATE_MEDIA_ROOT)


def test_ticket_attachments_are_stored_through_storages_private(settings):
    from support.models import TicketAttachment, private_storage

    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    private_storage._wrapped = empty
    try:
        field_storage = TicketAttachment._meta.get_field("file").storage
        name = field_storage.save("tickets/probe", io.BytesIO(b"hello"))
        assert isinstance(private_storage._wrapped, InMemoryStorage)
        assert private_storage.open(name).read() == b"hello"
    finally:
        private_storage._wrapped = empty


def test_sessions_are_shared_by_every_app_server():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
