"""The Discussion chapter's sentences (nscore.report.prose.discussion) on odd data: nobody evaluable,
transplants not collected or none, adverse events not collected, one trial, everyone censored,
follow-up shorter than the horizon for all/none/some patients, real versus simulated data, and the
comparison with published rates at and across the limits of our interval."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nscore.analyses import safety as sf
from nscore.statistics import survival
from nscore.analyses.efficacy import proportion
from nscore.report import trace
from nscore.report.format import percent as format_percent
from nscore.report.presenters import headline_columns

COLUMNS = headline_columns()  # headline figures with their text


def _plain(f):
    """``f`` as the reader sees its text ({ard} roles reduced to their numbers)."""
    return lambda *a, **k: trace.plain(f(*a, **k))

from nscore.report.prose import discussion as pd_
from nscore.report.tables import YEAR_DAYS

ROOT = Path(__file__).resolve().parents[1]
BAD = re.compile(r"(?i:n/a|\bnan\b)|\bNone\b(?! of)|0 of 0|\b1 (?:patients|trials|years)\b")
JUDGEMENT = re.compile(r"(?i)\b(?:high|low|favou?rable|promising|excellent|impressive|remarkable|durable)\b")


# ------------------------------------------------------------------------------------ builders
def _rate_row(key, k, n):
    p = proportion(k, n)
    return {"key": key, "label": key, "value": 100 * p.estimate, "lower": 100 * p.lower,
            "upper": 100 * p.upper, "display": f"{format_percent(k, n)} ({k}/{n}; 95% CI "
            f"{100 * p.lower:.1f}\u2013{100 * p.upper:.1f})", "unit": "%", "status": "estimated", "k": k, "n": n}


def _missing(key, status):
    return {"key": key, "label": key, "value": np.nan, "lower": np.nan, "upper": np.nan,
            "display": status, "unit": "%", "status": status, "k": None, "n": None}


def figures(n=100, n_eval=90, cr=80, orr=85, hct=60, crs_g3=(10, 100), icans_g3=(2, 100),
            os2=("estimated", "63.8% (95% CI 58.2\u201368.9)"), pfs2=("estimated", "60.6% (95% CI 55.0\u201365.7)"),
            os_median="not reached", followup="estimated"):
    rows = [{"key": "n_infused", "value": float(n), "status": "estimated", "display": str(n)},
            {"key": "n_evaluable", "value": float(n_eval), "status": "estimated", "display": str(n_eval)}]
    if n_eval:
        rows += [_rate_row("orr", orr, n_eval), _rate_row("cr_cri", cr, n_eval)]
    else:
        rows += [_missing("orr", "not evaluable"), _missing("cr_cri", "not evaluable")]
    med = {"not reached": ("not reached", "not reached"), "not estimable": ("not estimable", "not estimable"),
           "estimated": ("estimated", "18.0 months (95% CI 15.8\u2013NR)")}[os_median]
    rows += [{"key": "os_median", "status": med[0], "display": med[1]},
             {"key": "pfs_median", "status": med[0], "display": med[1]}]
    for key, (status, display) in (("os_2y", os2), ("pfs_2y", pfs2)):
        rows.append({"key": key, "status": status, "display": display})
    rows.append(_rate_row("hct_rate", hct, n) if hct is not None else _missing("hct_rate", "not collected"))
    for key, v in (("crs_g3", crs_g3), ("icans_g3", icans_g3)):
        rows.append(_rate_row(key, *v) if v is not None else _missing(key, "not collected"))
    rows.append({"key": "followup_median", "status": followup,
                 "display": "37.0 months (95% CI 34.1\u201339.2)" if followup == "estimated" else followup})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def flow(n_hct_total=60, n_hct_after_cr=55, n_cr_cri=80, n_evaluable=90):
    return SimpleNamespace(n_hct_total=n_hct_total, n_hct_after_cr=n_hct_after_cr, n_cr_cri=n_cr_cri,
                           n_evaluable=n_evaluable)


def maturity(n=100, n_short=20, years=2):
    return pd_.FollowUpMaturity(n=n, n_short=n_short, years=years, threshold_days=years * YEAR_DAYS,
                                min_days=100.0, max_days=1900.0)


def _inc(syndrome, k_any, k3, n):
    return sf.Incidence(syndrome=syndrome, table=pd.DataFrame(), any_grade=proportion(k_any, n),
                        grade_1_2=proportion(k_any - k3, n), grade_3_plus=proportion(k3, n))


def _adtte(times, events):
    ids = [f"P{i}" for i in range(len(times))]
    rows = [{"USUBJID": u, "PARAMCD": p, "AVAL": float(t), "CNSR": 0 if e else 1}
            for p in ("OS", "PFS") for u, t, e in zip(ids, times, events)]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- follow-up maturity
def _cohort_infused(days_before_cutoff, cutoff=date(2026, 2, 1)):
    start = [pd.Timestamp(cutoff) - pd.Timedelta(days=d) for d in days_before_cutoff]
    return SimpleNamespace(cutoff=cutoff, adsl=pd.DataFrame({"TRTSDT": start}))


def test_maturity_counts_potential_follow_up_against_the_horizon():
    # 2 years = 730.5 days: 730 is short, 731 is not
    m = pd_.follow_up_maturity(_cohort_infused([10, 730, 731, 2000]), years=2)
    assert (m.n, m.n_short, m.years, m.threshold_days) == (4, 2, 2, 730.5)
    assert (m.min_days, m.max_days) == (10.0, 2000.0)
    assert m.share == "50.0%"


def test_maturity_default_horizon_is_the_last_report_year():
    m = pd_.follow_up_maturity(_cohort_infused([100]))
    assert m.years == survival.REPORT_YEARS[-1]


def test_maturity_item_none_all_some_short():
    none = pd_.maturity_item(maturity(n=10, n_short=0))
    assert "Every patient was infused at least 2 years before the cutoff" in none
    everyone = pd_.maturity_item(maturity(n=12, n_short=12))
    assert "All 12 patients were infused less than 2 years" in everyone and "not estimable" in everyone
    one = pd_.maturity_item(maturity(n=1, n_short=1))
    assert "The only patient was infused" in one
    some = pd_.maturity_item(maturity(n=334, n_short=75))
    assert "75 patients of 334 (22.5%) were infused less than 2 years before the cutoff" in some
    single = pd_.maturity_item(maturity(n=3, n_short=1))
    assert "1 patient of 3 (33.3%) was infused" in single
    for text in (none, everyone, one, some, single):
        assert not BAD.search(text)


def test_maturity_one_year_horizon_is_singular():
    assert "less than 1 year before" in pd_.maturity_item(maturity(n=5, n_short=2, years=1))


# --------------------------------------------------------------------------------- comparison
@pytest.mark.parametrize("k, n, lower, upper, expected", [
    (19, 20, 80.1, 88.2, "above the upper limit of that interval"),
    (18, 20, 80.1, 88.2, "above the upper limit of that interval"),
    (18, 20, 90.0, 99.0, "inside it"),             # on the lower limit, as printed
    (18, 20, 80.0, 90.04, "inside it"),            # upper limit prints 90.0
    (1, 20, 10.0, 30.0, "below its lower limit"),
    (20, 20, 29.2, 100.0, "inside it"),
])
def test_position_relative_to_our_interval(k, n, lower, upper, expected):
    assert pd_.position(k, n, lower, upper) == expected


@pytest.mark.parametrize("args", [(1, 0, 1.0, 2.0), (3, 2, 1.0, 2.0), (1, 2, float("nan"), 50.0)])
def test_position_refuses_no_rate(args):
    with pytest.raises(ValueError):
        pd_.position(*args)


def test_literature_paragraph_positions_follow_the_numbers():
    wide = pd_.literature_paragraph(figures(n_eval=3, cr=3, orr=3), ["T-ALL"])
    assert "both lie inside it" in wide
    narrow = pd_.literature_paragraph(figures(n_eval=329, cr=278, orr=284), ["T-ALL", "AML"])
    assert "both lie above the upper limit of that interval" in narrow
    assert "the patients here have T-ALL and AML" in narrow
    # a CR/CRi rate between the two published rates: one above, one inside
    mixed = pd_.literature_paragraph(figures(n_eval=400, cr=368, orr=370), ["T-ALL"])
    assert "lies above the upper limit of that interval, and" in mixed and "lies inside it" in mixed


def test_literature_paragraph_without_response():
    text = pd_.literature_paragraph(figures(n_eval=0), ["MGUS"])
    assert "Response was not assessed in these data" in text
    assert "CR/CRi rate was" not in text and not BAD.search(text)


def test_literature_numbers_are_the_papers():
    """The quoted numbers are rows of data/literature.yml, each found in the sentence it quotes."""
    from nscore.data.literature import read_literature

    lit = pd_.literature()
    v = dict(zip(lit["analysis_id"] + "|" + lit["group_var"] + "=" + lit["group_level"] + "|" + lit["stat"],
                 lit["value"]))
    assert (v["literature.lu2022ns7car.mrd_negative_cr|=|n"], v["literature.lu2022ns7car.mrd_negative_cr|=|N"]) \
        == (19, 20)
    assert (v["literature.pan2021jco.cr|=|n"], v["literature.pan2021jco.cr|=|N"]) == (18, 20)
    assert v["literature.tan2023jho.pfs_24m|=|time"] == 24 and v["literature.tan2023jho.os_24m|=|estimate"] == 42.3
    assert set(lit["method"]) == {f"published, {s.key}" for s in pd_.LITERATURE}
    assert {f.source for f in read_literature().figures} == {s.key for s in pd_.LITERATURE}


def test_every_literature_number_on_the_page_is_traced():
    """No digit of the quoted series is printed without its {ard} role (issue 13, Discussion >= 95%)."""
    texts = [pd_.literature_paragraph(figures(n_eval=329, cr=278, orr=284), ["T-ALL"]),
             pd_.survival_context(survival.kaplan_meier(_adtte([800, 900], [False, True]), "OS"),
                                  survival.kaplan_meier(_adtte([800, 900], [False, True]), "PFS")),
             pd_.transplant_paragraph(flow()), pd_.safety_paragraph({}, ())]
    for text in texts:
        # the CR/CRi rate of these data comes as the headline display of the test figures (untraced here)
        bare = text.replace(figures(n_eval=329, cr=278, orr=284).set_index("key").loc["cr_cri", "display"], " ")
        bare = re.sub(r"\{ard\}`[^`]*`|\{cite:p\}`[^`]*`|\{doc\}`[^`]*`", " ", bare)
        bare = re.sub(r"(?i:grades?) [0-9](?:\u2013[0-9])?|[0-9] years?|CD[0-9]+|CAR[0-9]|95% CI", " ", bare)
        assert not re.findall(r"(?<![A-Za-z0-9])[0-9]+", bare), bare


def test_literature_from_another_file_changes_the_words(tmp_path):
    """The paragraphs read the numbers from the literature rows they are given, not from code."""
    import yaml

    from nscore.data.literature import literature_path

    raw = yaml.safe_load(literature_path().read_text(encoding="utf-8"))
    for item in raw["literature"]:
        if item["source"] == "pan2021jco" and item["endpoint"] == "treated":
            item["value"] = 21
            item["sentence"] = "Twenty-one participants received infusions."
    (tmp_path / "literature.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    text = trace.plain(pd_.literature_paragraph(figures(), ["T-ALL"], pd_.literature(tmp_path)))
    assert "Those trials held 20 and 21 patients" in text and "In a single-centre phase I trial, 21 patients" in text


def test_every_cited_key_is_in_references_bib():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([\w-]+),", bib, flags=re.M))
    source = (ROOT / "nscore" / "report" / "prose" / "discussion.py").read_text(encoding="utf-8")
    cited = set(re.findall(r"\{cite:[pt]\}`([\w-]+)`", source)) | {s.key for s in pd_.LITERATURE}
    cited |= set(re.findall(r"\b(?:lu|tan|pan|chiesa)20[0-9]{2}[a-z0-9]+\b", source))
    assert cited and cited <= keys, cited - keys
    for key in cited - {"zhang2025ash"}:  # each new entry says what was verified
        entry = bib[bib.index("{" + key + ","):]
        entry = entry[:entry.index("\n}")]
        assert re.search(r"note\s*=", entry) or key in {"lu2022ns7car", "zhang2023ajh"}, key


# ---------------------------------------------------------------------------------- summary
def test_summary_simulated_only_when_simulated():
    sim = pd_.summary_paragraph(figures(), flow(), therapy="X", n_trials=5, diagnoses=["T-ALL"], simulated=True)
    real = pd_.summary_paragraph(figures(), flow(), therapy="X", n_trials=5, diagnoses=["T-ALL"], simulated=False)
    assert "simulated" in sim and "simulated" not in real
    assert "pooled from 5 trials" in real


def test_summary_on_odd_data():
    text = pd_.summary_paragraph(figures(n_eval=0, hct=None, os_median="not estimable", followup="not estimable"),
                                 flow(n_hct_total=None, n_hct_after_cr=None, n_cr_cri=0, n_evaluable=0),
                                 therapy="no treatment", n_trials=1, diagnoses=["MGUS"], simulated=False)
    assert "from a single trial" in text and "No patient was evaluable for response" in text
    assert "was not collected" in text and "is not estimable" in text
    assert "%" not in text and not BAD.search(text) and not JUDGEMENT.search(text)
    none = pd_.summary_paragraph(figures(hct=0), flow(n_hct_total=0, n_hct_after_cr=0), therapy="X",
                                 n_trials=2, diagnoses=["T-ALL"], simulated=False)
    assert "No patient was transplanted after infusion." in none


def test_survival_context_beyond_follow_up_and_no_events():
    short = _adtte([30, 60, 90], [True, False, False])
    text = _plain(pd_.survival_context)(survival.kaplan_meier(short, "OS"), survival.kaplan_meier(short, "PFS"))
    assert "too short for an estimate 2 years after infusion" in text and not BAD.search(text)
    censored = _adtte([800, 900, 1000], [False, False, False])
    text = _plain(pd_.survival_context)(survival.kaplan_meier(censored, "OS"), survival.kaplan_meier(censored, "PFS"))
    assert "estimates 2 years after infusion were 100.0%" in text


# ------------------------------------------------------------------------------- transplant
@pytest.mark.parametrize("f, expected", [
    (flow(n_hct_total=None, n_hct_after_cr=None), "was not collected in these data"),
    (flow(n_hct_total=0, n_hct_after_cr=0), "No patient was transplanted after infusion"),
    (flow(n_hct_total=2, n_hct_after_cr=2), "2 patients were transplanted after infusion, all of them as consolidation"),
    (flow(n_hct_total=1, n_hct_after_cr=1), "1 patient was transplanted after infusion, as consolidation"),
    (flow(n_hct_total=5, n_hct_after_cr=0), "5 patients were transplanted after infusion, none of them as"),
    (flow(n_hct_total=5, n_hct_after_cr=3, n_cr_cri=0), "5 patients were transplanted after infusion."),
])
def test_transplant_paragraph(f, expected):
    text = _plain(pd_.transplant_paragraph)(f)
    assert expected in text and not BAD.search(text)


# ---------------------------------------------------------------------------------- safety
def test_safety_not_collected_still_cites_but_claims_nothing():
    text = _plain(pd_.safety_paragraph)({}, ())
    assert text.startswith("Adverse events were not collected in these data")
    assert "In these data," not in text and "{cite:p}`pan2021jco`" in text


def test_safety_zero_events_and_missing_categories():
    text = _plain(pd_.safety_paragraph)({"CRS": _inc("CRS", 3, 0, 3), "ICANS": _inc("ICANS", 0, 0, 3)}, ["CRS", "ICANS"])
    assert "CRS of any grade occurred in 100.0% (3/3) and none was of grade 3 or higher" in text
    assert "no patient had ICANS" in text
    assert "prolonged cytopenias" in text and "0.0% (0/" not in text
    full = _plain(pd_.safety_paragraph)({"CRS": _inc("CRS", 3, 1, 3)}, [c for c, _ in pd_.TOXICITIES])
    assert "hold no record" not in full


def test_missing_toxicities_case_insensitive():
    assert pd_.missing_toxicities(["crs", "Icans", "GVHD"]) == [
        "prolonged cytopenias", "infections", "IEC-associated haemophagocytic syndrome (IEC-HS)"]


# ------------------------------------------------------------------------------ limitations
def _limits(**kw):
    args = dict(n_trials=5, therapy="NS7CAR-T", flow=flow(), maturity=maturity(), simulated=True,
                collected_categories=("CRS", "ICANS"), n_evaluable=90, published_source="zhang2025ash")
    args.update(kw)
    return pd_.limitations(**args)


def test_limitations_shipped_like():
    text = _limits()
    for head in ("Pooled single-arm trials", "Confounding by indication", "Immature follow-up", "Simulated data",
                 "Incomplete safety data"):
        assert f"**{head}" in text
    assert "{cite:p}`zhang2025ash`" in text
    assert "immortal-time bias" in text and "not this selection" in text


def test_limitations_real_one_trial_nothing_collected():
    text = _limits(n_trials=1, flow=flow(n_hct_total=None, n_hct_after_cr=None, n_cr_cri=0, n_evaluable=0),
                   maturity=maturity(n_short=0), simulated=False, collected_categories=(), n_evaluable=0,
                   published_source=None)
    assert "simulated" not in text.lower()
    assert "**No comparison group.**" in text and "Pooled" not in text
    assert "Confounding" not in text
    assert "**Response not assessed.**" in text and "**Safety not collected.**" in text
    assert "Every patient was infused at least 2 years" in text
    assert text.count("\n- ") == 3 and not BAD.search(text)


def test_limitations_simulated_without_published_figures_does_not_cite():
    text = _limits(published_source=None, flow=flow(n_hct_total=0, n_hct_after_cr=0))
    assert "simulated" in text and "cite" not in text and "Confounding" not in text


# ------------------------------------------------------------------------------- conclusion
def test_conclusion_shipped_like():
    text = pd_.conclusion(figures(), flow(), therapy="NS7CAR-T", n_trials=5, simulated=True, ae_collected=True,
                          maturity=maturity())
    assert text.startswith("In these simulated data of 100 patients who received NS7CAR-T in 5 trials")
    assert "Grade 3 or higher CRS occurred in 10.0%" in text
    assert "what part transplantation played" in text and "can change" in text
    assert not JUDGEMENT.search(text)


def test_conclusion_not_estimable_and_not_collected():
    text = pd_.conclusion(figures(n_eval=0, hct=None, crs_g3=None, icans_g3=None,
                                  os2=("not estimable", "not estimable"), pfs2=("not estimable", "not estimable")),
                          flow(n_hct_total=None, n_hct_after_cr=None), therapy="X", n_trials=1, simulated=False,
                          ae_collected=False, maturity=maturity(n_short=0))
    assert "response was not assessed, so no remission rate is estimable" in text
    assert "Survival 2 years after infusion is not estimable" in text
    assert "Adverse events were not collected" in text
    assert "simulated" not in text and "transplantation played" not in text and "can change" not in text
    assert not BAD.search(text)


def test_conclusion_zero_severe_events_and_pfs_not_estimable():
    text = pd_.conclusion(figures(crs_g3=(0, 3), icans_g3=(0, 3), pfs2=("not estimable", "not estimable")),
                          flow(), therapy="X", n_trials=2, simulated=False, ae_collected=True, maturity=maturity())
    assert "Grade 3 or higher CRS occurred in no patient (0/3" in text
    assert "progression-free survival at that time is not estimable" in text
