"""The embedded PostgreSQL a newcomer gets when ``DATABASE_URL`` is unset.

``pgserver`` ships PostgreSQL binaries in a wheel; the cluster lives under ``.data/`` and keeps
running after this process exits, so the next ``manage.py`` call reuses it in milliseconds.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

DATABASE_NAME = "whmcs_manual"


def embedded_database_settings(data_dir: Path) -> dict[str, object]:
    """Start (or reuse) the embedded server and return Django ``DATABASES['default']``."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); it falls back fine.
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver  # imported lazily: production never loads it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
    info = server.get_postmaster_info()
    # DATABASE_NAME is a constant of this module, never input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir) if info.socket_dir else "127.0.0.1",
        "PORT": str(info.port or ""),
        "CONN_MAX_AGE": 0,
    }
