"""The production shape: DEBUG off by default, no default secret, `check --deploy` clean."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    # A production process: none of the developer's or the test run's switches.
    dropped = {"DJANGO_DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.update(env)
    clean.setdefault("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_variables():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x7!" + "k" * 60 + "Zq-09_vR",
        FIELD_ENCRYPTION_KEYS="bXlfdGVzdF9rZXlfaXNfMzJfYnl0ZXNfbG9uZ19vayE=",
        ALLOWED_HOSTS="backoffice.example.com",
        AUDIT_SEAL_KEY="s" * 16 + "eal-key-for-the-deploy-check-0123456789",
        AUDIT_SEAL_EXPORT="/var/lib/whmcs-manual/audit-seals.jsonl",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_requires_a_seal_key_and_export():
    result = _manage(
        "check",
        "--deploy",
        SECRET_KEY="x7!" + "k" * 60 + "Zq-09_vR",
        FIELD_ENCRYPTION_KEYS="bXlfdGVzdF9rZXlfaXNfMzJfYnl0ZXNfbG9uZ19vayE=",
        ALLOWED_HOSTS="backoffice.example.com",
    )
    assert result.returncode != 0
    assert "audit.E002" in result.stderr + result.stdout
    assert "audit.W003" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", ALLOWED_HOSTS="backoffice.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_no_migration_is_missing_wherever_the_checkout_lives(db, settings, tmp_path):
    """Migrations must not freeze anything of the machine that made them (a storage folder):
    with the private files somewhere else, ``makemigrations --check`` still finds nothing."""
    from io import StringIO

    from django.core.management import call_command
    from django.utils.functional import empty

    from support.models import private_storage

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "another-checkout" / "private"
    private_storage._wrapped = empty
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:
        raise AssertionError(f"makemigrations would write:\n{out.getvalue()}") from exit_
