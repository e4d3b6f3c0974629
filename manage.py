#!/usr/bin/env python
"""Django's command-line utility, with every command's writes attributed in the audit trail."""

import os
import sys

# Commands that serve requests or run tests open their own contexts (or none) per request;
# the queue's worker (``procrastinate``) opens the command's context per job (jobs/queue.py).
UNWRAPPED = {
    "runserver",
    "test",
    "help",
    "check",
    "makemigrations",
    "collectstatic",
    "version",
    "procrastinate",
}
# Commands that change the schema connect as its owner (DATABASE_OWNER_URL); everything else,
# the server included, as the app's role (DATABASE_URL), which cannot touch a trigger.
OWNER_COMMANDS = {"migrate"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whmcs_manual.settings")
    from django.core.management import execute_from_command_line

    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in OWNER_COMMANDS:
        os.environ["WHMCS_DB_AS_OWNER"] = "1"
    if command in UNWRAPPED or command.startswith("-"):
        execute_from_command_line(sys.argv)
        return

    import django

    django.setup()
    from audit.context import command_context

    # Writes from the shell, migrate, loaddata, createsuperuser... are recorded with channel
    # "command", the command name and the operating-system user.
    with command_context(command):
        try:
            execute_from_command_line(sys.argv)
        finally:
            if command in OWNER_COMMANDS:
                # A migration that failed halfway must not leave pgtrigger's original ignore
                # check (each trigger installation restores it) nor new tables ungranted.
                from audit.db import apply_grants_and_hardening

                apply_grants_and_hardening()


if __name__ == "__main__":
    main()
