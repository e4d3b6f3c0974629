"""Totals and taxes against worked examples (each computed by hand)."""

from decimal import Decimal as D

import pytest

from billing.totals import Line, TaxRates, compute_totals

VAT20 = TaxRates("VAT", D("20"))
GST5_PST7 = TaxRates("GST", D("5"), "PST", D("7"))
GST5_QST9975_COMPOUND = TaxRates("GST", D("5"), "QST", D("9.975"), tax2_compound=True)

# (lines as (quantity, unit price, taxed), rates, rounding, subtotal, tax1, tax2, total)
EXAMPLES = [
    # Plain: 2 x 10.00 at 20 %.
    ([("2", "10.00", True)], VAT20, "invoice", "20.00", "4.00", "0.00", "24.00"),
    # Half a cent rounds up: 0.025 → 0.03 (never banker's 0.02).
    ([("1", "0.125", True)], VAT20, "invoice", "0.13", "0.03", "0.00", "0.16"),
    # Fractional quantity: 1.5 h x 33.33 = 49.995 → 50.00; VAT 10.00.
    ([("1.5", "33.33", True)], VAT20, "invoice", "50.00", "10.00", "0.00", "60.00"),
    # Per-invoice vs per-line rounding differ: three lines of 0.10 at 5 %...
    ([("1", "0.10", True)] * 3, TaxRates("T", D("5")), "invoice", "0.30", "0.02", "0.00", "0.32"),
    # ... per line each 0.005 rounds up to 0.01: 0.03 in tax.
    ([("1", "0.10", True)] * 3, TaxRates("T", D("5")), "line", "0.30", "0.03", "0.00", "0.33"),
    # Untaxed lines carry no tax.
    (
        [("1", "100.00", True), ("1", "50.00", False)],
        VAT20,
        "invoice",
        "150.00",
        "20.00",
        "0.00",
        "170.00",
    ),
    # Two separate taxes on the same base: 100 → GST 5.00, PST 7.00.
    ([("1", "100.00", True)], GST5_PST7, "invoice", "100.00", "5.00", "7.00", "112.00"),
    # Compound: QST on 100 + 5 = 105 x 9.975 % = 10.47375 → 10.47.
    (
        [("1", "100.00", True)],
        GST5_QST9975_COMPOUND,
        "invoice",
        "100.00",
        "5.00",
        "10.47",
        "115.47",
    ),
    # Compound per line: 2 lines of 10.05; GST 0.5025→0.50 each; QST (10.55 x 9.975 %)
    # = 1.0523625 → 1.05 each.
    (
        [("1", "10.05", True)] * 2,
        GST5_QST9975_COMPOUND,
        "line",
        "20.10",
        "1.00",
        "2.10",
        "23.20",
    ),
    # Tax-exempt client: rates are zero.
    ([("3", "9.99", True)], TaxRates(), "invoice", "29.97", "0.00", "0.00", "29.97"),
    # A discount line reduces the taxed base.
    (
        [("1", "100.00", True), ("1", "-10.00", True)],
        VAT20,
        "invoice",
        "90.00",
        "18.00",
        "0.00",
        "108.00",
    ),
    # Many small quantities: 0.3333 x 3.00 = 0.9999 → 1.00.
    ([("0.3333", "3.00", True)], VAT20, "line", "1.00", "0.20", "0.00", "1.20"),
]


@pytest.mark.parametrize(
    ("lines", "rates", "rounding", "subtotal", "tax1", "tax2", "total"), EXAMPLES
)
def test_totals_match_the_worked_example(lines, rates, rounding, subtotal, tax1, tax2, total):
    result = compute_totals([Line(D(q), D(p), t) for q, p, t in lines], rates, rounding=rounding)
    assert (result.subtotal, result.tax1, result.tax2, result.total) == (
        D(subtotal),
        D(tax1),
        D(tax2),
        D(total),
    )


def test_totals_refuse_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding"):
        compute_totals([Line(D(1), D(1))], VAT20, rounding="banker")
