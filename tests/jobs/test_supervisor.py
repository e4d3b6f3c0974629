"""``make run``'s supervisor: the worker starts before the server and stops with it."""

from __future__ import annotations

import subprocess
import sys

from jobs import supervisor


class FakeProcess:
    def __init__(self, command, events, *, exits=0, interrupted=False, stubborn=False):
        self.command, self.events = command, events
        self.exits, self.interrupted, self.stubborn = exits, interrupted, stubborn
        self.returncode = None

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        if self.interrupted:
            self.interrupted = False
            raise KeyboardInterrupt
        if self.returncode is None and self.stubborn and timeout is not None:
            raise subprocess.TimeoutExpired(self.command, timeout)
        if self.returncode is None and self.command[-1] != "worker":
            self.returncode = self.exits
        return self.returncode

    def terminate(self):
        self.events.append(("terminate", self.command[-1]))
        if not self.stubborn:
            self.returncode = -15

    def kill(self):
        self.events.append(("kill", self.command[-1]))
        self.returncode = -9


def _popen(events, **server_behaviour):
    def popen(command):
        events.append(("start", command[-1]))
        behaviour = server_behaviour if command[-1] != "worker" else {}
        return FakeProcess(command, events, **behaviour)

    return popen


def test_the_worker_starts_before_the_server_and_stops_when_it_exits():
    events = []
    status = supervisor.run_with_worker(
        supervisor.server_command("127.0.0.1:8000"),
        supervisor.worker_command(),
        popen=_popen(events, exits=3),
    )
    assert status == 3
    assert events == [("start", "worker"), ("start", "127.0.0.1:8000"), ("terminate", "worker")]


def test_ctrl_c_stops_both_and_is_a_clean_exit():
    events = []
    status = supervisor.run_with_worker(
        ["python", "manage.py", "runserver", "x"],
        ["python", "manage.py", "procrastinate", "worker"],
        popen=_popen(events, interrupted=True),
    )
    assert status == 0
    assert ("terminate", "x") in events and events[-1] == ("terminate", "worker")


def test_sigterm_to_the_supervisor_stops_both_then_its_handler_is_put_back():
    import os
    import signal

    events = []
    before = signal.getsignal(signal.SIGTERM)

    class Killed(FakeProcess):
        def wait(self, timeout=None):
            if self.returncode is None and self.command[-1] != "worker":
                os.kill(os.getpid(), signal.SIGTERM)  # `kill <pid of run_dev>`
            return super().wait(timeout)

    def popen(command):
        events.append(("start", command[-1]))
        return Killed(command, events)

    assert supervisor.run_with_worker(["server"], ["worker"], popen=popen) == 0
    assert events[-2:] == [("terminate", "server"), ("terminate", "worker")]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_worker_that_does_not_stop_is_killed():
    events = []
    stubborn = FakeProcess(["w", "worker"], events, stubborn=True)
    supervisor.stop(stubborn, timeout=0.01)
    assert events == [("terminate", "worker"), ("kill", "worker")]


def test_the_commands_are_this_projects_manage_py_with_this_python():
    assert supervisor.worker_command() == [
        sys.executable,
        supervisor.MANAGE,
        "procrastinate",
        "worker",
    ]
    assert supervisor.server_command("0.0.0.0:9000")[-2:] == ["runserver", "0.0.0.0:9000"]
    assert supervisor.MANAGE.endswith("manage.py")


def test_real_processes_the_worker_is_stopped_when_the_server_exits():
    processes = {}

    def popen(command):
        code = "import time; time.sleep(30)" if command == ["worker"] else "raise SystemExit(0)"
        processes[command[0]] = subprocess.Popen([sys.executable, "-c", code])
        return processes[command[0]]

    assert supervisor.run_with_worker(["server"], ["worker"], popen=popen) == 0
    assert processes["worker"].poll() is not None  # terminated, not left behind
