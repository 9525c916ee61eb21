"""Data-dependent sentences of the methods chapter.

Design (trials and diagnoses from the study definition), the analysis populations that apply,
endpoints and response criteria for the diagnoses the study has, the adverse-event grading only
when adverse events were collected, group comparisons and transplant analyses only when the data
allow them, and the data model (datasets collected, optional variables not collected, delivered
columns not used). Functions take the cohort (``versions.load``) and return MyST text.
"""

from __future__ import annotations

from typing import Mapping

from nscore.analyses.settings import CR_MARROW_BLASTS, grade_range, setting_key
from nscore.report import format as fmt
from nscore.report.narrative import capitalize, count, join
from nscore.report.tables import RATE_YEARS, YEAR_DAYS, _inline
from nscore.report.trace import role

__all__ = [
    "design",
    "populations",
    "response_endpoint",
    "ae_endpoint",
    "criteria",
    "ae_grading",
    "rate_years_text",
    "year_days_text",
    "setting_text",
    "applicability",
    "time_units",
    "efficacy_analyses",
    "safety_analyses",
    "patient_flow",
    "data_model",
    "ELN_CODES",
]

#: Diagnosis codes whose responses follow the European LeukemiaNet recommendations (acute myeloid
#: leukemia) rather than the general acute-leukemia marrow criteria.
ELN_CODES = ("AML",)

AE_LONG = {"CRS": "cytokine release syndrome (CRS)",
           "ICANS": "immune effector cell-associated neurotoxicity syndrome (ICANS)"}


def _collected(cohort, dataset: str, variable: str | None = None) -> bool:
    """``cohort.collected(...)``, also for a plain namespace of frames (absent frame or column = not collected)."""
    if hasattr(cohort, "collected"):
        return bool(cohort.collected(dataset, variable))
    frame = getattr(cohort, dataset, None)
    return frame is not None and (variable is None or variable in frame.columns)


def _study(cohort):
    if getattr(cohort, "study", None) is None:
        raise ValueError("the cohort carries no study definition (cohort.study)")
    return cohort.study


def _n_evaluable(cohort) -> int:
    return int((cohort.adsl["EFFFL"] == "Y").sum())


def _ae(cohort) -> tuple[str, ...]:
    from nscore.analyses.safety import syndromes

    return syndromes(cohort)


def design(cohort, cutoff: str, keys: Mapping[str, str] | None = None) -> str:
    """"Design and populations" opening: the trials (ids), the diagnoses and the therapy, counted.

    ``keys``: ARD keys of the counts (``trials``, ``diagnoses``) for the ``{ard}`` role."""
    k = dict(keys or {})
    study = _study(cohort)
    trials = [_inline(t.id) for t in study.trials]
    diags = [_inline(d.code) for d in study.diagnoses]
    cite = f" {{cite:p}}`{_inline(study.published.source)}`" if study.published is not None else ""
    if len(trials) == 1:
        where = f"The analysis covers the patients of {count(1, 'trial')} (registration {trials[0]}){cite}."
    else:
        where = (f"The analysis pools the patients of {count(len(trials), 'trial', key=k.get('trials'))} (registrations "
                 f"{join(trials)}){cite}.")
    return (f"{where} Included are patients with {join(diags, 'or')} ({count(len(diags), 'diagnosis', key=k.get('diagnoses'))} in the "
            f"study definition) who received {_inline(study.therapy)}. Time zero for every time-to-event endpoint "
            f"is the day of infusion (ADSL `TRTSDT`). This page was built for the data cutoff {cutoff}.")


def populations(cohort, key: str | None = None) -> str:
    """The analysis populations that apply, as a MyST definition list with a counted lead-in
    (``key``: the ARD key of their count, ``methods.populations|=|n``)."""
    ae = _ae(cohort)
    n_eval = _n_evaluable(cohort)
    safety = "every infused patient (ADSL `SAFFL = \"Y\"`); "
    safety += (f"the denominator of the {join(ae)} rates and the population of the survival analyses."
               if ae else "the population of the survival analyses.")
    items = [("Safety population", safety)]
    eff = ("infused patients with an assessable response (ADSL `EFFFL = \"Y\"`); the denominator of the "
           "response rates. Patients whose best response could not be assessed after inclusion count as "
           "non-responders.")
    if n_eval == 0:
        eff += " No patient of this cutoff is efficacy-evaluable, so no response rate is reported."
    items.append(("Efficacy-evaluable population", eff))
    if _collected(cohort, "adsl", "HCTFL"):
        items.append(("Transplanted patients",
                      "patients who received an allogeneic haematopoietic cell transplant (allo-HCT) after "
                      "infusion, as consolidation in remission or as salvage (ADSL `HCTFL = \"Y\"`), with its date."))
    lead = f"The analyses use {count(len(items), 'population', key=key)}:"
    return "\n\n".join([lead] + [f"{term}\n: {text}" for term, text in items])


