"""The cohorts of the data matrix (tests/matrix/): each has the shape it promises and loads.

Each cohort is built once per session (tmp_path_factory). Shapes are read from the written files
(CSV cells as text, source.json, study.yml), not through nscore, so they check the builders
independently of the data layer; then ``nscore.data.load.load_cohort`` must accept every cohort. The
converted ``survival::myeloid`` (simulated by its authors) and ``survival::mgus2`` (real patients)
cohorts are checked against R itself (Kaplan-Meier medians, counts).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from matrix import COHORTS, SHAPES
from matrix.convert_mgus2 import MONTH_DAYS, months_to_days
from matrix.convert_myeloid import RNotAvailable

ALL = list(COHORTS)
#: converted from R datasets (their source.json names R, not nscore.data.simulate)
CONVERTED = ("myeloid", "mgus2")
SIMULATED = [name for name in ALL if name != "shipped" and name not in CONVERTED]


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory):
    """``cohort_dir(name)``: the directory of that matrix cohort, built once per session."""
    root = tmp_path_factory.mktemp("matrix")
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            try:
                built[name] = COHORTS[name](root / name)
            except RNotAvailable as exc:
                pytest.skip(str(exc))
            except FileNotFoundError as exc:  # build_shipped without data/cutoffs
                pytest.skip(str(exc))
        return built[name]

    return get


def cells(directory: Path, dataset: str) -> pd.DataFrame:
    """A CSV as text cells ("" = missing)."""
    return pd.read_csv(directory / f"{dataset}.csv", dtype=str, keep_default_na=False)


def study_of(directory: Path) -> dict:
    return yaml.safe_load((directory / "study.yml").read_text(encoding="utf-8"))


def source_of(directory: Path) -> dict:
    return json.loads((directory / "source.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------
# every cohort
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_files_flag_and_study_agree(cohort_dir, name):
    d = cohort_dir(name)
    shape = SHAPES[name]
    assert source_of(d)["simulated"] is shape["simulated"]
    study = study_of(d)
    assert (d / "adae.csv").is_file() is shape["adae"]
    assert bool(study.get("adverse_events")) is shape["adae"]
    if name != "shipped":
        assert "published" not in study  # no figures to reproduce on these data
    adsl = cells(d, "adsl")
    if "n" in shape:
        assert len(adsl) == shape["n"]
    assert source_of(d).get("n", len(adsl)) == len(adsl)
    # the data use only what the study defines, and the ids match its pattern (ASCII digits)
    assert set(adsl["STUDYID"]) <= {t["id"] for t in study["trials"]}
    assert set(adsl["DIAG"]) <= {x["code"] for x in study["diagnoses"]}
    pattern = re.compile(study["subject_id_pattern"], re.ASCII)
    assert adsl["USUBJID"].map(lambda u: bool(pattern.fullmatch(u))).all()
    assert adsl["USUBJID"].is_unique
    # one cutoff, in the past, and the source record agrees
    assert adsl["DCUTDT"].nunique() == 1
    cutoff = date.fromisoformat(adsl["DCUTDT"].iloc[0])
    assert cutoff <= date.today()
    assert source_of(d)["cutoff"] == cutoff.isoformat()


@pytest.mark.parametrize("name", [n for n in ALL if "diagnoses" in SHAPES[n] or "trials" in SHAPES[n]])
def test_diagnoses_and_trials(cohort_dir, name):
    d, shape = cohort_dir(name), SHAPES[name]
    adsl, study = cells(d, "adsl"), study_of(d)
    if "diagnoses" in shape:
        assert set(adsl["DIAG"]) == shape["diagnoses"]
        assert [x["code"] for x in study["diagnoses"]] == sorted(shape["diagnoses"])
    if "trials" in shape:
        assert set(adsl["STUDYID"]) == shape["trials"]
    assert {t["id"] for t in study["trials"]} == set(adsl["STUDYID"])


_COUNTS = ("deaths", "events", "transplants", "evaluable", "adrs_rows")


@pytest.mark.parametrize("name", [n for n in ALL if any(k in SHAPES[n] for k in _COUNTS)])
def test_promised_counts(cohort_dir, name):
    d, shape = cohort_dir(name), SHAPES[name]
    adsl, adtte = cells(d, "adsl"), cells(d, "adtte")
    found = {
        "deaths": int((adsl["DTHFL"] == "Y").sum()),
        "events": int((adtte["CNSR"] == "0").sum()),
        "transplants": int((adsl["HCTFL"] == "Y").sum()) if "HCTFL" in adsl else 0,
        "evaluable": int((adsl["EFFFL"] == "Y").sum()),
        "adrs_rows": len(cells(d, "adrs")),
    }
    for key in _COUNTS:
        if key in shape:
            assert found[key] == shape[key], key


@pytest.mark.parametrize("name", [n for n in ALL if "absent" in SHAPES[n] or "extra" in SHAPES[n]])
def test_absent_and_extra_columns(cohort_dir, name):
    d, shape = cohort_dir(name), SHAPES[name]
    for dataset, columns in shape.get("absent", {}).items():
        assert not columns & set(cells(d, dataset).columns), dataset
    for dataset, columns in shape.get("extra", {}).items():
        assert columns <= set(cells(d, dataset).columns), dataset


@pytest.mark.parametrize("name", ALL)
def test_load_cohort_accepts(cohort_dir, name):
    """The data layer of issue 11 (study.yml, optional variables, extra columns) accepts each cohort."""
    from nscore.data.load import load_cohort

    d = cohort_dir(name)
    cohort = load_cohort(d)
    adsl = cells(d, "adsl")
    assert len(cohort.adsl) == len(adsl)
    assert cohort.simulated is SHAPES[name]["simulated"]
    assert cohort.cutoff.isoformat() == adsl["DCUTDT"].iloc[0]
    assert cohort.study.id == study_of(d)["id"]
    assert bool(cohort.study.adverse_events) is SHAPES[name]["adae"]
    for dataset, columns in SHAPES[name].get("extra", {}).items():
        for column in columns:  # extra sponsor columns: accepted and reported as not used
            assert any(column in note and "not used" in note for note in cohort.notes), cohort.notes


# ------------------------------------------------------------------------------------------------
# the simulated odd cohorts
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SIMULATED)
def test_simulated_source_names_its_builder(cohort_dir, name):
    source = source_of(cohort_dir(name))
    assert source["generator"] == "nscore.simulate" and isinstance(source["seed"], int)
    assert source["derived_by"].endswith(f"build_{name}")


def test_one_diagnosis_is_the_shipped_t_all_patients(cohort_dir, shipped_dir):
    d = cohort_dir("one_diagnosis")
    shipped = cells(shipped_dir, "adsl")
    ours = cells(d, "adsl")
    t_all = shipped[shipped["DIAG"] == "T-ALL"].reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, t_all)
    for dataset in ("adrs", "adtte", "adae"):
        theirs = cells(shipped_dir, dataset)
        expected = theirs[theirs["USUBJID"].isin(set(t_all["USUBJID"]))].reset_index(drop=True)
        pd.testing.assert_frame_equal(cells(d, dataset), expected)


def test_tiny_cohort_everyone_alive_and_censored(cohort_dir):
    d = cohort_dir("tiny_censored")
    adsl, adtte, adae = cells(d, "adsl"), cells(d, "adtte"), cells(d, "adae")
    assert len(adsl) == 12
    assert (adsl["DTHFL"] == "N").all() and (adsl["DTHDT"] == "").all()
    assert len(adtte) == 24 and set(adtte["PARAMCD"]) == {"OS", "PFS"}
    assert (adtte["CNSR"] == "1").all()
    assert (adtte["EVNTDESC"] == "").all() and (adtte["CNSDTDSC"] == "ALIVE AT LAST CONTACT").all()
    # censored at the last date known alive, which is after every other event of the patient
    last = adtte["USUBJID"].map(adsl.set_index("USUBJID")["LSTALVDT"])
    assert (adtte["ADT"] == last).all()
    days = (pd.to_datetime(adtte["ADT"]) - pd.to_datetime(adtte["STARTDT"])).dt.days
    assert (adtte["AVAL"].astype(int) == days).all()
    assert (adsl["HCTDT"].replace("", "0000") <= adsl["LSTALVDT"]).all()
    assert (adsl["LSTALVDT"] <= adsl["DCUTDT"]).all()
    assert (adae["AETOXGR"].astype(int) <= 4).all()  # no fatal grade without a death


def test_no_transplant_cohort(cohort_dir):
    adsl = cells(cohort_dir("no_transplant"), "adsl")
    assert (adsl["HCTFL"] == "N").all() and (adsl["HCTDT"] == "").all()
    assert len(adsl) > 0 and (adsl["DTHFL"] == "Y").any()  # otherwise an ordinary cohort


def test_no_adverse_events_cohort(cohort_dir):
    d = cohort_dir("no_adverse_events")
    assert not list(d.glob("adae.*"))
    assert study_of(d)["adverse_events"] == []
    assert len(cells(d, "adsl")) > 0


# ------------------------------------------------------------------------------------------------
# survival::myeloid against R
# ------------------------------------------------------------------------------------------------
#: Printed by R, one "key value" per line. PFS as the converter defines it: the first of relapse
#: (rltime) or death, else censored at futime.
R_MYELOID = r"""
library(survival)
m <- myeloid
km <- function(t, e, ci = "log") summary(survfit(Surv(t, e) ~ 1, conf.type = ci))$table
os <- km(m$futime, m$death)
os_ll <- km(m$futime, m$death, "log-log")
pfs_t <- ifelse(is.na(m$rltime), m$futime, m$rltime)
pfs_e <- as.integer(!is.na(m$rltime) | m$death == 1)
pfs <- km(pfs_t, pfs_e)
cat("n", nrow(m), "\n")
cat("os_median", os[["median"]], "\n")
cat("os_lower", os[["0.95LCL"]], "\n")
cat("os_lower_loglog", os_ll[["0.95LCL"]], "\n")
cat("os_events", os[["events"]], "\n")
cat("pfs_median", pfs[["median"]], "\n")
cat("pfs_events", pfs[["events"]], "\n")
cat("cr", sum(!is.na(m$crtime)), "\n")
cat("hct", sum(!is.na(m$txtime)), "\n")
cat("hct_on_or_before_cr", sum(m$txtime <= m$crtime, na.rm = TRUE), "\n")
cat("female", sum(m$sex == "f"), "\n")
cat("arm_a", sum(m$trt == "A"), "\n")
"""


@pytest.fixture(scope="session")
def r_myeloid() -> dict[str, float]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not installed")
    proc = subprocess.run([rscript, "--vanilla", "-e", R_MYELOID], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"R survival not available: {proc.stderr.strip()[-300:]}")
    out = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            key, value = line.split()
            out[key] = float(value)
    return out


def test_r_reference_values_are_the_known_ones(r_myeloid):
    # survfit(Surv(futime, death) ~ 1, data = myeloid): n 646, events 320, median 1220, 0.95LCL 826
    # (R's default conf.type "log"; 823 with conf.type = "log-log", nscore's default); upper NA
    assert (r_myeloid["n"], r_myeloid["os_events"], r_myeloid["os_median"], r_myeloid["os_lower"],
            r_myeloid["os_lower_loglog"]) == (646, 320, 1220, 826, 823)


def _adtte_from_csv(directory: Path) -> pd.DataFrame:
    adtte = cells(directory, "adtte")
    return adtte.assign(AVAL=adtte["AVAL"].astype("int64"), CNSR=adtte["CNSR"].astype("int64"))


def test_myeloid_km_medians_match_r(cohort_dir, r_myeloid):
    """KM medians of the converted files (read as plain CSV) equal R's on the source data."""
    from nscore.statistics.survival import kaplan_meier

    adtte = _adtte_from_csv(cohort_dir("myeloid"))
    os_ = kaplan_meier(adtte, "OS")
    assert os_.n_ == r_myeloid["n"] and os_.events_ == r_myeloid["os_events"]
    assert os_.median_ == r_myeloid["os_median"]
    assert os_.median_ci_ == (r_myeloid["os_lower_loglog"], float("inf"))  # log-log, upper not reached
    assert kaplan_meier(adtte, "OS", ci="log").median_ci_[0] == r_myeloid["os_lower"]
    pfs = kaplan_meier(adtte, "PFS")
    assert pfs.events_ == r_myeloid["pfs_events"]
    assert pfs.median_ == r_myeloid["pfs_median"]


