import re

import pytest
from django.template import engines

from audit.forms import FeedFilterForm

pytestmark = pytest.mark.django_db


def _normal(html: str) -> str:
    return re.sub(r"\s*(<|>)\s*", r"\1", re.sub(r"\s+", " ", html)).strip()


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"since": "2026-01-02", "operation": "update", "unattributed": "on", "reason": "x"},
        {"ip": "not-an-ip", "object_id": "x", "action": "Bad!"},  # errors: crispy's own
    ],
)
def test_quick_field_writes_what_crispy_writes(data):
    engine = engines["django"]
    names = list(FeedFilterForm.base_fields)
    crispy = engine.from_string(
        "{% load crispy_forms_tags %}"
        + "".join(f"{{{{ form.{n}|as_crispy_field }}}}" for n in names)
    )
    quick = engine.from_string(
        "{% load fields %}" + "".join(f"{{{{ form.{n}|quick_field }}}}" for n in names)
    )
    expected = crispy.render({"form": FeedFilterForm(data)})
    assert _normal(quick.render({"form": FeedFilterForm(data)})) == _normal(expected)