def response_endpoint(cohort) -> str:
    """ORR and CR/CRi definitions, or one line when nobody was evaluable for response."""
    if _n_evaluable(cohort) == 0:
        return ("No response was assessed in this cutoff's data (no patient is efficacy-evaluable), so the "
                "response endpoints (overall response rate, CR/CRi rate) are not reported.")
    return ("The overall response rate (ORR) is the share of evaluable patients whose best overall response was "
            "complete remission (CR), CR with incomplete haematological recovery (CRi) or partial response (PR); "
            "the CR/CRi rate counts CR and CRi only.")


def ae_endpoint(cohort) -> str:
    """How adverse events are counted, or that they were not collected."""
    ae = _ae(cohort)
    if not ae:
        return "Adverse events were not collected in this cutoff's data."
    names = join(AE_LONG.get(a, a) for a in ae)
    verb = "is" if len(ae) == 1 else "are"
    return f"{names[:1].upper() + names[1:]} {verb} counted once per patient at the maximum grade."


def criteria(cohort, traced: bool = False) -> str:
    """Bullets of the response criteria for the diagnoses the study lists (only families present).
    ``traced``: the marrow-blast criterion carries its key (:func:`nscore.analyses.settings.setting_key`)."""
    study = _study(cohort)
    mrd = _collected(cohort, "adrs", "MRDSTAT")
    leuk = [d.code for d in study.diagnoses if d.criteria == "leukemia" and d.code not in ELN_CODES]
    eln = [d.code for d in study.diagnoses if d.criteria == "leukemia" and d.code in ELN_CODES]
    lymph = [d.code for d in study.diagnoses if d.criteria == "lymphoma"]
    bullets = []
    if leuk:
        blasts = fmt.percent(CR_MARROW_BLASTS, digits=0)
        if traced:
            blasts = role(blasts, setting_key("cr_marrow_blasts"))
        text = (f"- **{join(_inline(c) for c in leuk)}**: marrow CR is fewer than {blasts} blasts with no circulating "
                "blasts and no extramedullary disease, with recovery of neutrophils and platelets; CRi is the same "
                "without full count recovery.")
        if mrd:
            text += (" Measurable residual disease (MRD) is assessed by flow cytometry in remission, and the MRD "
                     "status is recorded with the best response.")
        bullets.append(text)
    if eln:
        bullets.append(f"- **{join(_inline(c) for c in eln)}**: CR, CRi and partial remission as defined by the "
                       "European LeukemiaNet 2022 recommendations {cite:p}`dohner2022eln`.")
    if lymph:
        bullets.append(f"- **{join(_inline(c) for c in lymph)}**, and extramedullary disease in general: the Lugano "
                       "classification {cite:p}`cheson2014lugano`, based on PET-CT or CT; complete metabolic or "
                       "radiological response counts as CR and partial response as PR.")
    lead = ("Response is assessed with the criteria of each disease:" if _n_evaluable(cohort)
            else "No response was assessed in this cutoff's data; the study definition assigns these criteria:")
    return "\n".join([lead, ""] + bullets)


def ae_grading(cohort, traced: bool = False) -> str:
    """What the ASTCT scale grades for the collected syndromes; one line when none were collected.

    The chapter cites the scale in its own text; this says what applies to this cutoff.
    """
    ae = _ae(cohort)
    if not ae:
        return "Adverse events were not collected in this cutoff's data, so no toxicity grading applies."
    what = {"CRS": "CRS grade by fever with hypotension and hypoxia and their treatment",
            "ICANS": "ICANS grade by the ICE encephalopathy score, level of consciousness, seizures, motor "
                     "findings and cerebral oedema"}
    defs = [what[a] for a in ae if a in what]
    low, high = (str(g) for g in grade_range())
    if traced:
        low, high = role(low, "methods.ae_grading|=|min"), role(high, "methods.ae_grading|=|max")
    text = f"This cutoff's data grade {join(ae)} from {low} to {high} on that scale"
    return text + (f", which defines {join(defs)}." if defs else ".")