def test_myeloid_loaded_cohort_median_matches_r(cohort_dir, r_myeloid):
    """The same through the data layer: load_cohort, then kaplan_meier(cohort.adtte, "OS")."""
    from nscore.data.load import load_cohort
    from nscore.statistics.survival import kaplan_meier

    cohort = load_cohort(cohort_dir("myeloid"))
    assert kaplan_meier(cohort.adtte, "OS").median_ == r_myeloid["os_median"]  # 1220 days


def test_myeloid_counts_match_r(cohort_dir, r_myeloid):
    d = cohort_dir("myeloid")
    adsl, adrs = cells(d, "adsl"), cells(d, "adrs")
    assert len(adsl) == r_myeloid["n"] == len(adrs)
    assert (adrs["AVALC"] == "CR").sum() == r_myeloid["cr"]
    assert (adrs.loc[adrs["AVALC"] == "CR", "ADT"] != "").all()
    assert (adrs.loc[adrs["AVALC"] == "NR", "ADT"] == "").all()  # no assessment date in the data
    assert (adsl["HCTFL"] == "Y").sum() == r_myeloid["hct"]
    assert (adsl["DTHFL"] == "Y").sum() == r_myeloid["os_events"]
    assert (adsl["SEX"] == "F").sum() == r_myeloid["female"]
    assert (adsl["ARM"] == "A").sum() == r_myeloid["arm_a"]
    # transplants on or before the CR date are kept (the consolidation-after-CR rule must see them)
    cr = adsl["USUBJID"].map(adrs.set_index("USUBJID")["ADT"])
    early = (adsl["HCTDT"] != "") & (cr != "") & (adsl["HCTDT"] <= cr)
    assert early.sum() == r_myeloid["hct_on_or_before_cr"] == 12


