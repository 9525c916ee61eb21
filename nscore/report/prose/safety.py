"""The Safety chapter's data-dependent sentences (CRS and ICANS).

Each function takes results of :mod:`nscore.analyses.safety` (never patient rows) and returns text for
:func:`nscore.report.narrative.md`. What the words must not do, whatever the data:

- call a syndrome that was not collected "0%" or compare it with anything ("adverse events were
  not collected in this delivery" is said once, and nothing else is shown);
- print "n/a" for the onset of a syndrome nobody had ("no patient had ICANS": its onset and
  duration are not applicable), or a median of one value ("the only patient with ICANS");
- type a comparison: "far less common than" comes from :func:`nscore.report.narrative.compare_rates`
  (``far=``: the exact 95% intervals do not overlap), so it reads "as common as" for a tie and
  cannot contradict the printed rates;
- refer to a table or figure that the chapter does not show: the ``{numref}`` roles are written
  here only in the sentences the chapter shows next to its table.

Numbers are formatted by :mod:`nscore.report.format` (rates) and
:func:`nscore.analyses.safety.onset_duration` (medians); the only formatter written here is
:func:`days` (a day count with its unit, "1 day" / "4.5 days"), which :mod:`nscore.report.tables` lacks.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from nscore.report import narrative
from nscore.report.narrative import capitalize, count, join, sentence
from nscore.report import format as fmt
from nscore.report.trace import cite, role
from nscore.analyses.safety import ALL_UNRESOLVED, NO_EVENTS, STATUS_TEXT, SYNDROMES
from nscore.analyses.toxicity import slug as _slug

__all__ = [
    "NAMES",
    "long_name",
    "days",
    "not_collected",
    "introduction",
    "incidence_paragraph",
    "incidence_caption",
    "grades_paragraph",
    "grades_table_caption",
    "grades_figure_caption",
    "grades_alt_text",
    "timing_paragraph",
    "show_timing_table",
    "timing_notes",
    "timing_caption",
    "no_severe_events",
    "by_dose_paragraph",
    "by_blasts_paragraph",
    "by_dose_caption",
    "by_blasts_caption",
    "CATEGORY_NAMES",
    "category_name",
    "others_not_collected",
    "other_events_paragraph",
    "terms_caption",
    "cytopenia_paragraph",
    "cytopenia_caption",
    "cytopenia_notes",
    "treatment_paragraph",
    "deaths_paragraph",
    "nrm_paragraph",
    "nrm_figure_caption",
    "causes_paragraph",
    "causes_caption",
]

#: What each syndrome is called in prose, before its abbreviation.
NAMES = {"CRS": "cytokine release syndrome", "ICANS": "neurotoxicity"}


def long_name(syndrome: str) -> str:
    """``"cytokine release syndrome (CRS)"``: the first mention of a syndrome."""
    return f"{NAMES.get(syndrome, syndrome)} ({syndrome})" if syndrome in NAMES else syndrome


def _abbr_list(syndromes: Sequence[str]) -> str:
    return join(syndromes)


def days(x: float, key: str | None = None) -> str:
    """``"1 day"``, ``"0 days"``, ``"4.5 days"`` (:func:`nscore.report.format.days`); with the
    ``{ard}`` role when ``key`` is given."""
    text = fmt.days(x)
    return text if key is None else role(text, key)


# --------------------------------------------------------------------------------- not collected
def not_collected() -> str:
    """The chapter's only line when the delivery has no adverse-event data."""
    return ("Adverse events were not collected in this delivery, so this chapter has no "
            "incidence, grade, onset or duration of any toxicity to report; deaths and non-relapse "
            "mortality, which need no adverse-event data, are reported at the end.")


def section_not_collected() -> str:
    """A section's one line when the delivery has no adverse-event data (its heading stays, so the
    page keeps the same outline, and navigation, for every cohort)."""
    return "Not collected in this delivery."