def rate_years_text(traced: bool = False) -> str:
    """"1 and 2 years": the times at which survival rates are read (``tables.RATE_YEARS``); ``traced``:
    each carries the key of its settings row (``methods.settings|parameter=rate_year_<i>|time``)."""
    years = [setting_text(y, f"rate_year_{i}") if traced else str(y) for i, y in enumerate(RATE_YEARS, start=1)]
    return join(years) + (" year" if tuple(RATE_YEARS) == (1,) else " years")


def year_days_text(traced: bool = False) -> str:
    """"365.25": days per year (``tables.YEAR_DAYS``)."""
    return setting_text(YEAR_DAYS, "year_days") if traced else f"{YEAR_DAYS:g}"


def setting_text(value, parameter: str) -> str:
    """A setting of :func:`nscore.analyses.settings.settings_rows` as a traced number (``100``, ``365.25``)."""
    digits = 0 if float(value).is_integer() else 2
    return role(fmt.number(value, digits), setting_key(parameter))


def _settings_list(values, prefix: str, traced: bool) -> str:
    """``"100, 365 and 730"``: settings ``<prefix>_<i>`` (1-based), traced when asked."""
    return join(setting_text(v, f"{prefix}_{i}") if traced else fmt.number(v, 0 if float(v).is_integer() else 2)
                for i, v in enumerate(values, start=1))


def _setting(value, parameter: str, traced: bool) -> str:
    return setting_text(value, parameter) if traced else fmt.number(value, 0 if float(value).is_integer() else 2)


def time_units(traced: bool = False) -> str:
    """The book's one unit convention for times (:func:`nscore.report.tables.time_convention`), the
    days per month traced to its settings row (``days_per_month``)."""
    from nscore.report import format as _fmt
    from nscore.report.tables import time_convention

    return time_convention(_setting(_fmt.DAYS_PER_MONTH, "days_per_month", traced))


def efficacy_analyses(cohort, *, landmark_day: float, traced: bool = False) -> str:
    """The standard CAR-T efficacy analyses of Results (issue 15) as a MyST definition list: duration
    of response and relapse-free survival, the landmark analysis by response (and MRD), relapse and
    non-relapse mortality by transplant, hazard ratios by subgroup, the swimmer lanes. Each says
    what it needs when this cutoff's data lack it (nobody evaluable, MRD or transplants not collected)."""
    from nscore.analyses import outcomes

    months = _settings_list(outcomes.RATE_MONTHS, "response_rate_month", traced)
    day = _setting(outcomes.RESPONSE_LANDMARK_DAY, "response_landmark_day", traced)
    hct_day = _setting(landmark_day, "landmark_day", traced)
    lane = _setting(outcomes.LANE_MONTHS, "lane_months", traced)
    small = _setting(outcomes.MIN_LANE_PATIENTS, "min_lane_patients", traced)
    evaluable = _n_evaluable(cohort) > 0
    mrd = _collected(cohort, "adrs", "MRDSTAT")
    items = []
    dor = ("Duration of response (DOR) among responders (CR, CRi or PR) and relapse-free survival (RFS) among "
           "patients in CR/CRi run from the assessment of the best response (ADRS `ADT`, the only response "
           "date the data model holds) to relapse, progression or death, censored where progression-free "
           "survival is censored. They are estimated by the Kaplan-Meier method with log-log confidence "
           f"intervals, and their rates are read at {months} months after the response.")
    if not evaluable:
        dor += " No patient of this cutoff is efficacy-evaluable, so they are not reported."
    items.append(("Duration of response", dor))
    groups = ("CR/CRi with negative, positive or not assessed measurable residual disease (MRD), and no "
              "CR/CRi" if mrd else "CR/CRi against no CR/CRi (MRD was not collected in this cutoff's data)")
    items.append(("Outcome by response at a landmark",
                  f"Grouping patients by their best response would credit responders with the time they had to "
                  f"survive to respond. Overall and progression-free survival are therefore compared from day "
                  f"{day} after infusion, among efficacy-evaluable patients alive, event-free and in follow-up "
                  f"that day, by the response assessed on or before it: {groups}. A response assessed later "
                  "counts as no CR/CRi at the landmark. Groups are compared with the log-rank test."
                  + ("" if evaluable else " No patient of this cutoff is efficacy-evaluable, so it is not reported.")))
    hct = ("Relapse or progression and non-relapse mortality (death without prior relapse) are estimated "
           f"from the day-{hct_day} landmark by the Aalen-Johansen method, each the other's competing event, "
           "among patients alive, relapse-free and in follow-up at the landmark, grouped by an allogeneic "
           "transplant done by then; a later transplant stays in the group without transplant, so no "
           "immortal time is credited to transplantation. The groups are compared with Gray's test "
           "{cite:p}`gray1988`.")
    if not _collected(cohort, "adsl", "HCTDT"):
        hct += " Transplant dates were not collected in this cutoff's data, so this analysis is not reported."
    items.append(("Relapse and non-relapse mortality by transplant", hct))
    items.append(("Hazard ratios by subgroup",
                  "For overall and progression-free survival, one Cox model per baseline factor (diagnosis, age "
                  "group, prior transplant, marrow blasts, dose level and sex, where collected) gives the hazard "
                  "ratio of each level against the factor's reference level (the first level in clinical order "
                  "with an event), with Efron's handling of ties and Wald confidence intervals. The models are "
                  "unadjusted and descriptive; a level without events is not estimable."))
    items.append(("Swimmer lanes",
                  f"Instead of one bar per patient, the swimmer plot shows, for each best-response group, how "
                  f"many patients were in each state (no response yet, in response, transplanted in remission, "
                  f"relapsed or progressed, died, follow-up ended) every {lane} months after infusion. "
                  f"Groups of fewer than {small} patients are combined, and left out when still smaller, so "
                  "that no lane shows an individual course."))
    return "\n\n".join(f"{term}\n: {text}" for term, text in items)


