"""Headline figures of one cutoff and their comparison across cutoffs ("What changed")."""

from __future__ import annotations

import math
import types
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cohorts import shipped_cohort, tiny_cohort

try:  # nscore.statistics.survival is written by the survival helper; skip until its API is importable
    from nscore.statistics.survival import kaplan_meier, median_follow_up  # noqa: F401

    HAVE_SURVIVAL = True
except ImportError:
    HAVE_SURVIVAL = False

pytestmark = pytest.mark.skipif(not HAVE_SURVIVAL,
                                reason="nscore.statistics.survival.kaplan_meier / median_follow_up not importable yet")

from nscore.analyses import headline as hl  # noqa: E402
from nscore.report import format as fmt  # noqa: E402
from nscore.report import presenters  # noqa: E402
from nscore.errors import NscoreError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def later(c, cutoff: date = date(2026, 2, 1)):
    """The same patients followed to a later cutoff, with no new events (alive patients' follow-up
    simply extends), so the changes are known by construction."""
    cut = pd.Timestamp(cutoff)
    adsl = c.adsl.copy()
    alive = adsl["DTHFL"] == "N"
    adsl.loc[alive, "LSTALVDT"] = cut
    adsl["DCUTDT"] = cut
    adtte = c.adtte.copy()
    cens = adtte["CNSR"] == 1
    adtte.loc[cens, "ADT"] = cut
    adtte["AVAL"] = (pd.to_datetime(adtte["ADT"]) - pd.to_datetime(adtte["STARTDT"])).dt.days
    return types.SimpleNamespace(**{**vars(c), "adsl": adsl, "adtte": adtte, "cutoff": cutoff})


def test_headline_tiny():
    numbers = hl.headline_figures(tiny_cohort())
    assert list(numbers.columns) == ["key", "label", "value", "lower", "upper", "unit", "status", "k", "n"]
    h = presenters.with_display(numbers).set_index("key")
    assert tuple(h.index) == hl.HEADLINE_KEYS
    assert list(h.columns) == ["label", "value", "lower", "upper", "display", "unit", "status", "k", "n"]
    assert set(h["status"]) <= set(hl.STATUSES)
    assert (h.loc["n_infused", "value"], h.loc["n_evaluable", "value"]) == (8, 7)
    assert h.loc["orr", "value"] == pytest.approx(100 * 5 / 7)
    assert h.loc["crs_g3", "value"] == pytest.approx(37.5)
    assert h.loc["icans_g3", "value"] == pytest.approx(25.0)
    assert h.loc["hct_rate", "value"] == pytest.approx(62.5)  # 5 of 8 (0003 salvage after PR)
    # one death (day 20) among 8: the KM median is not reached
    assert math.isnan(h.loc["os_median", "value"])
    assert h.loc["os_median", "display"].startswith("not reached")
    # > library(survival); t <- c(578,568,558,548,538,528,518,20); s <- c(0,0,0,0,0,0,0,1)
    # > summary(survfit(Surv(t, s) ~ 1), times = 365.25)$surv
    # [1] 0.875
    assert h.loc["os_1y", "value"] == pytest.approx(87.5, abs=1e-6)
    # > summary(survfit(Surv(t, 1 - s) ~ 1))$table["median"]   (reverse Kaplan-Meier)
    # 548
    assert h.loc["followup_median", "value"] == pytest.approx(548, abs=1e-6)
    assert set(h["unit"]) == {"patients", "%", "days"}


def test_compare_cutoffs_tiny_known_changes():
    early, late = tiny_cohort(), later(tiny_cohort())
    cmp = presenters.comparison_text(hl.compare_cutoffs([late, early]))  # order given does not matter
    assert list(cmp.columns) == ["key", "label", "unit", "2025-08-01", "2025-08-01 display", "2026-02-01",
                                 "2026-02-01 display", "change", "change_display"]
    t = cmp.set_index("key")
    # same patients, no new events: counts and rates unchanged, follow-up 184 days longer
    assert t.loc["n_infused", "change"] == 0 and t.loc["orr", "change"] == 0
    assert t.loc["followup_median", "change"] == pytest.approx(184)
    assert t.loc["followup_median", "change_display"] == "+6.0 months"  # 184 / 30.4375 = 6.05
    assert t.loc["os_median", "change_display"] == "not reached at both cutoffs"
    assert t.loc["orr", "change_display"] == "no change"
    # 2-year OS: follow-up ends before 730.5 days at the first cutoff, not after the second
    assert math.isnan(t.loc["os_2y", "2025-08-01"])
    assert t.loc["os_2y", "change_display"] == "not estimable \u2192 87.5%"


