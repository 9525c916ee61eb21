"""nscore.statistics.outcomes and nscore.analyses.outcomes (issue 15: DOR/RFS, landmark by
response/MRD, relapse and NRM by transplant with Gray's test, subgroup hazard ratios, swimmer lanes).

References are computed by R at test time (``Rscript`` with ``survival`` and ``cmprsk``; skipped
when R is missing) on fixed data: R's own ``survival::mgus2`` and ``survival::veteran``, and a
small seeded ADaM cohort written here (:func:`toy_adam`), which R reads from CSV and derives its
times from independently. The R calls are in ``R_SECTIONS`` (one Rscript run for the module), each
section printing the values its test compares.
Tolerance 1e-6 unless stated.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nscore.analyses import ard
from nscore.analyses import outcomes as oc
from nscore.statistics import outcomes as so

TOL = 1e-6
needs_r = pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")


def run_r(code: str, *args) -> str:
    out = subprocess.run(["Rscript", "-e", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        if "there is no package" in out.stderr:
            pytest.skip(f"R package missing: {out.stderr.strip()[-200:]}")
        raise AssertionError(out.stderr)
    return out.stdout


def read_r(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


# ---------------------------------------------------------------------------------------------
# a small seeded ADaM cohort (ties, censoring, relapses, deaths, transplants, MRD)
# ---------------------------------------------------------------------------------------------
def toy_adam(n: int = 150, seed: int = 15, responders: bool = True, transplants: bool = True):
    rng = np.random.default_rng(seed)
    ids = [f"T-{i:04d}" for i in range(n)]
    trt = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    bor = rng.choice(["CR", "CRi", "PR", "NR"], n, p=[0.55, 0.15, 0.1, 0.2]) if responders else np.repeat("NR", n)
    mrd = np.where(np.isin(bor, ["CR", "CRi"]), rng.choice(["NEGATIVE", "POSITIVE", ""], n, p=[0.75, 0.15, 0.1]),
                   rng.choice(["POSITIVE", ""], n))
    rday = rng.integers(23, 36, n)
    good = np.isin(bor, ["CR", "CRi"])
    follow = rng.integers(60, 1200, n)
    rel_day = np.where(good, rday + rng.exponential(500, n), rday + rng.exponential(60, n)).astype(int)
    death_day = (np.where(good, 150, 10) + rng.exponential(700, n)).astype(int)
    pfs_end = np.minimum.reduce([rel_day, death_day, follow])
    relapse = (rel_day <= pfs_end) & (rel_day < death_day)
    pfs_event = relapse | (death_day <= pfs_end)
    os_end = np.minimum(np.maximum(death_day, pfs_end), follow)
    os_event = death_day <= follow
    os_end = np.where(os_event, death_day, follow)
    pfs_end = np.minimum(pfs_end, os_end)
    hct = good & (rng.random(n) < 0.6) & transplants
    hday = np.where(hct, rng.integers(30, 160, n), -1)
    hct = hct & (hday < pfs_end)
    adsl = pd.DataFrame({"USUBJID": ids, "TRTSDT": trt.strftime("%Y-%m-%d"),
                         "HCTFL": np.where(hct, "Y", "N"),
                         "HCTDT": [(t + pd.Timedelta(days=int(h))).strftime("%Y-%m-%d") if f else ""
                                   for t, h, f in zip(trt, hday, hct)],
                         "EFFFL": "Y", "SAFFL": "Y",
                         "DIAG": rng.choice(["T-ALL", "T-LBL", "AML"], n, p=[0.5, 0.35, 0.15]),
                         "AGE": rng.integers(3, 70, n), "SEX": rng.choice(["F", "M"], n)})
    adsl["HCTDT"] = adsl["HCTDT"].where(adsl["HCTDT"] != "")
    adrs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "BOR", "AVALC": bor,
                         "ADT": (trt + pd.to_timedelta(rday, unit="D")).strftime("%Y-%m-%d"),
                         "MRDSTAT": pd.Series(mrd).replace("", np.nan)})
    adtte = pd.concat([
        pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": os_end, "CNSR": np.where(os_event, 0, 1),
                      "EVNTDESC": np.where(os_event, "DEATH", "")}),
        pd.DataFrame({"USUBJID": ids, "PARAMCD": "PFS", "AVAL": pfs_end, "CNSR": np.where(pfs_event, 0, 1),
                      "EVNTDESC": np.where(relapse, "RELAPSE OR PROGRESSION", np.where(pfs_event, "DEATH", ""))}),
    ], ignore_index=True)
    return adsl, adrs, adtte


class Toy(SimpleNamespace):
    """The analyses' view of a cohort: adsl/adrs/adtte and ``collected``."""

    def collected(self, dataset: str, column: str) -> bool:
        frame = getattr(self, dataset)
        return column in frame.columns and frame[column].notna().any()


