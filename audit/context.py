"""The context that travels with every write: who, from where, through which channel, and why.

The context is a ``pghistory`` context: one row per request or command, referenced by every event
row written inside it. Nested calls merge their metadata into the same row.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from typing import Any

import pghistory

WEB = "web"
ADMIN = "admin"
COMMAND = "command"
OTHER = "other"
CHANNELS = (WEB, ADMIN, COMMAND, OTHER)


def context(
    *, action: str = "", reason: str = "", actor: Any = None, **metadata: Any
) -> pghistory.context:
    """Add the action name and reason to the current context (or open one).

    Services call ``with audit.context(action="clients.create_client", reason=reason):`` around
    their writes. Empty values never overwrite what an outer layer already set.
    """
    values = {k: v for k, v in {"action": action, "reason": reason.strip()}.items() if v}
    if actor is not None and getattr(actor, "is_authenticated", False):
        values.update(user=actor.pk, username=actor.get_username())
    values.update({k: v for k, v in metadata.items() if v not in (None, "")})
    return pghistory.context(**values)


def command_context(name: str) -> pghistory.context:
    """The context of a management command run: channel ``command`` and the OS user."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        os_user = str(os.getuid())
    return pghistory.context(
        channel=COMMAND,
        command=name,
        os_user=os_user,
        host=socket.gethostname(),
        request_id=uuid.uuid4().hex,
    )
