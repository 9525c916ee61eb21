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

from nscore.report import narrative
from nscore.report.narrative import capitalize, count, join, sentence
from nscore.report import format as fmt
from nscore.report.trace import cite, role
from nscore.analyses.safety import ALL_UNRESOLVED, NO_EVENTS, STATUS_TEXT, SYNDROMES

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
            "incidence, grade, onset or duration of any toxicity to report.")


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