def toy_cohort(**kw) -> Toy:
    adsl, adrs, adtte = toy_adam(**kw)
    return Toy(adsl=adsl, adrs=adrs, adtte=adtte, study=None)


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    adsl, adrs, adtte = toy_adam()
    for name, f in (("adsl", adsl), ("adrs", adrs), ("adtte", adtte)):
        f.to_csv(d / f"{name}.csv", index=False)
    return d, (adsl, adrs, adtte)


# R derives each analysis data set from the CSVs itself.
R_PREP = r"""
suppressMessages({library(survival); library(cmprsk)})
dir <- commandArgs(TRUE)[1]
sl <- read.csv(file.path(dir, "adsl.csv")); rs <- read.csv(file.path(dir, "adrs.csv"))
tt <- read.csv(file.path(dir, "adtte.csv"))
pfs <- subset(tt, PARAMCD == "PFS"); os <- subset(tt, PARAMCD == "OS")
d <- merge(merge(sl, rs, by = "USUBJID"), data.frame(USUBJID = pfs$USUBJID, pfs = pfs$AVAL,
           pfs_ev = 1 - pfs$CNSR, desc = pfs$EVNTDESC), by = "USUBJID")
d <- merge(d, data.frame(USUBJID = os$USUBJID, os = os$AVAL, os_ev = 1 - os$CNSR), by = "USUBJID")
d$rday <- as.numeric(as.Date(d$ADT) - as.Date(d$TRTSDT))
d$hday <- as.numeric(as.Date(d$HCTDT) - as.Date(d$TRTSDT))
km_out <- function(fit, what) {
  tb <- summary(fit)$table
  s <- summary(fit, times = c(182.625, 365.25))
  cat(sprintf("%s,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g\n", what, tb[["median"]],
      tb[["0.95LCL"]], tb[["0.95UCL"]], s$surv[1], s$lower[1], s$upper[1], s$surv[2], s$lower[2], s$upper[2]))
}
"""