# ---------------------------------------------------------------------------------- introduction
def introduction(n_safety: int, collected: Sequence[str], known: Sequence[str] = SYNDROMES,
                 key: str | None = None) -> str:
    """Who is counted, how, and (when the study collected only some syndromes) which were not.

    ``collected`` is :func:`nscore.analyses.safety.syndromes`; ``known`` the syndromes the book can report.
    """
    if not collected:
        return not_collected()
    missing = [s for s in known if s not in collected]
    text = [sentence(f"toxicity is reported for the safety population of "
                     f"{count(n_safety, 'infused patient', key=key)}")]
    text.append("Each patient is counted once per syndrome, at the highest grade reached on the ASTCT "
                "consensus scale {cite:p}`lee2019astct`; confidence intervals are exact (Clopper-Pearson).")
    if missing:
        verb = "was" if len(collected) == 1 else "were"
        text.append(sentence(f"only {join(long_name(s) for s in collected)} {verb} collected in this "
                             f"delivery; {join(long_name(s) for s in missing)} "
                             f"{'was' if len(missing) == 1 else 'were'} not, so "
                             f"{'it has' if len(missing) == 1 else 'they have'} no results here"))
    return " ".join(text)


def _with_ref(text: str, ref: str, what: str) -> str:
    """``text`` and a sentence pointing to table ``ref`` (unchanged when ``ref`` is "")."""
    if not ref:
        return text
    return f"{text} {sentence(f'{{numref}}`{ref}` {what}')}"


# ------------------------------------------------------------------------------------- incidence
def _breakdown(inc) -> str:
    """After "occurred in <rate>": the split into grade 1-2 and grade >= 3, as the counts allow."""
    g12, g3, k = inc.grade_1_2, inc.grade_3_plus, inc.any_grade.k
    if g12.k and g3.k:
        base = f"safety.{inc.syndrome.lower()}"
        return (f": grade 1 or 2 in {cite(inc, f'{base}.g1_2', fmt.proportion)} and grade 3 or higher in "
                f"{cite(inc, f'{base}.g3', fmt.proportion)}")
    if g12.k:
        return ", at grade 1 or 2" if k == 1 else ", all at grade 1 or 2 (no patient had grade 3 or higher)"
    return ", at grade 3 or higher" if k == 1 else ", all at grade 3 or higher (none at grade 1 or 2)"


def incidence_paragraph(incidences: Mapping, ref: str = "tbl-incidence") -> str:
    """The incidence of each collected syndrome, in order, the later ones compared with the first.

    Parameters
    ----------
    incidences : mapping syndrome -> :class:`nscore.analyses.safety.Incidence`
        Only the collected syndromes, in :data:`nscore.analyses.safety.SYNDROMES` order (at least one).
    ref : str
        Label of the incidence table the chapter shows beside this paragraph ("" for none).
    """
    if not incidences:
        raise ValueError("no syndrome collected: use not_collected()")
    items = list(incidences.items())
    first_s, first = items[0]
    out = []
    for i, (s, inc) in enumerate(items):
        name = long_name(s)
        if inc.any_grade.k == 0:
            either = " either" if i > 0 and first.any_grade.k == 0 else ""
            n = inc.any_grade.n
            if n == 1:
                out.append(sentence(f"the only patient in the safety population did not have {name}{either}"))
            else:
                out.append(sentence(f"none of the {count(n, 'patient', key=f'safety.{s.lower()}.any|=|N')} "
                                    f"had {name}{either}"))
            continue
        any_grade = cite(inc, f"safety.{s.lower()}.any", fmt.proportion)
        if i == 0:
            head = f"{name} of any grade occurred in {any_grade}"
        else:
            word = narrative.compare_rates(inc.any_grade, first.any_grade, far="far")
            head = f"{name} was {word} {first_s}, occurring in {any_grade}"
        out.append(sentence(head + _breakdown(inc)))
    return _with_ref(" ".join(out), ref, "lists the rates by grade group")


def incidence_caption(collected: Sequence[str]) -> str:
    return f"Incidence of {_abbr_list(collected)} in the safety population, by maximum ASTCT grade."