def test_compare_cutoffs_rejects_duplicates_and_empty():
    with pytest.raises(NscoreError):
        hl.compare_cutoffs([])
    with pytest.raises(NscoreError, match="share a cutoff"):
        hl.compare_cutoffs([tiny_cohort(), tiny_cohort()])


def test_headline_shipped_consistent_with_abstract():
    h = hl.headline_figures(shipped_cohort()).set_index("key")
    # abstract: 334 infused, 329 evaluable, ORR 284/329, CR/CRi 278/329, 245/334 transplanted,
    # CRS grade >= 3 34/334, ICANS grade >= 3 8/334
    assert (h.loc["n_infused", "value"], h.loc["n_evaluable", "value"]) == (334, 329)
    assert h.loc["orr", "value"] == pytest.approx(100 * 284 / 329)
    assert h.loc["cr_cri", "value"] == pytest.approx(100 * 278 / 329)
    assert h.loc["hct_rate", "value"] == pytest.approx(100 * 245 / 334)
    assert h.loc["crs_g3", "value"] == pytest.approx(100 * 34 / 334)
    assert h.loc["icans_g3", "value"] == pytest.approx(100 * 8 / 334)
    for k in ("os_1y", "os_2y", "pfs_1y", "pfs_2y"):
        assert 0 <= h.loc[k, "lower"] <= h.loc[k, "value"] <= h.loc[k, "upper"] <= 100, k
    assert h.loc["os_2y", "value"] >= h.loc["pfs_2y", "value"]  # PFS time <= OS time per patient


def test_compare_shipped_cutoffs():
    if not (ROOT / "data" / "cutoffs" / "2026-02-01").is_dir():
        pytest.skip("second shipped cutoff data/cutoffs/2026-02-01 not there yet")
    a, b = shipped_cohort("2025-08-01"), shipped_cohort("2026-02-01")
    cmp = hl.compare_cutoffs([a, b]).set_index("key")
    assert cmp.loc["n_infused", "change"] == 0  # same patients
    assert cmp.loc["followup_median", "change"] > 0  # longer follow-up
    expected = cmp["2026-02-01"] - cmp["2025-08-01"]
    pd.testing.assert_series_equal(cmp["change"], expected, check_names=False)


# Cross-check on every stored cutoff against R 4.2.2 / survival 3.5.3, run live because the shipped
# data are regenerated by ``nscore simulate`` and new cutoffs arrive (the fixed-value R checks are
# test_headline_tiny above and tests/test_survival.py). The R call, per cutoff and endpoint p:
# > library(survival)
# > d <- read.csv("data/cutoffs/<cutoff>/adtte.csv"); x <- d[d$PARAMCD == p, ]
# > f <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = x, conf.type = "log-log")
# > summary(f, times = c(365.25, 730.5))[c("surv", "lower", "upper")]; quantile(f, 0.5)
# > summary(survfit(Surv(AVAL, CNSR) ~ 1, data = d[d$PARAMCD == "OS", ],
# +         conf.type = "log-log"))$table[c("median", "0.95LCL", "0.95UCL")]   # reverse KM
R_CALL = r'''suppressMessages(library(survival)); options(digits = 15)
d <- read.csv(commandArgs(TRUE)[1])
for (p in c("OS", "PFS")) {
  x <- d[d$PARAMCD == p, ]
  f <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = x, conf.type = "log-log")
  s <- summary(f, times = c(365.25, 730.5)); q <- unlist(quantile(f, 0.5))
  cat(tolower(p), "1y", s$surv[1], s$lower[1], s$upper[1], "\n")
  cat(tolower(p), "2y", s$surv[2], s$lower[2], s$upper[2], "\n")
  cat(tolower(p), "median", q[1], q[2], q[3], "\n")
}
x <- d[d$PARAMCD == "OS", ]
t <- summary(survfit(Surv(AVAL, CNSR) ~ 1, data = x, conf.type = "log-log"))$table
cat("followup", "median", t["median"], t["0.95LCL"], t["0.95UCL"], "\n")
'''


