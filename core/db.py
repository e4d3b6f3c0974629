from __future__ import annotations

from typing import Any

import pgtrigger
from django.db import connections
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

_EXTENSIONS: dict[tuple[str, str], bool] = {}


def has_extension(name: str, using: str = "default") -> bool:
    """Whether the database behind ``using`` has the PostgreSQL extension ``name`` installed.

    Asked once per process and database (the answer only changes with a migration).
    """
    connection = connections[using]
    key = (str(connection.settings_dict.get("NAME")), name)
    if key not in _EXTENSIONS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name])
            _EXTENSIONS[key] = cursor.fetchone() is not None
    return _EXTENSIONS[key]


def extension_available(schema_editor: BaseDatabaseSchemaEditor, name: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [name])
        return cursor.fetchone() is not None


def transitions_guard(name: str, transitions: dict, label: str) -> pgtrigger.Trigger:
    """A trigger refusing any status change not in ``transitions`` (the admin included)."""
    pairs = ", ".join(
        f"('{old}', '{new}')" for old, targets in transitions.items() for new in sorted(targets)
    )
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
        func=f"""
            IF (OLD.status, NEW.status) NOT IN ({pairs}) THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                    '{label} ' || OLD.id || ': status cannot go from ' || OLD.status
                    || ' to ' || NEW.status;
            END IF;
            RETURN NEW;
        """,
    )


def is_last_app_migrated(sender: Any) -> bool:
    """Whether ``sender`` is the last app ``post_migrate`` is sent for: Django sends it once per
    installed app *with models*, in ``INSTALLED_APPS`` order, so a hook that must run once,
    after every table and permission exists, acts on this one (an app without models, such as
    the demo data, never sends it)."""
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    return sender is with_models[-1]
