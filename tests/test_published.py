"""The abstract's figures (the ``published`` block of data/study.yml) and their reproduction.

Published values are copied from the abstract (ASH 2025, Zhang X, Lu P et al., bib key
``zhang2025ash``); each figure quotes the abstract's sentence it comes from (``sentence``), so the
tests below check every value against its source text inside the repository: a typo in
``data/study.yml`` cannot slip through, and the check runs wherever the tests run.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
import yaml

from nscore.analyses import published as pub
from nscore.data.study import parse_study, read_study, value_in_sentence
from nscore.errors import DataValidationError
from cohorts import ROOT

STUDY_YML = ROOT / "data" / "study.yml"
PUBLISHED = read_study(STUDY_YML).published
NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def test_published_cutoff():
    assert PUBLISHED.cutoff == date(2025, 8, 1)
    assert PUBLISHED.source == "zhang2025ash"


def test_every_figure_names_a_statistic_with_ard_rows():
    assert {f.statistic for f in PUBLISHED.figures} <= set(pub.ARD_MAP)


def test_the_analyses_make_no_text():
    """Published versus reproduced is a join of numbers: no text-making path is left in the module."""
    for name in ("STATISTICS", "reproduction_table", "SharedCohort", "observed_time"):
        assert not hasattr(pub, name), name


def test_keys_unique_and_complete():
    keys = [f.key for f in PUBLISHED.figures]
    assert len(keys) == len(set(keys))
    for k in ("n_patients", "diag_tall", "diag_tlbl", "diag_mpal", "diag_aml", "diag_ptcl", "age", "male",
              "female", "prior_hct", "prior_hct_2", "blasts_20", "dose_levels", "median_dose", "n_evaluable",
              "orr", "cr_cri", "hct", "hct_interval", "pfs_median_observed", "os_median_observed", "crs",
              "crs_g12", "crs_g3", "icans", "icans_g12", "icans_g3"):
        assert k in keys


def test_every_figure_quotes_the_sentence_it_comes_from():
    """Each figure has its sentence, and the sentence prints the figure's value."""
    missing = [f.key for f in PUBLISHED.figures if not f.sentence]
    assert missing == []
    wrong = [(f.key, f.value) for f in PUBLISHED.figures if not value_in_sentence(f.value, f.sentence)]
    assert wrong == []


def test_every_number_of_the_quoted_sentences_is_a_figure():
    """No number of the quoted Results is left without a figure reproducing it."""
    sentences = {f.sentence for f in PUBLISHED.figures}
    numbers = set()
    for sentence in sentences:
        numbers |= set(NUMBER.findall(sentence.replace("Eighty-eight", "88").replace("four cases", "4 cases")))
    covered = set()
    for f in PUBLISHED.figures:
        covered |= set(NUMBER.findall(f.value))
    # not figures: "CD7", grade >=3 (1 and 2 are in other values), the >=20% blast threshold
    assert numbers - covered == {"7", "3", "20"}


def test_the_sentences_are_cited_by_a_reference_of_the_book():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    assert re.search(r"@[a-z]+\{" + re.escape(PUBLISHED.source) + ",", bib)


def test_value_in_sentence():
    sentence = "Eighty-eight patients (26.3%) relapsed, including four cases after a second transplant."
    assert value_in_sentence("88 (26.3%)", sentence)
    assert value_in_sentence("4", sentence)
    assert not value_in_sentence("89 (26.3%)", sentence)
    assert not value_in_sentence("26.3% (88)", sentence)  # the numbers in their order
    assert value_in_sentence("24 (range, 2–67)", "The median age was 24 years (range, 2–67 years).")
    assert not value_in_sentence("4", "The median age was 24 years, 1.4 on average.")
    assert value_in_sentence("three", "three different dose levels")
    assert not value_in_sentence("three", "threefold")


def _study_with(change) -> dict:
    raw = yaml.safe_load(STUDY_YML.read_text(encoding="utf-8"))
    change(raw["published"]["figures"])
    return raw


def test_a_value_its_sentence_does_not_print_is_a_validation_error():
    def typo(figures):
        figures[17]["value"] = "86.8% (284/329)"  # orr

    with pytest.raises(DataValidationError, match=r"^study\.yml: invalid study definition: 1 problem\(s\)\n") as info:
        parse_study(_study_with(typo), label="study.yml")
    rows = info.value.failures[["column", "rule", "value"]].values.tolist()
    assert rows == [["published.figures[17].value", "study_value_not_in_sentence", "86.8% (284/329)"]]


def test_sentence_is_optional_but_must_be_text():
    def drop(figures):
        del figures[0]["sentence"]

    study = parse_study(_study_with(drop), label="study.yml")
    assert study.published.figures[0].sentence is None
    assert study.published.figures[1].sentence is not None

    def not_text(figures):
        figures[0]["sentence"] = ["a", "list"]

    with pytest.raises(DataValidationError, match=r"^study\.yml: invalid study definition: 1 problem\(s\)\n") as info:
        parse_study(_study_with(not_text), label="study.yml")
    assert info.value.failures[["column", "rule"]].values.tolist() == [
        ["published.figures[0].sentence", "study_field_not_text"]]


@pytest.mark.parametrize("cutoff", ["2025-08-01", "2026-02-01"])
def test_stored_cutoffs_keep_their_own_study_with_the_same_figures(cutoff):
    """A stored cutoff's study.yml is data (its manifest hashes it) and is not edited: the figures
    it reproduces are the default's (sentences, where it was stored with them, included)."""
    stored = read_study(ROOT / "data" / "cutoffs" / cutoff / "study.yml").published
    with_sentences = all(f.sentence for f in stored.figures)
    expected = [f if with_sentences else dataclasses.replace(f, sentence=None) for f in PUBLISHED.figures]
    assert expected == list(stored.figures)
    assert (stored.source, stored.cutoff) == (PUBLISHED.source, PUBLISHED.cutoff)