#: The R reference of each test: one R program (one Rscript start) runs every section in this
#: order; a section prints one CSV after a "@@name" line. Arguments: the toy cohort's directory,
#: then the CSV paths where R writes survival::mgus2 and survival::veteran as the tests read them.
R_SECTIONS = {
    "dor": r"""
cat("what,median,lcl,ucl,s6,l6,u6,s12,l12,u12\n")
r <- subset(d, AVALC %in% c("CR", "CRi", "PR"))
km_out(survfit(Surv(pfs - rday, pfs_ev) ~ 1, data = r, conf.type = "log-log"), "DOR")
r <- subset(d, AVALC %in% c("CR", "CRi"))
km_out(survfit(Surv(pfs - rday, pfs_ev) ~ 1, data = r, conf.type = "log-log"), "RFS")
""",
    "landmark": r"""
day <- 42
cat("endpoint,group,n,events,median,lcl,ucl,chisq\n")
for (ep in c("OS", "PFS")) {
  x <- d; x$time <- if (ep == "OS") x$os else x$pfs; x$ev <- if (ep == "OS") x$os_ev else x$pfs_ev
  x <- subset(x, time >= day)
  cr <- x$AVALC %in% c("CR", "CRi") & x$rday <= day
  neg <- !is.na(x$MRDSTAT) & x$MRDSTAT == "NEGATIVE"; pos <- !is.na(x$MRDSTAT) & x$MRDSTAT == "POSITIVE"
  x$g <- ifelse(cr & neg, "CR/CRi, MRD-negative", ifelse(cr & pos, "CR/CRi, MRD-positive",
                ifelse(cr, "CR/CRi, MRD not assessed", "No CR/CRi")))
  fit <- survfit(Surv(time - day, ev) ~ g, data = x, conf.type = "log-log")
  tb <- summary(fit)$table
  chisq <- survdiff(Surv(time - day, ev) ~ g, data = x)$chisq
  for (i in seq_len(nrow(tb))) cat(sprintf("%s,\"%s\",%d,%d,%.10g,%.10g,%.10g,%.10g\n", ep,
      sub("g=", "", rownames(tb)[i]), tb[i, "n.max"], tb[i, "events"], tb[i, "median"], tb[i, "0.95LCL"],
      tb[i, "0.95UCL"], chisq))
}
""",
    "cif": r"""
day <- 100
x <- subset(d, pfs >= day)
x$g <- ifelse(!is.na(x$hday) & x$hday <= day, "HCT", "No HCT")
x$cause <- ifelse(x$pfs_ev == 0, 0, ifelse(x$desc == "DEATH", 2, 1))
ci <- cuminc(x$pfs - day, x$cause, x$g)
tp <- timepoints(ci, c(365.25, 730.5))$est
cat("name,t1,t2,stat,p\n")
for (nm in rownames(tp)) { parts <- strsplit(nm, " ")[[1]]; k <- as.integer(parts[length(parts)])
  cat(sprintf("%s,%.12g,%.12g,%.12g,%.12g\n", nm, tp[nm, 1], tp[nm, 2], ci$Tests[k, "stat"], ci$Tests[k, "pv"])) }
""",
    "gray": r"""
suppressMessages({library(survival); library(cmprsk)})
m <- mgus2
m$etime <- with(m, ifelse(pstat == 1, ptime, futime)); m$event <- with(m, ifelse(pstat == 1, 1, 2 * death))
d <- data.frame(time = m$etime, cause = m$event, sex = as.character(m$sex),
                age = ifelse(m$age < 70, "a<70", ifelse(m$age < 80, "b70-79", "c>=80")))
write.csv(d, commandArgs(TRUE)[2], row.names = FALSE)
cat("group,cause,stat,p,df\n")
for (g in c("sex", "age")) { t <- cuminc(d$time, d$cause, d[[g]])$Tests
  for (i in 1:2) cat(sprintf("%s,%d,%.12g,%.12g,%d\n", g, i, t[i, "stat"], t[i, "pv"], t[i, "df"])) }
""",
    "cox": r"""
suppressMessages(library(survival))
v <- veteran; v$cell <- as.character(v$celltype)
v$z <- ifelse(v$karno >= 90 & v$status == 0, "c", ifelse(v$age < 60, "a", "b"))
v$z[v$z == "c"] <- "c"; v$z[v$status == 1 & v$z == "c"] <- "b"
write.csv(data.frame(time = v$time, status = v$status, cell = v$cell, z = v$z), commandArgs(TRUE)[3], row.names = FALSE)
cat("var,level,hr,lower,upper,p\n")
f <- coxph(Surv(time, status) ~ relevel(factor(cell), "squamous"), data = v); s <- summary(f)
for (i in seq_len(nrow(s$coefficients))) cat(sprintf("cell,%s,%.10g,%.10g,%.10g,%.10g\n",
  sub(".*\\)", "", rownames(s$coefficients)[i]), s$conf.int[i, 1], s$conf.int[i, 3], s$conf.int[i, 4], s$coefficients[i, 5]))
w <- subset(v, z != "c"); f <- coxph(Surv(time, status) ~ factor(z), data = w); s <- summary(f)
cat(sprintf("z,b,%.10g,%.10g,%.10g,%.10g\n", s$conf.int[1, 1], s$conf.int[1, 3], s$conf.int[1, 4], s$coefficients[1, 5]))
""",
}


