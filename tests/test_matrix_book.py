"""The data matrix of issue 11: the whole book built (``-W``) on every matrix cohort, and what its pages say.

For each cohort of ``tests/matrix`` (``COHORTS``) a throw-away copy of the project holds only that
cohort (stored with ``nscore.data.versions.store``; ``shipped`` keeps the two shipped cutoffs), the
pipeline builds it with every chapter executed (``matrix.book.book_for``, once per cohort and
session, build time printed), and the assertions below read the visible text of every page of the
root site. A failure lists each offending (page, sentence).

Assertions on every cohort:
- the book builds (no chapter raises, no Sphinx warning);
- "simulated" appears on no page when no stored cutoff is simulated (``source.json``), and the
  landing page says "simulated" when the cutoff it shows is;
- no "0 of 0" (or "0/0"): a count out of nothing;
- no "n/a", "nan"/"NaN" or "NaT": a missing value printed instead of a sentence;
- no "1 trials"/"1 diagnoses"/"1 patients"-style plural after a count of one (over ``COUNT_NOUNS``);
- no "None" (the Python value; "None of ..." is English and allowed);
- no traceback, exception name or "error:" text.
"""

from __future__ import annotations

import re

import pytest

from matrix import COHORTS
from matrix.book import book_for, find
from matrix.convert_myeloid import RNotAvailable

pytestmark = pytest.mark.slow


#: Nouns a count of one must not be followed by in the plural (the prose's countable things).
COUNT_NOUNS = (
    "patients", "subjects", "cases", "males", "females", "trials", "studies", "diagnoses", "diseases",
    "cutoffs", "versions", "cohorts", "events", "deaths", "relapses", "progressions", "responders",
    "responses", "transplants", "infusions", "groups", "subgroups", "figures", "tables", "syndromes",
    "categories", "levels", "dose levels", "days", "weeks", "months", "years", "warnings", "rows",
)
#: A count of one: the digit 1 not inside a larger number or decimal ("2.1 years", "11 days"), or "one".
WRONG_PLURAL = re.compile(r"(?<![0-9.,])(?:\b1|\b[Oo]ne) (?:" + "|".join(COUNT_NOUNS) + r")\b")
EMPTY_RATIO = re.compile(r"(?<![0-9.,])\b0 of 0\b|(?<![0-9.,])\b0/0\b")
MISSING_VALUE = re.compile(r"(?<![A-Za-z/])n/a\b|\b(?:nan|NaN|NAN|NaT)\b", re.IGNORECASE)
PY_NONE = re.compile(r"\bNone\b(?! of\b)")
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|(?i:\berror:)")


@pytest.fixture(scope="module", params=list(COHORTS))
def book(request):
    """The book built on one cohort (module scope: one build per cohort; ``book_for`` caches it)."""
    try:
        return book_for(request.param)
    except RNotAvailable as exc:  # myeloid, mgus2 need Rscript with survival
        pytest.skip(str(exc))


def site(book):
    """The pages of a built book; the test fails (not errors) with the build's message otherwise."""
    if book.error is not None:
        pytest.fail(f"the book did not build on {book.cohort}: {book.error}")
    assert book.pages and "index.html" in book.pages, f"{book.cohort}: no landing page"
    return book.pages


def report(hits: list[tuple[str, str]], what: str, cohort: str, limit: int = 25) -> str:
    lines = [f"{cohort}: {len(hits)} sentence(s) with {what}:"]
    lines += [f"  {page}: {sentence[:300]}" for page, sentence in hits[:limit]]
    if len(hits) > limit:
        lines.append(f"  ... {len(hits) - limit} more")
    return "\n".join(lines)


def test_book_builds(book):
    assert book.error is None, f"{book.cohort}: {book.error}"
    print(f"{book.cohort}: {book.seconds:.1f} s, {len(book.pages)} pages")


def test_simulated_only_where_the_data_are(book):
    pages = site(book)
    if not any(book.simulated.values()):
        hits = find(pages, r"(?i)\bsimulated\b")
        assert not hits, report(hits, '"simulated" although no stored cutoff is', book.cohort)
    if book.newest_simulated:
        assert re.search(r"(?i)\bsimulated\b", pages["chapters/index.html"]), \
            f"{book.cohort}: the landing page does not say the data are simulated"


def test_no_count_out_of_nothing(book):
    hits = find(site(book), EMPTY_RATIO)
    assert not hits, report(hits, '"0 of 0" or "0/0"', book.cohort)


def test_no_missing_value_printed(book):
    hits = find(site(book), MISSING_VALUE)
    assert not hits, report(hits, '"n/a", "nan" or "NaT"', book.cohort)


def test_no_plural_after_one(book):
    hits = find(site(book), WRONG_PLURAL)
    assert not hits, report(hits, "a plural after a count of one", book.cohort)


def test_no_python_none(book):
    hits = find(site(book), PY_NONE)
    assert not hits, report(hits, '"None"', book.cohort)


def test_no_error_text(book):
    hits = find(site(book), ERROR_TEXT)
    assert not hits, report(hits, "a traceback, an exception name or \"error:\"", book.cohort)


