"""Headline figures of one cutoff and their comparison across cutoffs ("What changed")."""

from __future__ import annotations

import math
import types
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from test_cohort import shipped_cohort, tiny_cohort

try:  # nscore.survival is written by the survival helper; skip until its API is importable
    from nscore.survival import kaplan_meier, median_follow_up  # noqa: F401

    HAVE_SURVIVAL = True
except ImportError:
    HAVE_SURVIVAL = False

pytestmark = pytest.mark.skipif(not HAVE_SURVIVAL,
                                reason="nscore.survival.kaplan_meier / median_follow_up not importable yet")

from nscore import headline as hl  # noqa: E402
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
    h = hl.headline_figures(tiny_cohort()).set_index("key")
    assert tuple(h.index) == hl.HEADLINE_KEYS
    assert list(h.columns) == ["label", "value", "lower", "upper", "display", "unit"]
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
    cmp = hl.compare_cutoffs([late, early])  # order given does not matter
    assert list(cmp.columns) == ["key", "label", "unit", "2025-08-01", "2025-08-01 display", "2026-02-01",
                                 "2026-02-01 display", "change", "change_display"]
    t = cmp.set_index("key")
    # same patients, no new events: counts and rates unchanged, follow-up 184 days longer
    assert t.loc["n_infused", "change"] == 0 and t.loc["orr", "change"] == 0
    assert t.loc["followup_median", "change"] == pytest.approx(184)
    assert t.loc["followup_median", "change_display"] == "+184 days"
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


# Reference values for the shipped data, from R 4.2.2 with survival 3.5.3 (log-log CIs, nscore's default):
# > library(survival)
# > d <- read.csv("data/cutoffs/<cutoff>/adtte.csv"); x <- d[d$PARAMCD == p, ]
# > f <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = x, conf.type = "log-log")
# > summary(f, times = c(365.25, 730.5))[c("surv", "lower", "upper")]; quantile(f, 0.5)
# > summary(survfit(Surv(AVAL, CNSR) ~ 1, data = d[d$PARAMCD == "OS", ],
# +         conf.type = "log-log"))$table[c("median", "0.95LCL", "0.95UCL")]   # reverse KM
# They hold for the data versions named; if the shipped data are regenerated, rerun the R call.
R_SHIPPED = {
    ("2025-08-01", "929fc6e42d0c"): {
        "os_1y": (0.8155619853, 0.7668683272, 0.8550516516),
        "os_2y": (0.6468765044, 0.5824372035, 0.703957899),
        "pfs_1y": (0.7577237784, 0.7064360368, 0.8013281916),
        "pfs_2y": (0.5230180588, 0.4593226512, 0.5827757773),
        "pfs_median": (None, 561.0, None),
        "os_median": (None, None, None),
        "followup_median": (714.0, 614.0, 800.0),
    },
    ("2026-02-01", "6122d4be2471"): {
        "os_1y": (0.8042262648, 0.757282657, 0.8430394047),
        "os_2y": (0.6468696385, 0.5885804172, 0.6990710093),
        "pfs_1y": (0.7568459779, 0.7070472061, 0.7993979142),
        "pfs_2y": (0.5522916379, 0.4928609809, 0.6076540657),
        "pfs_median": (None, 576.0, None),
        "os_median": (None, None, None),
        "followup_median": (875.0, 798.0, 978.0),
    },
}


@pytest.mark.parametrize("cutoff, version", list(R_SHIPPED))
def test_headline_survival_matches_r_on_shipped_data(cutoff, version):
    if not (ROOT / "data" / "cutoffs" / cutoff).is_dir():
        pytest.skip(f"no shipped data for {cutoff}")
    c = shipped_cohort(cutoff)
    if getattr(c, "version", version) != version:
        pytest.fail(f"shipped data {cutoff} changed (version {c.version}, reference {version}): rerun the R call")
    h = hl.headline_figures(c).set_index("key")
    for key, ref in R_SHIPPED[(cutoff, version)].items():
        scale = 100 if h.loc[key, "unit"] == "%" else 1
        for col, r in zip(("value", "lower", "upper"), ref):
            got = h.loc[key, col]
            if r is None:
                assert math.isnan(got), (key, col)
            else:
                assert got == pytest.approx(scale * r, abs=1e-6 * scale), (key, col)
