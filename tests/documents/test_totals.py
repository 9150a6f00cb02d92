"""The hub's money rule (webapp/documents/totals.py) and the amount in words."""

from collections import namedtuple
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.documents.amount_words import amount_in_words
from webapp.documents.totals import (
    VAT_RATES,
    LineAmounts,
    correction_totals,
    document_totals,
    line_amounts,
    money,
    normalise_rate,
    rate_percent,
    to_pln,
    vat_in_pln,
)

D = Decimal
Line = namedtuple("Line", "quantity unit_gross vat_rate")

# --- strategies -------------------------------------------------------------------------------

quantities = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)
prices = st.decimals(min_value=D("0.00"), max_value=D("100000"), places=2)
rates = st.sampled_from(list(VAT_RATES))
lines_strategy = st.lists(st.tuples(quantities, prices, rates), max_size=25)


def exact_vat(gross: Decimal, rate: str) -> Decimal:
    percent = rate_percent(rate)
    return gross * percent / (100 + percent)


# --- examples ---------------------------------------------------------------------------------


def test_money_rounds_half_up_and_away_from_zero():
    assert money(D("0.005")) == D("0.01")
    assert money(D("0.0049")) == D("0.00")
    assert money(D("2.675")) == D("2.68")  # a float would give 2.67
    assert money(D("-0.005")) == D("-0.01")
    assert money("12") == D("12.00")


@pytest.mark.parametrize("call", [
    lambda: money(0.1),
    lambda: line_amounts(1.5, D("1.00"), "23"),
    lambda: line_amounts(D("1"), 9.99, "23"),
    lambda: to_pln(D("1.00"), 4.32),
    lambda: document_totals([(D("1"), 2.5, "8")]),
])
def test_floats_are_refused(call):
    with pytest.raises(TypeError):
        call()


def test_line_amounts_compute_from_gross():
    # 2 × 12.34 = 24.68 gross; VAT 8% = 24.68 × 8/108 = 1.8281… -> 1.83
    expected = LineAmounts(net=D("22.85"), vat=D("1.83"), gross=D("24.68"))
    assert line_amounts(D("2"), D("12.34"), "8") == expected
    # the line gross is rounded before anything else: 1.5 × 4.99 = 7.485 -> 7.49
    assert line_amounts(D("1.5"), D("4.99"), "5").gross == D("7.49")


@pytest.mark.parametrize("rate", ["0", "zw", "np", "oo"])
def test_rates_without_tax_have_no_vat(rate):
    amounts = line_amounts(D("3"), D("33.33"), rate)
    assert amounts.vat == D("0.00")
    assert amounts.net == amounts.gross == D("99.99")


def test_rate_codes_and_labels():
    assert list(VAT_RATES) == ["23", "8", "5", "0", "zw", "np", "oo"]
    assert VAT_RATES["zw"] == "zw." and VAT_RATES["np"] == "np." and VAT_RATES["oo"] == "o.o."
    spellings = (23, "23%", " 8 ", "ZW", "o.o.", 0)
    assert [normalise_rate(r) for r in spellings] == ["23", "23", "8", "zw", "oo", "0"]
    with pytest.raises(ValueError):
        normalise_rate("7")


def test_per_rate_vat_is_printed_not_the_sum_of_line_vats():
    """Three 1.00 lines at 23%: each line's VAT rounds to 0.19 (Σ 0.57), but the VAT of the
    rate is computed once from 3.00 gross: 3 × 23/123 = 0.5609… -> 0.56. The document prints 0.56."""
    lines = [(D("1"), D("1.00"), "23")] * 3
    assert sum(line_amounts(*line).vat for line in lines) == D("0.57")
    totals = document_totals(lines)
    assert totals.rates[0].vat == D("0.56")
    assert (totals.net, totals.vat, totals.gross) == (D("2.44"), D("0.56"), D("3.00"))


def test_rows_come_in_print_order_and_only_for_used_rates():
    totals = document_totals([
        (D("1"), D("10.00"), "zw"),
        (D("1"), D("100.00"), "8"),
        (D("2"), D("61.50"), "23"),
        (D("1"), D("5.00"), "oo"),
    ])
    assert [row.rate for row in totals.rates] == ["23", "8", "zw", "oo"]
    assert [row.label for row in totals.rates] == ["23%", "8%", "zw.", "o.o."]
    assert totals.rate("23").vat == D("23.00")  # 123.00 × 23/123
    assert totals.rate("8").vat == D("7.41")
    assert totals.rate("5") is None
    assert totals.gross == D("238.00")


def test_lines_may_be_objects_or_tuples():
    as_tuples = [(D("2"), D("9.99"), "23"), (D("1"), D("4.50"), "5")]
    as_objects = [Line(*line) for line in as_tuples]
    assert document_totals(as_objects) == document_totals(as_tuples)


def test_empty_document_has_zero_totals():
    totals = document_totals([])
    assert totals.rates == ()
    assert (totals.net, totals.vat, totals.gross) == (D("0.00"), D("0.00"), D("0.00"))


def test_correction_example():
    before = [(D("2"), D("199.99"), "23"), (D("1"), D("39.90"), "5")]
    after = [(D("1"), D("199.99"), "23"), (D("1"), D("39.90"), "5")]
    result = correction_totals(before, after)
    diff_23 = result.difference.rate("23")
    # 399.98 -> VAT 74.79; 199.99 -> VAT 37.40; the difference is -37.39, not VAT(-199.99) = -37.40
    assert (diff_23.net, diff_23.vat, diff_23.gross) == (D("-162.60"), D("-37.39"), D("-199.99"))
    assert result.difference.rate("5").gross == D("0.00")
    assert result.difference.gross == D("-199.99")