def safety_analyses(cohort, traced: bool = False) -> str:
    """The safety analyses beyond CRS/ICANS (issue 15) as a MyST definition list: adverse events by
    term, the course of cytopenias, CRS/ICANS treatment, non-relapse mortality and causes of death;
    what this cutoff's delivery did not collect is named, never counted as zero."""
    from nscore.analyses import toxicity

    cats = toxicity.categories(cohort)
    missing = [c for c in toxicity.not_collected(cohort) if c not in ("CRS", "ICANS")]
    items = []
    if cats:
        terms = ("Adverse events are counted once per patient and term and once per category, at the worst "
                 "grade, as any grade and as grade 3 or higher, in the safety population.")
        ctcae = [w for c, w in (("CYTOPENIA", "cytopenias"), ("INFECTION", "infections"),
                                ("GVHD", "graft-versus-host disease")) if c in cats]
        if ctcae:
            terms += (f" {capitalize(join(ctcae))} {'is' if ctcae == ['graft-versus-host disease'] else 'are'} "
                      "graded with the Common Terminology Criteria for Adverse Events (CTCAE v5.0).")
        if "IEC-HS" in cats:
            terms += (" Immune effector cell-associated haemophagocytic lymphohistiocytosis-like syndrome "
                      "(IEC-HS) is identified and graded as the ASTCT defines it.")
        if missing:
            terms += f" Not collected in this cutoff's data: {join(_inline(c) for c in missing)}."
        items.append(("Adverse events by term", terms))
    else:
        items.append(("Adverse events by term", "Adverse events were not collected in this cutoff's data."))
    if "CYTOPENIA" in cats:
        days = _settings_list(toxicity.COURSE_DAYS, "cytopenia_day", traced)
        items.append(("Cytopenias over time",
                      "The share of patients with a cytopenia of grade 3 or higher ongoing (from its onset to its "
                      f"resolution, or to the end of follow-up when unresolved) is read on days {days} after "
                      "infusion, among patients alive and in follow-up that day."))
    if any(c in cats for c in ("CRS", "ICANS")):
        tx = ("The share of patients given tocilizumab or corticosteroids for CRS or ICANS is given among all "
              "infused patients and among those with each syndrome.")
        if not (_collected(cohort, "adae", "TOCIFL") and _collected(cohort, "adae", "STERFL")):
            tx = "The treatment of CRS and ICANS (tocilizumab, corticosteroids) was not collected in this cutoff's data."
        items.append(("Treatment of CRS and ICANS", tx))
    nrm_days = _settings_list(toxicity.NRM_DAYS, "nrm_day", traced)
    deaths = ("Non-relapse mortality, death without a prior relapse or progression, is estimated from "
              "infusion by the Aalen-Johansen method with relapse or progression as the competing event, "
              f"and read on days {nrm_days} after infusion. ")
    deaths += ("The primary cause of each death is tabulated as the delivery records it (ADSL `DTHCAUS`)."
               if _collected(cohort, "adsl", "DTHCAUS") else
               "Causes of death were not collected in this cutoff's data.")
    items.append(("Non-relapse mortality and causes of death", deaths))
    return "\n\n".join(f"{term}\n: {text}" for term, text in items)