# ---------------------------------------------------------------------------- grade distribution
def grades_paragraph(collected: Sequence[str], table_ref: str = "tbl-grades", figure_ref: str = "fig-grades") -> str:
    one = len(collected) == 1
    bar = "the bar spans" if one else "each bar spans"
    return (f"{{numref}}`{table_ref}` and {{numref}}`{figure_ref}` break the maximum grade down further; "
            f"{bar} the whole safety population, so the share of patients without "
            f"{'the syndrome' if one else 'each syndrome'} is shown too.")


def grades_table_caption(collected: Sequence[str]) -> str:
    of = join((f"of {s}" for s in collected))
    return f"Patients by maximum ASTCT grade {of}, n (% of the safety population)."


def grades_figure_caption(collected: Sequence[str]) -> str:
    return (f"Share of the safety population by maximum ASTCT grade of {join(long_name(s) for s in collected)}. "
            "Grey: no event; blues: grades 1 and 2; orange, vermillion and black: grades 3, 4 and 5.")


def grades_alt_text(collected: Sequence[str]) -> str:
    if len(collected) == 1:
        bars = f"One horizontal stacked bar for {collected[0]}, spanning"
    else:
        bars = (f"{capitalize(count(len(collected), 'horizontal stacked bar'))}, one for each of "
                f"{join(collected)}, each spanning")
    return f"{bars} the safety population and divided by maximum ASTCT grade from no event through grade 5."


# -------------------------------------------------------------------------- onset and duration
def _range(row: Mapping, key: str | None = None) -> str:
    span = fmt.range_(row["median"], row["min"], row["max"], median=False)
    return f"range {span if key is None else role(span, key)} days"


def _onset_text(row: Mapping, key: str | None = None) -> str:
    if float(row["median"]) == 0:
        return "on the day of infusion"
    return f"{days(row['median'], key and f'{key}|=|median')} after infusion"


def _timing_sentence(syndrome: str, onset: Mapping, duration: Mapping) -> str:
    on, dur = f"safety.{syndrome.lower()}.onset", f"safety.{syndrome.lower()}.duration"  # ARD ids
    n_events = int(onset["n_events"])
    ongoing = int(duration["n_ongoing"])
    if n_events == 0 or onset["status"] == NO_EVENTS:
        return sentence(f"no patient had {syndrome}, so its onset and duration are not applicable")
    if n_events == 1:
        first = f"the only patient with {syndrome} had its onset {_onset_text(onset, on)}"
        if duration["status"] == ALL_UNRESOLVED:
            return sentence(first + "; it was unresolved at death or cutoff, so its duration is not known")
        return sentence(first + f", and it lasted {days(duration['median'], f'{dur}|=|median')}")
    if onset["min"] == onset["max"]:
        text = (f"{syndrome} began {_onset_text(onset, on)} in each of the "
                f"{count(n_events, 'patient', key=f'{on}|=|events')} who had it")
    else:
        text = (f"{syndrome} began a median of {days(onset['median'], f'{on}|=|median')} after infusion "
                f"({_range(onset, on)}) in the {count(n_events, 'patient', key=f'{on}|=|events')} who had it")
    if duration["status"] == ALL_UNRESOLVED:
        every = "both were" if n_events == 2 else "every event was"
        return sentence(text + f"; {every} unresolved at death or cutoff, so the duration is not known")
    n_dur = int(duration["n"])
    if duration["min"] == duration["max"]:
        text += f", and lasted {days(duration['median'], f'{dur}|=|median')}"
    else:
        text += f", and lasted a median of {days(duration['median'], f'{dur}|=|median')} ({_range(duration, dur)})"
    if ongoing:
        text += (f"; {count(ongoing, 'event', key=f'{dur}.unresolved|=|n')} unresolved at death or cutoff "
                 f"{'is' if ongoing == 1 else 'are'} left out of the duration, "
                 f"which describes the {count(n_dur, 'resolved event', key=f'{dur}|=|n')}")
    return sentence(text)


def show_timing_table(timing) -> bool:
    """Whether the onset/duration table has anything to show (some collected syndrome had events)."""
    t = timing.table
    return bool(len(t)) and bool((t["n_events"] > 0).any())