def test_myeloid_source_record_says_simulated_and_quotes_r_documentation(cohort_dir):
    # ?myeloid: "This simulated data set is based on a trial in acute myeloid leukemia. [...] none of
    # the actual data values are from that source."  So it is simulated, by the survival authors.
    source = source_of(cohort_dir("myeloid"))
    assert source["simulated"] is True
    assert "simulated data set" in source["origin_documentation"]
    assert "survival" in source["generator"] and "nscore" not in source["generator"]


# ------------------------------------------------------------------------------------------------
# survival::mgus2 (real Mayo Clinic patients) against R
# ------------------------------------------------------------------------------------------------
#: Printed by R, one "key value" per line. Times in months as R holds them; ``days`` is the
#: converter's rule, floor(months * 30.4375 + 0.5), applied in R to the same data.
R_MGUS2 = r"""
library(survival)
m <- mgus2
days <- function(x) floor(x * 30.4375 + 0.5)
os <- summary(survfit(Surv(futime, death) ~ 1, data = m))$table
os_days <- summary(survfit(Surv(days(futime), death) ~ 1, data = m))$table
pfs_t <- ifelse(m$pstat == 1, m$ptime, m$futime)
pfs_e <- as.integer(m$pstat == 1 | m$death == 1)
pfs_days <- summary(survfit(Surv(days(pfs_t), pfs_e) ~ 1))$table
cat("n", nrow(m), "\n")
cat("os_events", os[["events"]], "\n")
cat("os_median_months", os[["median"]], "\n")
cat("os_median_days", os_days[["median"]], "\n")
cat("os_lower_days", os_days[["0.95LCL"]], "\n")
cat("os_upper_days", os_days[["0.95UCL"]], "\n")
cat("pfs_events", pfs_days[["events"]], "\n")
cat("pfs_median_days", pfs_days[["median"]], "\n")
cat("progressions", sum(m$pstat == 1), "\n")
cat("female", sum(m$sex == "F"), "\n")
cat("age_median", median(m$age), "\n")
cat("hgb_na", sum(is.na(m$hgb)), "\n")
"""