#: What each cohort's pages must say: (page, pattern) pairs, each the data-dependent sentence that
#: a fixed text would get wrong on that cohort. Pages: chapters/<name>.html.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "shipped": [
        ("chapters/results.html", r"all 29 figures match"),
        ("chapters/safety.html", r"ICANS\) was far less common than CRS"),
        ("chapters/background.html", r"in 5 registered trials"),
        ("chapters/changes.html", r"hold the same 334 patients"),
    ],
    "mgus2": [
        ("chapters/results.html", r"No patient was evaluable for response"),
        ("chapters/results.html", r"Transplants were not collected"),
        ("chapters/results.html", r"holds no published figures, so there is nothing to compare"),
        ("chapters/safety.html", r"Adverse events were not collected in this delivery"),
        ("chapters/background.html", r"1 trial\b"),
        ("chapters/methods.html", r"not used by any analysis"),
    ],
    "no_adverse_events": [
        ("chapters/safety.html", r"Adverse events were not collected in this delivery"),
        ("chapters/index.html", r"Adverse events were not collected"),
    ],
    "tiny_censored": [
        ("chapters/results.html", r"No deaths were observed"),
        ("chapters/results.html", r"not reached"),
        ("chapters/results.html", r"no cumulative incidence of relapse to estimate"),
    ],
    "one_diagnosis": [
        ("chapters/results.html", r"All patients had the same diagnosis"),
        ("chapters/results.html", r"the table has no column by diagnosis"),
    ],
    "no_transplant": [
        ("chapters/results.html", r"No patient was transplanted during follow-up"),
    ],
    "myeloid": [
        ("chapters/results.html", r"transplanted on or before the date of the remission"),
        ("chapters/results.html", r"MRD status was not collected"),
    ],
}
#: Wrong on every cohort of the matrix: phrases of the NS7CAR text that no longer hold.
NEVER: dict[str, list[str]] = {
    "mgus2": [r"\bNS7CAR-T\b", r"\bfive\b trials", r"\b0\.0% \(0/", r"less common"],
    "myeloid": [r"\bfive\b trials", r"less common"],
    "no_adverse_events": [r"less common", r"CRS began"],
}


def test_cohort_sentences_say_what_the_data_say(book):
    """The sentences the issue names, per cohort: each must be there, in its page."""
    pages = site(book)
    missing = [(page, rx) for page, rx in EXPECTED.get(book.cohort, [])
               if not re.search(rx, pages.get(page, ""))]
    assert not missing, f"{book.cohort}: expected sentences not found: {missing}"
    wrong = [hit for rx in NEVER.get(book.cohort, []) for hit in find(pages, rx)]
    assert not wrong, report(wrong, "NS7CAR text that is false for these data", book.cohort)


COMPARISON = re.compile(r"(?P<a>\([A-Z]+\)|[A-Z]{3,}) was (?:far )?(?P<word>less|more) common than (?P<b>[A-Z]{3,})"
                        r".*?occurring in (?P<pa>[0-9.]+)%")


def test_no_comparison_that_the_numbers_contradict(book):
    """"X was less common than CRS, occurring in p%": p must be below the CRS rate on that page."""
    pages = site(book)
    for page, text in pages.items():
        for m in COMPARISON.finditer(text.replace("\n", " ")):
            b = m.group("b")
            rate_b = re.search(rf"{b}\)? of any grade occurred in (?P<p>[0-9.]+)%", text.replace("\n", " "))
            assert rate_b, f"{book.cohort} {page}: no {b} rate to compare with"
            a, pb = float(m.group("pa")), float(rate_b.group("p"))
            assert (a < pb) if m.group("word") == "less" else (a > pb), \
                f"{book.cohort} {page}: '{m.group(0)[:120]}' but {b} is {pb}%"


# ------------------------------------------------------------------------------------------------
# the patterns themselves (fast)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, hit", [
    ("spread over the 1 trials and the 1 diagnoses", True),
    ("one patients", True),
    ("1 patient and 2 trials", False),
    ("2.1 years", False),
    ("11 days", False),
    ("in 1 of 3 patients", False),
    ("1 dose levels", True),
])
def test_wrong_plural_pattern(text, hit):
    assert bool(WRONG_PLURAL.search(text)) is hit


@pytest.mark.parametrize("pattern, text, hit", [
    (EMPTY_RATIO, "0 of 0 figures match", True),
    (EMPTY_RATIO, "10 of 0", False),
    (EMPTY_RATIO, "0.0% (0/0)", True),
    (EMPTY_RATIO, "0 of 10", False),
    (MISSING_VALUE, "a median of n/a days", True),
    (MISSING_VALUE, "median nan days", True),
    (MISSING_VALUE, "NaN", True),
    (MISSING_VALUE, "financial", False),
    (PY_NONE, "MRD status None", True),
    (PY_NONE, "None of the patients", False),
    (ERROR_TEXT, "KeyError: 'AGE'", True),
    (ERROR_TEXT, "standard error of the mean", False),
    (ERROR_TEXT, "Error: no such column", True),
    (ERROR_TEXT, "Errors were reported", False),
])
def test_text_patterns(pattern, text, hit):
    assert bool(pattern.search(text)) is hit
