"""Reset a staff member's second factor from the shell (when no Admin can: the only one lost
their phone). Recorded like the page's reset: action, reason, channel ``command``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accounts.services import reset_second_factor
from audit.management.base import AuditedCommand


class Command(AuditedCommand):
    help = "Remove a staff member's second factor; they enrol again at their next sign-in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            reset_second_factor(user=user, actor=None, reason=options["reason"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Second factor of {user.get_username()} reset; they enrol again.")