def timing_paragraph(timing, collected: Sequence[str], ref: str = "tbl-timing") -> str:
    """Onset and duration of each collected syndrome (``timing``: :func:`nscore.analyses.safety.onset_duration`).

    Syndromes with events first, in order; those nobody had share one closing sentence.
    """
    had = [s for s in collected if timing.n_events(s)]
    none = [s for s in collected if not timing.n_events(s)]
    out = [_timing_sentence(s, timing.row(s, "onset"), timing.row(s, "duration")) for s in had]
    if none:
        its = "its" if len(none) == 1 else "their"
        out.append(sentence(f"no patient had {join(none, 'or')}, so {its} onset and duration are "
                            "not applicable"))
    return _with_ref(" ".join(out), ref if show_timing_table(timing) else "", "gives the medians and ranges")


def timing_notes(timing) -> str:
    """The note under the onset/duration table; its last sentences only for the states it shows."""
    status = set(timing.table["status"])
    text = ("Onset in days after infusion (day of infusion = 0). Duration from onset to resolution, "
            "both days included. 'Unresolved': events without a resolution date at death or cutoff, "
            "left out of the duration summary.")
    if NO_EVENTS in status:
        text += f" '{capitalize(STATUS_TEXT[NO_EVENTS])}': nobody had that syndrome."
    if ALL_UNRESOLVED in status:
        text += f" '{capitalize(STATUS_TEXT[ALL_UNRESOLVED])}': no event of that syndrome had resolved."
    return text


def timing_caption(collected: Sequence[str]) -> str:
    return f"Onset and duration of {_abbr_list(collected)} among patients who had the event."


# -------------------------------------------------------------------------- severe by subgroup
_CAVEAT = ("These rows describe the cohort; they do not estimate the effect of dose, which would need "
           "dose levels assigned at random and independent of disease burden.")


def _unknown_clause(n_unknown: int, what: str, shown: bool) -> str:
    """"Dose level is unknown for 3 patients, who are left out of that table." ("" when none)."""
    if not n_unknown:
        return ""
    text = f"{what} is {narrative.unknown(n_unknown)}"
    if shown:
        text += f", who {'is' if n_unknown == 1 else 'are'} left out of that table"
    return sentence(text)


def no_severe_events(incidences: Mapping) -> str:
    """The one line of the by-subgroup section when nobody had a grade >= 3 event ("" otherwise)."""
    if any(inc.grade_3_plus.k for inc in incidences.values()):
        return ""
    what = join(incidences, "or")
    return sentence(f"no patient had grade 3 or higher {what}, so there is nothing to break down by "
                    "dose level or disease burden")


def by_dose_paragraph(g3, ref: str = "tbl-g3-dose") -> tuple[str, bool]:
    """The dose-level sentence and whether to show the table.

    ``g3`` is :func:`nscore.analyses.safety.grade3_by` with ``by="DOSELVL"``, or ``None`` when DOSELVL was
    not collected (the analysis raised :class:`nscore.analyses.safety.NotCollectedError`).
    """
    if g3 is None:
        return sentence("dose level was not collected, so grade 3 or higher events are not broken "
                        "down by dose"), False
    levels = g3.levels
    if not levels:
        return sentence("dose level is unknown for every patient in the safety population, so grade 3 "
                        "or higher events are not broken down by dose"), False
    if len(levels) == 1:
        known = g3.n_safety - g3.n_unknown
        who = "every patient" if not g3.n_unknown else f"each of the {count(known, 'patient')} with a known dose level"
        text = sentence(f"{who} received dose level {levels[0]}, so there is no comparison by dose")
        return " ".join(t for t in (text, _unknown_clause(g3.n_unknown, "Dose level", False)) if t), False
    text = sentence(f"grade 3 or higher events are shown by dose level in {{numref}}`{ref}`, across "
                    f"{count(len(levels), 'level')}")
    parts = [text, _unknown_clause(g3.n_unknown, "Dose level", True), _CAVEAT]
    return " ".join(p for p in parts if p), True


