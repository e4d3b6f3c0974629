"""Domain names: a table of what registries accept and refuse."""

import pytest
from django.core.exceptions import ValidationError

from hosting.domains import to_unicode, validate_domain_name, validate_host_name

SOLD = {"com", "de", "co.uk", "xn--p1ai", "xn--fiqs8s", "jp"}
LABEL_63 = "a" * 63
NAME_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57]) + ".com"  # 253 characters
NAME_254 = "e" + NAME_253


@pytest.mark.parametrize(
    ("typed", "stored", "tld"),
    [
        ("example.com", "example.com", "com"),
        ("EXAMPLE.COM", "example.com", "com"),
        ("example.com.", "example.com", "com"),
        ("  example.com  ", "example.com", "com"),
        ("bücher.de", "xn--bcher-kva.de", "de"),
        ("BÜCHER.DE", "xn--bcher-kva.de", "de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de", "de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai", "xn--p1ai"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s", "xn--fiqs8s"),
        ("日本語.jp", "xn--wgv71a119e.jp", "jp"),
        ("example.co.uk", "example.co.uk", "co.uk"),
        (f"{LABEL_63}.com", f"{LABEL_63}.com", "com"),
        ("a-b.com", "a-b.com", "com"),
        ("1und1.de", "1und1.de", "de"),
    ],
)
def test_valid_domain_names_are_stored_as_lower_case_a_labels(typed, stored, tld):
    assert validate_domain_name(typed, sold_tlds=SOLD) == (stored, tld)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "empty"),
        (".", "empty"),
        ("a..com", "empty_label"),
        (".example.com", "empty_label"),
        (f"{'a' * 64}.com", "label_too_long"),
        (NAME_254, "name_too_long"),
        ("-example.com", "invalid_idna"),
        ("example-.com", "invalid_idna"),
        ("ex--ample.com", "invalid_idna"),
        ("exa_mple.com", "invalid_idna"),
        ("exa mple.com", "invalid_idna"),
        ("www.example.com", "not_registrable"),
        ("co.uk", "not_registrable"),
        ("example.zz", "unknown_suffix"),
        ("example.org", "tld_not_sold"),
        ("example.ac.uk", "tld_not_sold"),
    ],
)
def test_invalid_domain_names_are_refused_with_a_code(typed, code):
    with pytest.raises(ValidationError) as exc:
        validate_domain_name(typed, sold_tlds=SOLD)
    assert exc.value.code == code


def test_a_253_character_name_is_long_enough_but_not_registrable_here():
    # 253 is the limit for the whole name; this one has four labels before .com.
    with pytest.raises(ValidationError) as exc:
        validate_domain_name(NAME_253, sold_tlds=SOLD)
    assert exc.value.code == "not_registrable"
    assert len(NAME_253) == 253


def test_display_is_unicode():
    assert to_unicode("xn--bcher-kva.de") == "bücher.de"


@pytest.mark.parametrize("typed", ["ns1.example.net", "NS1.Example.NET.", "dns.bücher.de"])
def test_valid_name_servers(typed):
    assert validate_host_name(typed) == validate_host_name(typed).lower()


@pytest.mark.parametrize("typed", ["localhost", "ns1..example.net", "-ns.example.net"])
def test_invalid_name_servers(typed):
    with pytest.raises(ValidationError):
        validate_host_name(typed)


def test_host_names_of_253_characters_pass_and_254_fail():
    from hosting.domains import to_ascii

    assert to_ascii(NAME_253) == NAME_253
    assert to_ascii(NAME_253 + ".") == NAME_253  # the root dot does not count
    with pytest.raises(ValidationError) as exc:
        to_ascii(NAME_254)
    assert exc.value.code == "name_too_long"