@pytest.fixture(scope="session")
def r_mgus2() -> dict[str, float]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not installed")
    proc = subprocess.run([rscript, "--vanilla", "-e", R_MGUS2], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"R survival not available: {proc.stderr.strip()[-300:]}")
    return {k: float(v) for k, v in (line.split() for line in proc.stdout.splitlines() if line.strip())}


def test_mgus2_r_reference_values_are_the_known_ones(r_mgus2):
    # survfit(Surv(futime, death) ~ 1, data = mgus2): n 1384, events 963, median 98 months
    # (0.95 CI 92-103 months); 98 months = floor(98 * 30.4375 + 0.5) = 2983 days
    assert (r_mgus2["n"], r_mgus2["os_events"], r_mgus2["os_median_months"]) == (1384, 963, 98)
    assert months_to_days(98) == 2983 == r_mgus2["os_median_days"]
    assert (r_mgus2["os_lower_days"], r_mgus2["os_upper_days"]) == tuple(months_to_days([92, 103]))


def test_months_to_days_rounds_half_up():
    assert MONTH_DAYS == 365.25 / 12
    assert list(months_to_days([0, 1, 8, 12, 24, 48])) == [0, 30, 244, 365, 731, 1461]  # 24 m = 730.5 -> 731


def test_mgus2_km_median_matches_r(cohort_dir, r_mgus2):
    """OS and PFS of the converted files (loaded through the data layer) against R, in days."""
    from nscore.data.load import load_cohort
    from nscore.statistics.survival import kaplan_meier

    cohort = load_cohort(cohort_dir("mgus2"))
    os_ = kaplan_meier(cohort.adtte, "OS")
    # R: survfit(Surv(futime, death) ~ 1, data = mgus2) -> median 98 months = 2983 days
    assert os_.n_ == r_mgus2["n"] == 1384 and os_.events_ == r_mgus2["os_events"] == 963
    assert os_.median_ == r_mgus2["os_median_days"] == 2983
    # conf.type "log" (R's default): 92 and 103 months = 2800 and 3135 days
    assert kaplan_meier(cohort.adtte, "OS", ci="log").median_ci_ == (r_mgus2["os_lower_days"], r_mgus2["os_upper_days"])
    pfs = kaplan_meier(cohort.adtte, "PFS")
    assert pfs.events_ == r_mgus2["pfs_events"] and pfs.median_ == r_mgus2["pfs_median_days"]


