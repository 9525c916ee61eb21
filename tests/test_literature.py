"""Figures of other studies as data (data/literature.yml -> nscore.data.literature ->
nscore.analyses.literature): read, checked against their sentences, and turned into ARD rows."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from nscore.analyses import ard
from nscore.analyses.literature import literature_rows
from nscore.data.literature import literature_path, parse_literature, read_literature
from nscore.errors import DataValidationError
from cohorts import ROOT

RAW = yaml.safe_load((ROOT / "data" / "literature.yml").read_text(encoding="utf-8"))


def test_the_project_file_reads_and_every_source_is_in_references_bib():
    lit = read_literature()
    assert lit.version >= 1 and len(lit.figures) >= 30
    assert literature_path() == ROOT / "data" / "literature.yml"
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    for source in lit.sources:
        assert re.search(r"@[a-z]+\{" + re.escape(source) + ",", bib), source
        entry = bib[bib.index("{" + source + ","):]
        assert re.search(r"note\s*=", entry[:entry.index("\n}")]), f"{source}: references.bib says what was verified"
    assert all(f.checked for f in lit.figures)


def test_rows_are_valid_ard_rows_with_the_published_method():
    lit = read_literature()
    rows = ard.validate(ard.frame(literature_rows(lit)))
    assert len(rows) == len(lit.figures)
    assert rows["analysis_id"].str.match(r"^literature\.[a-z0-9]+\.[a-z0-9_-]+$").all()
    assert (rows["method"] == "published, " + rows["analysis_id"].str.split(".").str[1]).all()
    key = dict(zip(ard.row_key(rows), rows["value"]))
    assert key["literature.tan2023jho.pfs_24m|=|lower"] == 13.8
    assert key["literature.lu2022ns7car.treated|DIAG=T-LBL|n"] == 6


def test_an_unverified_figure_says_so_in_its_label():
    raw = copy.deepcopy(RAW)
    raw["literature"][0]["verified"] = False
    rows = ard.frame(literature_rows(parse_literature(raw)))
    assert rows["label"].iloc[0].endswith("(not verified against the publication)")
    assert not rows["label"].iloc[1].endswith("(not verified against the publication)")


@pytest.mark.parametrize("change, rule", [
    (lambda r: r["literature"][0].update(value=21), "literature_value_not_in_sentence"),
    (lambda r: r["literature"][0].update(source="nobody2020"), "literature_source_not_listed"),
    (lambda r: r["literature"][0].update(stat="mode"), "literature_stat_unknown"),
    (lambda r: r["literature"][0].update(value="20"), "literature_value_not_number"),
    (lambda r: r["literature"][0].update(colour="red"), "literature_unknown_field"),
    (lambda r: r["literature"].append(dict(r["literature"][0])), "literature_figure_duplicated"),
    (lambda r: r["sources"]["pan2021jco"].pop("checked"), "literature_source_needs_verified_and_checked"),
    (lambda r: r.update(version=0), "literature_version_not_positive_integer"),
])
def test_problems_are_validation_errors(change, rule):
    raw = copy.deepcopy(RAW)
    change(raw)
    with pytest.raises(DataValidationError) as info:
        parse_literature(raw, label="literature.yml")
    assert rule in set(info.value.failures["rule"])


def test_a_data_directory_may_bring_its_own(tmp_path):
    assert literature_path(tmp_path) == ROOT / "data" / "literature.yml"  # none there: the project's
    (tmp_path / "literature.yml").write_text(yaml.safe_dump(RAW), encoding="utf-8")
    assert literature_path(tmp_path) == tmp_path / "literature.yml"
    assert read_literature(tmp_path).figures == read_literature().figures