def by_blasts_paragraph(g3, ref: str = "tbl-g3-blasts") -> tuple[str, bool]:
    """The marrow-blast sentence and whether to show the table (``g3``: ``by="blasts"`` or None)."""
    what = "Marrow involvement or blast count before infusion"
    if g3 is None:
        return sentence("marrow involvement and blast count before infusion were not collected, so grade "
                        "3 or higher events are not broken down by disease burden"), False
    levels = g3.levels
    if not levels:
        return sentence("marrow blast burden before infusion is unknown for every patient in the safety "
                        "population, so grade 3 or higher events are not broken down by it"), False
    if len(levels) == 1:
        text = sentence(f"every patient with a known marrow status falls in one group ({levels[0]}), "
                        "so there is no comparison by disease burden")
        return " ".join(t for t in (text, _unknown_clause(g3.n_unknown, what, False)) if t), False
    text = sentence(f"by marrow blast burden before infusion, grade 3 or higher events are shown in "
                    f"{{numref}}`{ref}`")
    parts = [text, _unknown_clause(g3.n_unknown, what, True)]
    return " ".join(p for p in parts if p), True


def by_dose_caption(collected: Sequence[str], therapy: str | None) -> str:
    product = f"{therapy} dose level" if therapy else "dose level"
    return (f"Grade 3 or higher {_abbr_list(collected)} by {product}, % (n/N) with exact 95% CI.")


def by_blasts_caption(collected: Sequence[str]) -> str:
    return (f"Grade 3 or higher {_abbr_list(collected)} by marrow blast burden before infusion, "
            "% (n/N) with exact 95% CI.")


# ======================================================================================= H7:
# the other adverse-event categories, cytopenia course, CRS/ICANS treatment, deaths and NRM
# (results of nscore.analyses.toxicity; every number cited from its ARD rows)
#: What each category is called in prose, and in a table's first column.
CATEGORY_NAMES = {"CRS": "cytokine release syndrome (CRS)", "ICANS": "neurotoxicity (ICANS)",
                  "CYTOPENIA": "cytopenias", "INFECTION": "infections",
                  "IEC-HS": "immune effector cell-associated HLH-like syndrome (IEC-HS)",
                  "GVHD": "graft-versus-host disease (GVHD)"}
CATEGORY_LABELS = {"CRS": "CRS", "ICANS": "ICANS", "CYTOPENIA": "Cytopenias", "INFECTION": "Infections",
                   "IEC-HS": "IEC-HS", "GVHD": "GVHD"}
#: The categories reported in "Other adverse events" (CRS and ICANS have their own sections).
OTHER_CATEGORIES = ("CYTOPENIA", "INFECTION", "IEC-HS", "GVHD")
#: Causes of death (ADSL DTHCAUS) as a reader reads them.
CAUSE_NAMES = {"RELAPSE OR PROGRESSION": "relapse or progression", "INFECTION": "infection", "GVHD": "GVHD",
               "CRS": "CRS", "ICANS": "ICANS", "IEC-HS": "IEC-HS", "OTHER": "other causes",
               "Unknown": "unknown cause"}


def category_name(category: str) -> str:
    """``"infections"``: a category in running text."""
    return CATEGORY_NAMES.get(category, category)


def others_not_collected(missing: Sequence[str]) -> str:
    """The one sentence naming the categories this delivery did not collect ("" when none)."""
    missing = [m for m in missing if m in OTHER_CATEGORIES]
    if not missing:
        return ""
    verb = "was" if len(missing) == 1 else "were"
    return sentence(f"{join(category_name(m) for m in missing)} {verb} not collected in this delivery, "
                    f"so no incidence is reported for {'it' if len(missing) == 1 else 'them'}")


