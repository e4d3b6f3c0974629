"""What every scenario shares: the logged-in test client, the iterations, and the rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.config import BUSY_CLIENT_ID, login
from benchmarks.measure import measure


class Bench:
    """One run: requests go through Django's test client in-process, logged in as a staff
    admin; ``shared`` holds measurements other apps' rows use as their baseline."""

    def __init__(self, iterations: int) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client as HttpClient

        self.iterations = iterations
        self.user = get_user_model().objects.get(username="bench-staff-0")
        self.actor = get_user_model().objects.get(username="bench-staff-3")
        self.http = login(HttpClient(), self.user)
        self.run_id = uuid.uuid4().hex[:8]
        self.busy = f"/clients/{BUSY_CLIENT_ID}/"
        self.shared: dict[str, dict] = {}

    def get(self, url: str) -> Callable[[int], object]:
        def call(_: int) -> None:
            response = self.http.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        return call

    def time(self, label: str, url: str) -> dict[str, float]:
        """The median and p95 of ``iterations`` GETs of ``url``."""
        return measure(label, self.get(url), self.iterations)


def row(name: str, ours: dict, base: dict | None, note: str = "") -> dict[str, Any]:
    """One line of the table: our page and its baseline."""
    return {**ours, "name": name, "baseline": base, "note": note}


def deeper(deep: dict, first: dict) -> str:
    return f"{deep['median'] / first['median']:.2f}x page 1"
