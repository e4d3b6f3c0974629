import pytest
from django import forms

from core.forms import QuickSelect

CHOICES = [
    ("", "Any"),
    ("a", "Plain"),
    ("<b>", 'Needs "escaping" & more'),
    ("Group", [("g1", "In a group"), ("g2", "Also <in> it")]),
    (3, "A number"),
]


@pytest.mark.parametrize("value", [None, "", "a", "<b>", "g2", 3, "3", "missing"])
@pytest.mark.parametrize(
    "attrs", [None, {"class": "form-select", "id": "id_x", "disabled": True, "hidden": False}]
)
def test_quick_select_writes_the_same_html_as_djangos_templates(value, attrs):
    expected = forms.Select(choices=CHOICES).render("x", value, attrs=attrs)
    assert QuickSelect(choices=CHOICES).render("x", value, attrs=attrs) == expected