def patient_flow(cohort) -> str:
    """How the patient-flow (CONSORT) diagram is drawn: from enrolment when the delivery holds the
    optional disposition dataset ADDS, else from infusion."""
    base = ("The patient-flow diagram is drawn from the data: the safety population, the efficacy-evaluable "
            "patients, responders, CR/CRi and, where transplants are recorded, transplants after the CR/CRi.")
    if getattr(cohort, "adds", None) is not None:
        return ("The patient-flow diagram follows the CONSORT layout from enrolment: apheresis, manufacturing "
                "and infusion from the disposition dataset ADDS, with the reasons recorded for patients who did "
                "not go on, per trial, then " + base[len("The patient-flow diagram is drawn from the data: "):]
                + " Steps the delivery does not record are left out, not drawn as zero.")
    return (base + " The disposition dataset ADDS (enrolment, apheresis and manufacturing) was not delivered, so "
            "the diagram starts at infusion; steps the delivery does not record are left out, not drawn as zero.")


def applicability(cohort) -> str:
    """Which of the generic methods above do not apply to this cutoff's data, in one sentence each;
    ``""`` when all apply. Group comparisons need at least two diagnoses or prior-transplant
    groups; the transplant analyses need transplants recorded (HCTFL collected, somebody transplanted)."""
    adsl = cohort.adsl
    groups = []
    if adsl["DIAG"].nunique() >= 2:
        groups.append("diagnosis")
    if _collected(cohort, "adsl", "PRIORHCT") and adsl["PRIORHCT"].nunique() >= 2:
        groups.append("number of prior transplants")
    out = []
    if not groups:
        why = ["the data hold a single diagnosis"]
        why.append("prior transplants were not collected" if not _collected(cohort, "adsl", "PRIORHCT")
                   else "every patient has the same number of prior transplants")
        out.append(f"In this cutoff's data no group comparison applies: {join(why)}.")
    if not _collected(cohort, "adsl", "HCTFL"):
        out.append("Transplants after infusion were not collected in this cutoff's data, so the transplant "
                   "analyses are not reported.")
    elif int((adsl["HCTFL"] == "Y").sum()) == 0:
        out.append("No patient of this cutoff was transplanted after infusion, so the transplant analyses are "
                   "not reported.")
    return " ".join(out)


def _optional_missing(cohort) -> dict[str, list[str]]:
    from nscore.data.schema import OPTIONAL

    out = {}
    for dataset, names in OPTIONAL.items():
        frame = getattr(cohort, dataset, None)
        if frame is None:
            continue
        missing = sorted(n for n in names if n not in frame.columns)
        if missing:
            out[dataset] = missing
    return out


def _unused(notes) -> list[str]:
    """"adsl.csv: not used: hgb, creat" -> "hgb and creat (adsl.csv)"."""
    out = []
    for note in notes or ():
        text = str(note)
        if ": not used: " in text:
            file, cols = text.split(": not used: ", 1)
            out.append(f"{join('`' + c.strip() + '`' for c in cols.split(','))} ({_inline(file)})")
        else:
            out.append(_inline(text))
    return out


def data_model(cohort, key: str | None = None) -> str:
    """What this cutoff's delivery holds: datasets collected, optional variables not collected,
    columns delivered but not used, and the reference to ``tbl-datasets`` (``key``: the ARD key of
    the number of datasets, ``data.datasets|=|n``)."""
    from nscore.report.tables import DATASETS

    held = [DATASETS[n][0] for n in DATASETS if getattr(cohort, n, None) is not None]
    absent = [DATASETS[n][0] for n in DATASETS if getattr(cohort, n, None) is None]
    parts = [f"{{numref}}`tbl-datasets` lists the {count(len(held), 'dataset', key=key)} of this cutoff ({join(held)})."]
    if absent:
        parts.append(f"{join(absent)} {'was' if len(absent) == 1 else 'were'} not collected.")
    missing = _optional_missing(cohort)
    if missing:
        listed = [f"{join('`' + v + '`' for v in names)} ({DATASETS[ds][0]})" for ds, names in missing.items()]
        parts.append(f"Optional variables not collected: {'; '.join(listed)}; the analyses that need them are "
                     "left out and the pages say so.")
    else:
        parts.append("Every optional variable of the data model was collected.")
    unused = _unused(getattr(cohort, "notes", ()))
    if unused:
        parts.append(f"Delivered but not used by any analysis: {'; '.join(unused)}.")
    return " ".join(parts)
