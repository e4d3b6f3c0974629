from __future__ import annotations

from django.db import connections

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


def extension_available(schema_editor, name: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [name])
        return cursor.fetchone() is not None
