from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jobs.supervisor import run_with_worker, server_command, worker_command


class Command(BaseCommand):
    help = (
        "Development: runserver in the foreground and a queue worker (manage.py procrastinate "
        "worker) beside it, which runs the periodic tasks; Ctrl-C stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, address: str, **options: Any) -> None:
        status = run_with_worker(server_command(address), worker_command())
        if status:
            raise SystemExit(status)