def _r_reference(adtte_csv: Path) -> dict:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed (Debian: r-base-core, r-cran-survival)")
    out = subprocess.run(["Rscript", "-e", R_CALL, str(adtte_csv)], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        pytest.skip(f"R survival not usable: {out.stderr.strip()[:200]}")
    ref = {}
    for line in out.stdout.strip().splitlines():
        name, what, *vals = line.split()
        ref[f"{name}_{what}"] = tuple(None if v == "NA" else float(v) for v in vals)
    return ref


_CUTOFFS = sorted(p.name for p in (ROOT / "data" / "cutoffs").glob("????-??-??") if p.is_dir())


@pytest.mark.parametrize("cutoff", _CUTOFFS or ["2025-08-01"])
def test_headline_survival_matches_r_on_shipped_data(cutoff):
    csv = ROOT / "data" / "cutoffs" / cutoff / "adtte.csv"
    if not csv.exists():
        pytest.skip(f"no shipped data for {cutoff}")
    ref = _r_reference(csv)
    assert len(ref) == 7, ref  # 1-/2-year and median for OS and PFS, and follow-up
    h = hl.headline_figures(shipped_cohort(cutoff)).set_index("key")
    for key, values in ref.items():
        scale = 100 if h.loc[key, "unit"] == "%" else 1
        for col, r in zip(("value", "lower", "upper"), values):
            got = h.loc[key, col]
            if r is None:  # R: NA (not reached: inf for a CI limit, NaN for the value; not estimable: NaN)
                assert math.isnan(got) or (col != "value" and math.isinf(got)), (cutoff, key, col, got)
            else:
                assert got == pytest.approx(scale * r, abs=1e-6 * scale), (cutoff, key, col)


@pytest.mark.parametrize("diff, unit, text", [
    (-0.01, "%", "-<0.1 percentage points"),   # was printed "-0.0 percentage points"
    (0.04, "%", "+<0.1 percentage points"),
    (0.0, "%", "no change"),
    (2.345, "%", "+2.3 percentage points"),
    (0.2, "days", "+<0.1 months"),       # times change in months, the unit they print in
    (194.0, "days", "+6.4 months"),
])
def test_change_text_never_prints_signed_zero(diff, unit, text):
    assert fmt.change(diff, unit, 1.0, 1.0 + diff) == text


# ------------------------------------------------- not collected, not evaluable: never 0% or n/a
def _variant(**changes):
    c = tiny_cohort()
    return types.SimpleNamespace(**{**vars(c), **changes})


def test_headline_nobody_evaluable_has_no_response_rate():
    c = tiny_cohort()
    h = presenters.with_display(hl.headline_figures(_variant(adsl=c.adsl.assign(EFFFL="N"), adrs=c.adrs.iloc[0:0]))).set_index("key")
    assert h.loc["n_evaluable", "value"] == 0
    for key in ("orr", "cr_cri"):
        assert h.loc[key, "status"] == "not evaluable" and math.isnan(h.loc[key, "value"])
        assert h.loc[key, "display"] == "no patient evaluable for response"


def test_headline_adverse_events_and_transplant_not_collected():
    import dataclasses

    c = tiny_cohort()
    h = presenters.with_display(hl.headline_figures(_variant(adae=None, study=dataclasses.replace(c.study, adverse_events=()),
                                                     adsl=c.adsl.drop(columns=["HCTFL", "HCTDT"])))).set_index("key")
    for key in ("crs_g3", "icans_g3", "hct_rate"):
        assert (h.loc[key, "status"], h.loc[key, "display"]) == ("not collected", "not collected")
        assert math.isnan(h.loc[key, "value"])
    assert not h["display"].str.contains("n/a|nan|0.0%").any()
    only_crs = hl.headline_figures(_variant(study=dataclasses.replace(c.study, adverse_events=("CRS",)))).set_index("key")
    assert only_crs.loc["crs_g3", "status"] == "estimated" and only_crs.loc["icans_g3", "status"] == "not collected"


def test_headline_statuses_of_survival_rows():
    h = hl.headline_figures(tiny_cohort()).set_index("key")
    assert h.loc["os_median", "status"] == "not reached"
    assert h.loc["os_1y", "status"] == "estimated" and h.loc["os_2y", "status"] == "not estimable"
    assert h.loc["orr", ["k", "n"]].tolist() == [5, 7]


@pytest.mark.parametrize("prev, last, ps, ls, text", [
    (float("nan"), 10.2, "not collected", "estimated", "not collected \u2192 10.2%"),
    (10.2, float("nan"), "estimated", "not collected", "10.2% \u2192 not collected"),
    (float("nan"), float("nan"), "not collected", "not collected", "not collected at both cutoffs"),
    (float("nan"), float("nan"), "not evaluable", "not collected", "not evaluable \u2192 not collected"),
    (float("nan"), 50.0, None, None, "not estimable \u2192 50.0%"),
])
def test_change_text_names_why_a_value_is_missing(prev, last, ps, ls, text):
    assert fmt.change(last - prev, "%", prev, last, ps, ls) == text