@pytest.fixture(scope="module")
def r_out(toy_csv, tmp_path_factory):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    work = tmp_path_factory.mktemp("r")
    code = R_PREP + "".join(f'cat("@@{name}\\n")\n{body}\n' for name, body in R_SECTIONS.items())
    text = run_r(code, toy_csv[0], work / "mgus.csv", work / "vet.csv")
    parts, current = {}, None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:]
            parts[current] = []
        elif current is not None:
            parts[current].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}, work


@needs_r
def test_dor_and_rfs_match_r_survfit(toy_csv, r_out):
    d, (adsl, adrs, adtte) = toy_csv
    out = read_r(r_out[0]["dor"]).set_index("what")
    for label, responses in (("DOR", so.RESPONDERS), ("RFS", so.CR_CRI)):
        res = so.duration_of_response(adtte, adrs, adsl, responses, label=label)
        r = out.loc[label]
        assert res.n_excluded == 0
        assert res.km.median_ == pytest.approx(r["median"], abs=TOL)
        assert res.km.median_ci_[0] == pytest.approx(r["lcl"], abs=TOL)
        ucl = r["ucl"] if not math.isnan(r["ucl"]) else math.inf
        assert res.km.median_ci_[1] == pytest.approx(ucl, abs=TOL)
        at = res.rates_at((6, 12))
        for i, m in enumerate((6, 12)):
            for col, rc in (("survival", f"s{m}"), ("lower", f"l{m}"), ("upper", f"u{m}")):
                assert at[col].iloc[i] == pytest.approx(r[rc], abs=TOL), (label, m, col)


@needs_r
def test_response_landmark_matches_r(toy_csv, r_out):
    d, (adsl, adrs, adtte) = toy_csv
    out = read_r(r_out[0]["landmark"])
    for ep in ("OS", "PFS"):
        res = so.response_landmark(adtte, adrs, adsl, ep, 42, "mrd")
        ref = out.loc[out["endpoint"] == ep].set_index("group")
        assert set(res.curves) == set(ref.index)
        for g, km in res.curves.items():
            r = ref.loc[g]
            assert (km.n_, km.events_) == (r["n"], r["events"])
            for ours, theirs in ((km.median_, r["median"]), (km.median_ci_[0], r["lcl"]),
                                 (km.median_ci_[1], r["ucl"])):
                theirs = math.inf if math.isnan(theirs) else theirs  # R NA = not reached here
                assert ours == pytest.approx(theirs, abs=TOL), (ep, g)
        assert res.logrank.test_statistic == pytest.approx(ref["chisq"].iloc[0], rel=1e-6)
        assert res.n_included + res.n_excluded == len(adrs)


@needs_r
def test_gray_test_matches_cmprsk_on_mgus2(r_out):
    """R: m <- survival::mgus2; cuminc(etime, event, group)$Tests (group sex; age in 3 bands)."""
    csv = r_out[1] / "mgus.csv"
    ref = read_r(r_out[0]["gray"])
    d = pd.read_csv(csv)
    for r in ref.itertuples(index=False):
        res = so.gray_test(d["time"], d["cause"], d[r.group], int(r.cause))
        assert res.statistic == pytest.approx(r.stat, rel=1e-7)
        assert res.df == r.df
        assert res.p_value == pytest.approx(r.p, rel=1e-6, abs=1e-12)  # R: 1 - pchisq (0 below 1e-16)


