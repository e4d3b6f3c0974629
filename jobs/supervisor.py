"""``make run``'s processes: the development server in the foreground and a queue worker beside
it, stopped together (Ctrl-C, or the server exiting)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MANAGE = str(Path(__file__).resolve().parent.parent / "manage.py")
# Long enough for a job under way (a seal, an email) to finish; then the worker is killed.
STOP_TIMEOUT = 10


def worker_command(python: str = sys.executable) -> list[str]:
    return [python, MANAGE, "procrastinate", "worker"]


def server_command(address: str, python: str = sys.executable) -> list[str]:
    return [python, MANAGE, "runserver", address]


def stop(process: Any, *, timeout: float = STOP_TIMEOUT) -> None:
    """Ask the process to finish (SIGTERM: a worker finishes its job first), then kill it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_with_worker(
    server: Sequence[str],
    worker: Sequence[str],
    *,
    popen: Callable[..., Any] = subprocess.Popen,
) -> int:
    """Start the worker in the background, run the server in the foreground; when the server
    stops, on Ctrl-C (which reaches both: they share the terminal), or when this process is
    told to stop (SIGTERM, SIGHUP), stop both. Returns the server's exit status (0 when
    stopped)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    worker_process = popen(list(worker))
    server_process = None
    try:
        server_process = popen(list(server))
        return server_process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server_process is not None:
            stop(server_process)
        stop(worker_process)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
