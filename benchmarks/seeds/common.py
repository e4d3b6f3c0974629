"""What every seed shares."""

from __future__ import annotations

import json
import uuid


def set_seed_context(cur) -> None:
    # With a context set, the capture triggers take their fast path (no exception block per
    # row), as they do inside any request or command.
    cur.execute(
        "SELECT set_config('pghistory.context_id', %s, true),"
        " set_config('pghistory.context_metadata', %s, true)",
        [str(uuid.uuid4()), json.dumps({"channel": "command", "command": "bench-seed"})],
    )