@needs_r
def test_transplant_landmark_cif_matches_cmprsk(toy_csv, r_out):
    d, (adsl, adrs, adtte) = toy_csv
    out = read_r(r_out[0]["cif"]).set_index("name")
    res = so.transplant_landmark_cif(adtte, adsl, 100)
    assert set(res.groups) == {"HCT", "No HCT"}
    for g, cif in res.groups.items():
        at = cif.at([365.25, 730.5])
        for cause, col in ((1, "cif"), (2, "cif_competing")):
            r = out.loc[f"{g} {cause}"]
            for i, t in enumerate(("t1", "t2")):
                if not math.isnan(r[t]):
                    assert at[col].iloc[i] == pytest.approx(r[t], abs=TOL), (g, cause, t)
    for cause, test in ((1, res.gray_relapse), (2, res.gray_nrm)):
        r = out.loc[f"HCT {cause}"]
        assert test.statistic == pytest.approx(r["stat"], rel=1e-7)
        assert test.p_value == pytest.approx(r["p"], rel=1e-6)


@needs_r
def test_subgroup_cox_matches_coxph(r_out):
    """veteran: coxph(Surv(time, status) ~ relevel(factor(celltype), "squamous")); and a factor
    with a level without events (left out: coxph on the other levels)."""
    csv = r_out[1] / "vet.csv"
    out = read_r(r_out[0]["cox"])
    v = pd.read_csv(csv)
    ids = [f"V-{i:03d}" for i in range(len(v))]
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": v["time"], "CNSR": 1 - v["status"]})
    factors = pd.DataFrame({"USUBJID": ids, "cell": v["cell"], "z": v["z"]})
    assert (v.loc[v["z"] == "c", "status"] == 0).all() and (v["z"] == "c").any()
    res = so.subgroup_cox(adtte, factors, "OS", {"cell": ("squamous",)})
    t = res.table.set_index(["variable", "level"])
    assert t.loc[("cell", "squamous"), "status"] == "reference"
    assert t.loc[("z", "c"), "status"] == "not estimable"
    for r in out.itertuples(index=False):
        row = t.loc[(r.var, r.level)]
        assert row["status"] == "estimated"
        for col in ("hr", "lower", "upper", "p"):
            assert row[col] == pytest.approx(getattr(r, col), rel=1e-4 if col != "p" else 1e-3), (r.var, r.level, col)


# ---------------------------------------------------------------------------------------------
# odd cohorts: no rows and a reason, never an exception
# ---------------------------------------------------------------------------------------------
def _all_rows(c):
    return {f.__name__: ard.validate(ard.frame(f(c).rows())) for f in
            (oc.response_durations, oc.response_landmarks, oc.transplant_incidence,
             oc.subgroup_hazard_ratios, oc.response_lanes)}


def test_analyses_on_the_toy_cohort_give_valid_rows():
    rows = _all_rows(toy_cohort())
    assert all(len(r) for r in rows.values())
    keys = ard.row_key(pd.concat(rows.values()))
    assert keys.is_unique


def test_no_responders():
    c = toy_cohort(responders=False)
    dur = oc.response_durations(c)
    assert dur.dor.km is None and dur.dor.reason and dur.rows() == []
    lm = oc.response_landmarks(c)
    assert list(lm.os.curves) == ["No CR/CRi"] and lm.os.logrank is None
    _all_rows(c)


def test_no_transplants_and_not_collected():
    c = toy_cohort(transplants=False)
    ti = oc.transplant_incidence(c)
    assert not ti.shown and ti.rows() == []
    c2 = toy_cohort()
    c2.adsl = c2.adsl.drop(columns=["HCTDT", "HCTFL"])
    ti2 = oc.transplant_incidence(c2)
    assert ti2.result.reason == "transplants were not collected" and ti2.rows() == []
    _all_rows(c2)


def test_no_events_and_tiny():
    c = toy_cohort(n=4)
    c.adtte = c.adtte.assign(CNSR=1, EVNTDESC="")
    rows = _all_rows(c)
    assert len(rows["subgroup_hazard_ratios"]) == 0 or not (rows["subgroup_hazard_ratios"]["stat"] == "hr").any()
    ti = oc.transplant_incidence(c)
    assert ti.result.gray_relapse is None and ti.result.gray_nrm is None