def other_events_paragraph(terms, missing: Sequence[str], ref: str = "tbl-ae-terms") -> str:
    """Cytopenias, infections, IEC-HS and GVHD: any grade and grade >= 3, and what was not collected.

    ``terms``: :func:`nscore.analyses.toxicity.term_table` (or None without ADAE)."""
    shown = [c for c in OTHER_CATEGORIES if terms is not None and c in terms.collected]
    parts = []
    for cat in shown:
        row = terms.category(cat)
        base = f"safety.ae.{_slug(cat)}"
        name = category_name(cat)
        if row["n_any"] == 0:
            parts.append(sentence(f"no patient had {name}"))
        elif row["n_g3"] == 0:
            parts.append(sentence(f"{name} occurred in {cite(terms, base, fmt.proportion, with_ci=False)}, "
                                  f"none of grade 3 or higher"))
        else:
            parts.append(sentence(f"{name} occurred in {cite(terms, base, fmt.proportion, with_ci=False)} "
                                  f"of the patients, at grade 3 or higher in "
                                  f"{cite(terms, base + '.g3', fmt.proportion, with_ci=False)}"))
    if "GVHD" in shown:
        parts.append("GVHD can only follow an allogeneic transplant; it is counted over all infused patients.")
    text = " ".join(parts)
    if shown:
        text = ("Cytopenias, infections and GVHD are graded by CTCAE version 5.0 and IEC-HS by the ASTCT "
                "consensus; each patient counts once per term and once per category, at the worst grade. "
                + text)
        text = _with_ref(text, ref, "lists every term")
    return " ".join(p for p in (text, others_not_collected(missing)) if p)


def terms_caption(categories: Sequence[str]) -> str:
    """The term table's caption, naming the categories it shows (``categories``)."""
    shown = [CATEGORY_LABELS[c].lower() if c in ("CYTOPENIA", "INFECTION") else CATEGORY_LABELS.get(c, c)
             for c in categories]
    return f"Adverse events by category and term: {join(shown)}, any grade and grade \u22653."


def cytopenia_paragraph(course, ref: str = "tbl-cytopenia") -> str:
    """Grade >= 3 cytopenia still ongoing on day 28 (prolonged) and at the last day read.

    ``course``: :func:`nscore.analyses.toxicity.cytopenia_course` (None: not collected)."""
    if course is None:
        return "Cytopenias were not collected in this delivery."
    t = course.table
    overall = t[t["term"] == ""]
    followed = overall[overall["N"] > 0]
    if followed.empty:
        return "No patient was followed long enough after infusion to read the course of cytopenias."
    text = []
    day28 = followed[followed["day"] == 28]
    if len(day28):
        text.append(sentence(f"on day 28 after infusion, "
                             f"{cite(course, 'safety.cytopenia.course|DAY=28', fmt.proportion, with_ci=False)} "
                             f"of the patients alive and followed had a grade 3 or higher cytopenia still "
                             f"ongoing (prolonged cytopenia)"))
    last = int(followed["day"].max())
    if last != 28:
        key = f"safety.cytopenia.course|DAY={last}"
        k = int(followed.loc[followed["day"] == last, "n"].iloc[0])
        if k:
            text.append(sentence(f"on day {last}, {cite(course, key, fmt.proportion, with_ci=False)} still had one"))
        else:
            n_followed = int(followed.loc[followed["day"] == last, "N"].iloc[0])
            text.append(sentence(f"on day {last}, the one patient still followed had none" if n_followed == 1 else
                                 f"on day {last}, none of the {role(str(n_followed), key + '|N')} patients still "
                                 f"followed had one"))
    return _with_ref(" ".join(text), ref, "gives each cytopenia on each day")


def cytopenia_caption() -> str:
    return ("Patients with a grade \u22653 cytopenia ongoing on each day after infusion, among those alive "
            "and followed on that day: n (%).")


def cytopenia_notes() -> str:
    return ("An episode runs from its onset to its recovery below grade 3 (or to the end of follow-up when "
            "unresolved). The denominator on each day is the patients alive and still followed on it, so "
            "the shares are conditional on survival.")