def test_correction_with_a_rate_only_on_one_side():
    result = correction_totals([(D("1"), D("10.00"), "8")], [(D("1"), D("10.00"), "23")])
    assert [row.rate for row in result.difference.rates] == ["23", "8"]
    assert result.difference.rate("8").gross == D("-10.00")
    assert result.difference.rate("23").gross == D("10.00")
    assert result.difference.gross == D("0.00")


def test_vat_in_pln_for_a_euro_invoice():
    totals = document_totals([(D("3"), D("10.00"), "23"), (D("1"), D("5.55"), "8"), (D("1"), D("7"), "zw")])
    # VAT 5.61 EUR and 0.41 EUR at 4.3210 PLN/EUR: 24.240… -> 24.24, 1.771… -> 1.77; zw has no VAT row
    assert vat_in_pln(totals, D("4.3210")) == (("23", D("24.24")), ("8", D("1.77")))
    assert to_pln(D("100.00"), D("4.32105")) == D("432.11")


# --- properties -------------------------------------------------------------------------------


@given(lines_strategy)
def test_rate_gross_is_exactly_the_sum_of_line_grosses(lines):
    totals = document_totals(lines)
    for row in totals.rates:
        assert row.gross == sum(line_amounts(*line).gross for line in lines if line[2] == row.rate)
    assert {row.rate for row in totals.rates} == {line[2] for line in lines}


@given(lines_strategy)
def test_net_plus_vat_is_gross_per_rate_and_overall(lines):
    totals = document_totals(lines)
    for row in totals.rates:
        assert row.net + row.vat == row.gross
    assert totals.net + totals.vat == totals.gross
    assert totals.gross == sum(row.gross for row in totals.rates)
    assert totals.vat == sum(row.vat for row in totals.rates)
    for amount in (totals.net, totals.vat, totals.gross):
        assert amount == money(amount)  # whole grosze, nothing hidden below


@given(lines_strategy)
def test_rate_vat_is_within_half_a_grosz_of_the_exact_tax(lines):
    # One rounding per rate, so the error is at most 0.005; a per-line sum may drift by n × 0.005.
    for row in document_totals(lines).rates:
        assert abs(row.vat - exact_vat(row.gross, row.rate)) <= D("0.005")
        line_vats = [line_amounts(*line).vat for line in lines if line[2] == row.rate]
        assert abs(sum(line_vats) - row.vat) <= D("0.005") * (len(line_vats) + 1)


@given(st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=25).flatmap(
    lambda lines: st.tuples(st.just(lines), st.permutations(lines))))
def test_totals_do_not_depend_on_line_order(pair):
    lines, shuffled = pair
    assert document_totals(shuffled) == document_totals(lines)


@given(lines_strategy, lines_strategy)
def test_correction_difference_is_after_minus_before(before, after):
    result = correction_totals(before, after)
    assert result.before == document_totals(before)
    assert result.after == document_totals(after)
    for row in result.difference.rates:
        old, new = result.before.rate(row.rate), result.after.rate(row.rate)
        for field in ("net", "vat", "gross"):
            old_value = getattr(old, field) if old else D(0)
            new_value = getattr(new, field) if new else D(0)
            assert getattr(row, field) == new_value - old_value
    for field in ("net", "vat", "gross"):
        after_value, before_value = getattr(result.after, field), getattr(result.before, field)
        assert getattr(result.difference, field) == after_value - before_value


@given(lines_strategy)
def test_correcting_nothing_gives_a_zero_difference(lines):
    difference = correction_totals(lines, list(lines)).difference
    assert all(row.net == row.vat == row.gross == 0 for row in difference.rates)


@given(st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2),
       st.decimals(min_value=D("0.0001"), max_value=D("10"), places=4))
def test_to_pln_is_within_half_a_grosz(amount, exchange_rate):
    assert abs(to_pln(amount, exchange_rate) - amount * exchange_rate) <= D("0.005")


# --- amount in words --------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "currency", "words"), [
    ("123.45", "PLN", "sto dwadzieścia trzy złote 45/100"),
    ("1.00", "PLN", "jeden złoty 00/100"),
    ("5", "PLN", "pięć złotych 00/100"),
    ("12", "PLN", "dwanaście złotych 00/100"),
    ("22", "PLN", "dwadzieścia dwa złote 00/100"),
    ("0.99", "PLN", "zero złotych 99/100"),
    ("1000", "PLN", "tysiąc złotych 00/100"),
    ("1001", "PLN", "tysiąc jeden złotych 00/100"),
    ("2500", "PLN", "dwa tysiące pięćset złotych 00/100"),
    ("15000", "PLN", "piętnaście tysięcy złotych 00/100"),
    ("1234567.89", "PLN",
     "milion dwieście trzydzieści cztery tysiące pięćset sześćdziesiąt siedem złotych 89/100"),
    ("35.55", "EUR", "trzydzieści pięć euro 55/100"),
    ("2", "USD", "dwa dolary 00/100"),
    ("1", "CZK", "jedna korona 00/100"),
    ("22", "CZK", "dwadzieścia dwie korony 00/100"),
    ("100", "HUF", "sto HUF 00/100"),
    ("-12.30", "PLN", "minus dwanaście złotych 30/100"),
])
def test_amount_in_words(amount, currency, words):
    assert amount_in_words(D(amount), currency) == words