def test_mrd_not_collected_groups_by_response():
    c = toy_cohort()
    c.adrs = c.adrs.drop(columns=["MRDSTAT"])
    lm = oc.response_landmarks(c)
    assert lm.by == "response" and set(lm.os.curves) <= set(so.RESPONSE_GROUPS)
    lanes = oc.response_lanes(c)
    assert "CR/CRi" in lanes.lanes


def test_swimmer_lanes_are_aggregates():
    small, large = oc.response_lanes(toy_cohort(n=60)), oc.response_lanes(toy_cohort(n=600, seed=3))
    assert "USUBJID" not in small.table.columns
    # one row per lane, time point and state, whatever the number of patients
    per_point = len(oc.LANE_STATES)
    assert len(small.table) % per_point == 0 and len(large.table) % per_point == 0
    assert len(large.table) <= len(oc.LANE_STATES) * 6 * (60 // oc.LANE_MONTHS + 1)
    total = large.table.groupby(["lane", "month"])["n"].sum()
    assert (total == large.table.groupby(["lane", "month"])["N"].first()).all()


def test_swimmer_lanes_never_show_a_handful_of_patients():
    tiny = oc.response_lanes(toy_cohort(n=4))
    assert not tiny.shown and tiny.hidden == 4 and tiny.rows() == []
    assert (tiny.table.empty)
    c = toy_cohort(n=40, seed=2)
    lanes = oc.response_lanes(c)
    assert all(n >= oc.MIN_LANE_PATIENTS for n in lanes.lanes.values())
    from nscore.report.prose import results as prose
    text = prose.swimmer_paragraph(tiny)
    assert "not drawn" in text and "{ard}" not in text


def test_prose_on_odd_cohorts_says_why():
    from nscore.report.prose import results as prose
    c = toy_cohort(responders=False, transplants=False)
    assert "not estimable" in prose.response_duration_paragraph(oc.response_durations(c))
    assert "not compared by transplant" in prose.transplant_incidence_paragraph(oc.transplant_incidence(c), (1, 2))
    c = toy_cohort(n=4)
    c.adtte = c.adtte.assign(CNSR=1, EVNTDESC="")
    assert "not estimable" in prose.subgroup_hazard_paragraph(oc.subgroup_hazard_ratios(c))


def test_efficacy_figures_embed_aggregates_only():
    from nscore.report import efficacy_figures as ef, figures

    rows = []
    for n, seed in ((60, 1), (600, 3)):
        c = toy_cohort(n=n, seed=seed)
        lanes = oc.response_lanes(c, max_months=24)
        chart = ef.lane_plot(lanes.table, title="t", alt_text="a").chart
        rows.append(figures.embedded_rows(chart))
        spec = str(chart.to_dict())
        assert "USUBJID" not in spec and "T-0001" not in spec
        ef.hazard_forest(oc.subgroup_hazard_ratios(c).table, title="t", alt_text="a").to_dict()
        ti = oc.transplant_incidence(c)
        if ti.shown:
            assert "T-0001" not in str(ef.cif_by_group_plot(ti.result.groups, title="t", alt_text="a").to_dict())
    # lanes x time points x states: the same for ten times the patients
    assert rows[1] <= rows[0] * 2 and rows[1] <= 6 * len(oc.LANE_STATES) * (24 // oc.LANE_MONTHS + 1)


def test_prose_without_any_event_compares_nothing():
    from nscore.report.prose import results as prose
    c = toy_cohort(n=80, seed=5)
    c.adtte = c.adtte.assign(CNSR=1, EVNTDESC="")
    dur = prose.response_duration_paragraph(oc.response_durations(c))
    assert "not reached" in dur and "100.0%" not in dur
    assert "groups are not compared" in prose.response_landmark_paragraph(oc.response_landmarks(c))
    ti = oc.transplant_incidence(c)
    assert ti.shown and not ti.has_events
    assert "no incidence to compare" in prose.transplant_incidence_paragraph(ti, (1, 2))
