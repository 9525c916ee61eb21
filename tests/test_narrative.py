"""nscore.report.narrative: the data-dependent words of the chapters, on edge cases (0, 1, 2, many; NaN;
None; ties) and, where a property says more than examples, with hypothesis."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nscore.report import narrative as nv
from nscore.report import tables
from nscore.analyses.efficacy import proportion
from nscore.report import format as fmt
from nscore.report.format import percent as format_percent

# ------------------------------------------------------------------------------ plural and count


@pytest.mark.parametrize("word, expected", [
    ("trial", "trials"), ("diagnosis", "diagnoses"), ("therapy", "therapies"), ("day", "days"),
    ("box", "boxes"), ("patch", "patches"), ("dose level", "dose levels"), ("death", "deaths"),
])
def test_plural_regular_rules(word, expected):
    assert nv.plural(word) == expected


@pytest.mark.parametrize("n, expected", [(0, "no trials"), (1, "1 trial"), (2, "2 trials"),
                                         (334, "334 trials"), (1000000, "1000000 trials")])
def test_count_zero_one_two_many(n, expected):
    assert nv.count(n, "trial") == expected


def test_count_explicit_plural_and_zero_word():
    assert nv.count(3, "diagnosis") == "3 diagnoses"
    assert nv.count(2, "patient in CR", "patients in CR") == "2 patients in CR"
    assert nv.count(1, "patient in CR", "patients in CR") == "1 patient in CR"
    assert nv.count(0, "trial", zero=None) == "0 trials"
    assert nv.count(0, "patient", zero="none of the") == "none of the patients"


def test_count_accepts_numpy_and_whole_floats():
    assert nv.count(np.int64(5), "trial") == "5 trials"
    assert nv.count(1.0, "trial") == "1 trial"


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, ValueError), (math.nan, ValueError),
                                        (math.inf, ValueError), (None, TypeError), (True, TypeError)])
def test_count_refuses_what_is_not_a_count(bad, error):
    with pytest.raises(error):
        nv.count(bad, "trial")


@given(st.integers(min_value=0, max_value=10**9))
def test_count_digits_are_the_number(n):
    text = nv.count(n, "trial", zero=None)
    assert text == f"{n} {'trial' if n == 1 else 'trials'}"
    assert nv.count(n, "trial").startswith("no " if n == 0 else str(n))


# ---------------------------------------------------------------------------------------- join


@pytest.mark.parametrize("items, expected", [
    ([], ""), (["A"], "A"), (["A", "B"], "A and B"), (["A", "B", "C"], "A, B and C"),
    (["A", "B", "C", "D"], "A, B, C and D"),
])
def test_join(items, expected):
    assert nv.join(items) == expected


def test_join_conj_and_non_text_items():
    assert nv.join(["CR", "CRi", "PR"], "or") == "CR, CRi or PR"
    assert nv.join(x for x in (1, 2)) == "1 and 2"


@given(st.lists(st.text(alphabet="abcXYZ-", min_size=1, max_size=5), max_size=8))
def test_join_keeps_every_item_in_order(items):
    text = nv.join(items)
    pos = 0
    for item in items:
        pos = text.index(item, pos) + len(item)
    assert text.count(" and ") == (1 if len(items) >= 2 else 0) + sum(" and " in i for i in items)


def test_sentence_and_capitalize():
    assert nv.capitalize("iCANS data") == "ICANS data"
    assert nv.capitalize("") == ""
    assert nv.sentence("adverse events not collected") == "Adverse events not collected."
    assert nv.sentence("", "  ") == ""
    assert nv.sentence("one", "", "two.") == "One two."


# --------------------------------------------------------------------------------- comparisons


def test_compare_rates_directions_and_tie():
    assert nv.compare_rates((5, 100), (50, 100)) == "less common than"
    assert nv.compare_rates((50, 100), (5, 100)) == "more common than"
    assert nv.compare_rates((1, 2), (2, 4)) == "as common as"          # equal fractions
    assert nv.compare_rates((0, 5), (0, 9)) == "as common as"          # none on either side
    assert nv.compare_rates((5, 5), (9, 9)) == "as common as"


def test_compare_rates_ties_as_printed():
    """41/333 and 37/300 both print 12.3%: the sentence must not call one less common."""
    assert format_percent(41, 333) == format_percent(37, 300) == "12.3%"
    assert nv.compare_rates((41, 333), (37, 300)) == "as common as"
    assert nv.compare_rates((41, 333), (37, 300), digits=None) == "less common than"
    assert nv.compare_rates((41, 333), (37, 300), digits=2) == "less common than"


def test_compare_rates_takes_proportions_and_custom_words():
    a, b = proportion(3, 334), proportion(300, 334)
    assert nv.compare_rates(a, b) == "less common than"
    assert nv.compare_rates(a, b, less="rarer than") == "rarer than"
    assert nv.compare_rates(a, b, far="far") == "far less common than"
    assert nv.compare_rates(b, a, far="far") == "far more common than"


def test_compare_rates_far_only_without_interval_overlap():
    # 10/20 vs 12/20: overlapping exact intervals -> no qualifier
    assert nv.compare_rates((10, 20), (12, 20), far="far") == "less common than"
    # pairs: intervals computed with the book's exact method
    assert proportion(1, 100).upper < proportion(60, 100).lower
    assert nv.compare_rates((1, 100), (60, 100), far="far") == "far less common than"
    assert nv.compare_rates((0, 5), (0, 9), far="far") == "as common as"  # never on a tie


@pytest.mark.parametrize("a, b, error", [
    ((1, 0), (1, 2), ValueError), ((0, 0), (0, 0), ValueError), ((3, 2), (1, 2), ValueError),
    (None, (1, 2), TypeError), ((1, 2), None, TypeError), ("ab", (1, 2), TypeError),
    ((-1, 2), (1, 2), ValueError), ((1.5, 2), (1, 2), ValueError),
])
def test_compare_rates_refuses_undefined_rates(a, b, error):
    with pytest.raises(error):
        nv.compare_rates(a, b)


def test_compare_if_collected():
    assert nv.compare_if_collected(None, (1, 2)) == "not comparable"
    assert nv.compare_if_collected((1, 2), None) == "not comparable"
    assert nv.compare_if_collected((0, 0), (1, 2)) == "not comparable"
    assert nv.compare_if_collected(proportion(1, 2), (0, 0), not_comparable="n.c.") == "n.c."
    assert nv.compare_if_collected((1, 10), (5, 10)) == "less common than"
    assert nv.compare_if_collected((1, 10), (5, 10), less="rarer than") == "rarer than"


pairs = st.integers(min_value=1, max_value=500).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n)))


@settings(max_examples=300)
@given(pairs, pairs)
def test_compare_rates_never_contradicts_the_printed_numbers(a, b):
    word = nv.compare_rates(a, b)
    pa, pb = (Fraction(format_percent(*p).rstrip("%")) for p in (a, b))
    expected = "as common as" if pa == pb else "more common than" if pa > pb else "less common than"
    assert word == expected
    # antisymmetric
    flipped = nv.compare_rates(b, a)
    assert {word, flipped} in ({"as common as"}, {"more common than", "less common than"})


@given(pairs, pairs)
def test_compare_rates_exact_agrees_with_fractions(a, b):
    word = nv.compare_rates(a, b, digits=None)
    fa, fb = Fraction(*a), Fraction(*b)
    assert word == ("as common as" if fa == fb else "more common than" if fa > fb else "less common than")


# ------------------------------------------------------------------------------- median phrase


def test_median_phrase_reuses_the_formatter():
    assert nv.median_phrase(547, 480, math.inf) == fmt.median(547, 480, math.inf) \
        == "18.0 months (95% CI 15.8\u2013NR)"
    assert nv.median_phrase(30, 20, 41, unit="days") == "30 days (95% CI 20\u201341)"
    assert nv.median_phrase(91.3125, 60.875, 121.75, unit="months") == "3.0 months (95% CI 2.0\u20134.0)"


def test_median_phrase_not_reached():
    assert nv.median_phrase(math.inf, 900, math.inf) == "not reached (95% CI 29.6\u2013NR)"
    assert nv.median_phrase(math.inf, math.inf, math.inf) == \
        "not reached, nor was the lower limit of its 95% CI"
    assert nv.median_phrase(math.inf, math.nan, math.nan) == "not reached (95% CI not estimable)"


def test_median_phrase_not_estimable_and_nan_convention():
    assert nv.median_phrase(math.nan, math.nan, math.nan) == "not estimable"
    assert nv.median_phrase(None, None, None) == "not estimable"
    # headline stores "not reached" as NaN
    assert nv.median_phrase(math.nan, 900, math.nan, nan_is_not_reached=True) == \
        "not reached (95% CI 29.6\u2013NR)"
    assert nv.median_phrase(math.nan, math.nan, math.nan, nan_is_not_reached=True) == \
        "not reached, nor was the lower limit of its 95% CI"
    assert nv.median_phrase(412, 300, math.nan, nan_is_not_reached=True) == "13.5 months (95% CI 9.9\u2013NR)"


@given(st.floats(min_value=0, max_value=5000, allow_nan=False),
       st.sampled_from([math.inf, math.nan]) | st.floats(min_value=0, max_value=5000))
def test_median_phrase_never_says_na(median, upper):
    text = nv.median_phrase(median, median / 2, upper)
    assert "n/a" not in text and "nan" not in text.lower() and "inf" not in text


# ---------------------------------------------------------------------------------- events


@pytest.mark.parametrize("n, expected", [(0, "no deaths"), (1, "1 death"), (12, "12 deaths")])
def test_events_phrase(n, expected):
    assert nv.events_phrase(n, "death") == expected


def test_events_phrase_irregular_plural():
    what, whats = "relapse or progression", "relapses or progressions"
    assert nv.events_phrase(0, what, whats) == "no relapses or progressions"
    assert nv.events_phrase(1, what, whats) == "1 relapse or progression"
    assert nv.events_phrase(3, what, whats) == "3 relapses or progressions"


# ---------------------------------------------------------------------------------- groups


def test_groups_sentence_by_number_of_groups():
    assert nv.groups_sentence(5, "diagnosis") == "The smaller groups carry wide uncertainty."
    assert nv.groups_sentence(2, "diagnosis") == "The smaller groups carry wide uncertainty."
    assert nv.groups_sentence(1, "diagnosis") == "Only one diagnosis: no comparison."
    assert nv.groups_sentence(0, "diagnosis") == ""
    assert nv.groups_sentence(1, "diagnosis", single=None) == ""
    assert nv.groups_sentence(0, "dose level", none="No dose levels recorded.") == "No dose levels recorded."


def test_groups_sentence_placeholders():
    s = "The {n} {whats} are shown side by side."
    assert nv.groups_sentence(3, "diagnosis", s) == "The 3 diagnoses are shown side by side."
    assert nv.groups_sentence(2, "man", s, plural="men") == "The 2 men are shown side by side."
    with pytest.raises(ValueError):
        nv.groups_sentence(-1, "diagnosis")


# ------------------------------------------------------------- none, unknown, not collected


def test_none_unknown_not_collected_read_differently():
    none, unk, nc = nv.count(0, "patient"), nv.unknown(3), nv.not_collected("adverse events")
    assert (none, unk, nc) == ("no patients", "unknown for 3 patients", "adverse events not collected")
    for text in (none, unk, nc):
        assert "0%" not in text and "n/a" not in text and "0 " not in text


def test_unknown_counts():
    assert nv.unknown(0) == ""
    assert nv.unknown(1) == "unknown for 1 patient"
    assert nv.unknown(2, "patient in CR", "patients in CR") == "unknown for 2 patients in CR"
    with pytest.raises(TypeError):
        nv.unknown(None)
    with pytest.raises(ValueError):
        nv.not_collected("")


def test_directive_builds_a_myst_block():
    from nscore.report.narrative import directive

    assert directive("glue:figure", "fig_km", "Survival.", name="fig-km") == (
        "```{glue:figure} fig_km\n:name: fig-km\n\nSurvival.\n```")


def test_md_joins_non_empty_blocks():
    from nscore.report.narrative import md

    assert md("A.", "", "  ", "B.").data == "A.\n\nB."