def treatment_paragraph(tx) -> str:
    """Tocilizumab and corticosteroids given for CRS or ICANS (``tx``: None when not collected)."""
    if tx is None:
        return "Treatment of CRS and ICANS (tocilizumab, corticosteroids) was not collected in this delivery."
    t = tx.table
    text = []
    for drug in ("tocilizumab", "corticosteroids"):
        aid = f"safety.tx.{drug}"
        rows = t[t["drug"] == drug]
        overall = rows[rows["among"] == ""].iloc[0]
        if int(overall["n"]) == 0:
            text.append(sentence(f"no patient received {drug} for CRS or ICANS"))
            continue
        clauses = [f"{cite(tx, f'{aid}|AECAT={r.among}', fmt.proportion, with_ci=False)} of those with {r.among}"
                   for r in rows.itertuples(index=False) if r.among and r.N > 0]
        extra = f" ({join(clauses)})" if clauses else ""
        verb = "was" if drug == "tocilizumab" else "were"
        text.append(sentence(f"{drug} {verb} given for CRS or ICANS to "
                             f"{cite(tx, aid, fmt.proportion, with_ci=False)} of the patients{extra}"))
    return " ".join(text)


def deaths_paragraph(d) -> str:
    """Deaths by the cutoff, split by whether a relapse came first (``d``: analyses.toxicity.deaths)."""
    if d.n_deaths == 0:
        return "No patient had died by the data cutoff."
    text = (f"by the data cutoff, {cite(d, 'deaths', fmt.proportion, with_ci=False)} of the infused patients "
            f"had died")
    if d.n_without_relapse is not None:
        parts = []
        if d.n_after_relapse:
            parts.append(f"{cite(d, 'deaths.after_relapse', fmt.count)} after a relapse or progression")
        if d.n_without_relapse:
            parts.append(f"{cite(d, 'deaths.nrm', fmt.count)} without a prior relapse (non-relapse mortality)")
        else:
            parts.append("none without a prior relapse")
        text += ": " + join(parts)
    return sentence(text)


def nrm_paragraph(nrm, fig_ref: str = "fig-nrm") -> str:
    """Cumulative incidence of non-relapse mortality at day 100, one and two years (read where
    follow-up reaches; ``nrm``: analyses.toxicity.non_relapse_mortality or None)."""
    if nrm is None:
        return "Non-relapse mortality cannot be estimated: the delivery has no progression-free survival events."
    if nrm.cif.events == 0:
        return "No patient died without a prior relapse, so non-relapse mortality is 0 throughout follow-up."
    names = {100: "by day 100", 365: "at one year", 730: "at two years"}
    reads = [f"{cite(nrm, f'deaths.nrm.cif|DAYS={int(r.day)}', fmt.rate)} {names.get(int(r.day), f'by day {int(r.day)}')}"
             for r in nrm.at.itertuples(index=False) if np.isfinite(r.estimate)]
    if not reads:
        return "Follow-up is too short to read the cumulative incidence of non-relapse mortality."
    text = sentence(f"the cumulative incidence of non-relapse mortality (Aalen-Johansen, with relapse or "
                    f"progression as the competing event) was {join(reads)}")
    return _with_ref(text, fig_ref, "draws it over time") if fig_ref else text


def nrm_figure_caption() -> str:
    return ("Cumulative incidence of non-relapse mortality (death without a prior relapse or progression) and of "
            "relapse or progression, its competing event, from infusion, with 95% confidence bands.")


def causes_paragraph(d, ref: str = "tbl-causes") -> str:
    """The causes of death, most frequent first (``d.causes`` None: not collected)."""
    if d.n_deaths == 0:
        return ""
    if d.causes is None:
        return "Causes of death were not collected in this delivery."
    rows = d.causes[d.causes["n"] > 0].sort_values("n", ascending=False, kind="stable")
    parts = [f"{CAUSE_NAMES.get(r.cause, r.cause.lower())} in {cite(d, f'deaths.cause|DTHCAUS={r.cause}', fmt.count)}"
             for r in rows.itertuples(index=False)]
    text = sentence(f"the recorded {'causes' if len(parts) > 1 else 'cause'} of death "
                    f"{'were' if len(parts) > 1 else 'was'} {join(parts)}")
    return _with_ref(text, ref, "gives them for all deaths and for deaths without a prior relapse")


def causes_caption() -> str:
    return "Causes of death, all deaths and deaths without a prior relapse (non-relapse mortality): n (%)."