def test_mgus2_follows_every_documented_rule(cohort_dir, r_mgus2):
    """Read as text: the rules of data/README.md that matter for a converted cohort."""
    d = cohort_dir("mgus2")
    adsl, adrs, adtte = cells(d, "adsl"), cells(d, "adrs"), cells(d, "adtte")
    assert len(adrs) == 0 and list(adrs.columns) == ["STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT"]
    assert (adsl["EFFFL"] == "N").all() and (adsl["SAFFL"] == "Y").all()
    assert (adsl["SEX"] == "F").sum() == r_mgus2["female"]
    assert adsl["AGE"].astype(int).median() == r_mgus2["age_median"]
    assert (adsl["hgb"] == "").sum() == r_mgus2["hgb_na"]  # R's NA delivered as an empty cell
    assert (adsl["USUBJID"] == adsl["STUDYID"] + "-" + adsl["SUBJID"]).all()
    assert (adsl["TRTSDT"].str.endswith("-01-01")).all()  # 1 January of the diagnosis year
    cutoff = adsl["DCUTDT"].iloc[0]
    assert cutoff == "1999-12-31" and source_of(d)["cutoff"] == cutoff
    assert (adsl["LSTALVDT"] >= adsl["TRTSDT"]).all() and (adsl["LSTALVDT"] <= cutoff).all()
    died = adsl["DTHFL"] == "Y"
    assert (adsl.loc[died, "DTHDT"] == adsl.loc[died, "LSTALVDT"]).all() and (adsl.loc[~died, "DTHDT"] == "").all()
    # ADTTE: AVAL = ADT - STARTDT, STARTDT = TRTSDT, PFS <= OS, events described as documented
    days = (pd.to_datetime(adtte["ADT"]) - pd.to_datetime(adtte["STARTDT"])).dt.days
    assert (adtte["AVAL"].astype(int) == days).all()
    assert (adtte["STARTDT"] == adtte["USUBJID"].map(adsl.set_index("USUBJID")["TRTSDT"])).all()
    assert (adtte["ADT"] <= cutoff).all()
    os_, pfs = (adtte[adtte["PARAMCD"] == p].set_index("USUBJID") for p in ("OS", "PFS"))
    assert (pfs["AVAL"].astype(int) <= os_["AVAL"].astype(int).reindex(pfs.index)).all()
    assert (os_["CNSR"] == "0").sum() == died.sum() == r_mgus2["os_events"]
    assert (os_.loc[os_["CNSR"] == "0", "ADT"] == adsl.set_index("USUBJID").loc[os_.index[os_["CNSR"] == "0"], "DTHDT"]).all()
    assert (os_.loc[os_["CNSR"] == "1", "ADT"] == adsl.set_index("USUBJID").loc[os_.index[os_["CNSR"] == "1"], "LSTALVDT"]).all()
    assert set(os_.loc[os_["CNSR"] == "0", "EVNTDESC"]) == {"DEATH"}
    assert (pfs["EVNTDESC"] == "RELAPSE OR PROGRESSION").sum() == r_mgus2["progressions"] == 115
    assert (pfs["CNSR"] == "0").sum() == r_mgus2["pfs_events"]
    assert ((adtte["CNSR"] == "1") == (adtte["CNSDTDSC"] == "ALIVE AT LAST CONTACT")).all()
    assert ((adtte["CNSR"] == "1") == (adtte["EVNTDESC"] == "")).all()


def test_mgus2_source_record_cites_real_data(cohort_dir):
    source = source_of(cohort_dir("mgus2"))
    assert source["simulated"] is False
    assert "Mayo Clinic" in source["origin_documentation"]["source"]
    assert "Kyle" in source["reference"] and "346:564-569" in source["reference"]
    assert "generator" not in source and "seed" not in source


def test_mgus2_stores_like_a_delivery(cohort_dir, tmp_path):
    """nscore.data.versions.store accepts it (header-only ADRS, no ADAE, extra columns) and load reads it back."""
    from nscore.data import versions

    data = tmp_path / "data"
    target = versions.store(cohort_dir("mgus2"), data)
    assert target.name == "1999-12-31" and (target / "study.yml").is_file() and not list(target.glob("adae.*"))
    cohort = versions.load(data, "1999-12-31")
    assert cohort.simulated is False and len(cohort.adrs) == 0 and cohort.study.id == "MAYO-MGUS2"
