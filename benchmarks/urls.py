"""The benchmark's URL configuration: the project's, plus the floor views under ``/_floor/``
(``benchmarks/scenarios/floor.py``). Set only by ``benchmarks.config.setup_django``."""

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path

from benchmarks.scenarios.floor import FLOORS

urlpatterns = [
    *(path(f"_floor/{name}/", staff_member_required(view)) for name, view in FLOORS.items()),
    path("", include("whmcs_manual.urls")),
]
