"""Tables whose every number comes from ARD rows and carries its key (issue 13).

Each function takes an analysis result (or its ARD rows) and returns a display frame for
:func:`nscore.report.tables.table` whose number cells are :class:`nscore.report.trace.Traced`:
the text is :mod:`nscore.report.format`'s, and the table writes it with the ``{ard}`` role. The
layout stays the analysis's own (rows, labels, columns). Also the headline figures' text
(:func:`with_display`) and its comparison across cutoffs (What changed).

Kept apart from :mod:`nscore.report.tables` (the Table type, its MyST/grid output and the plain
presenters), which it builds on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from nscore.report import format as fmt

__all__ = [
    "headline_columns",
    "with_display",
    "comparison_text",
    "changes_table",
    "counts_rows",
    "counts_traced",
    "baseline_display",
    "incidence_display",
    "grade_display",
    "timing_display",
    "g3_by_display",
    "response_display",
    "best_response_display",
    "changed_display",
    "published_reference_rows",
    "reproduction_join_display",
    "dataset_rows",
    "dataset_traced",
    "manifest_rows",
    "manifest_traced",
]


def counts_rows(table: pd.DataFrame, analysis_id: str, rows: str, columns: str, *,
                population: str = "infused", label: str = "Patients") -> list[dict]:
    """The cells of a :func:`counts_by` table as ARD rows (stat ``n``; group_var ``"<rows>,<columns>"``,
    level ``"<row level>,<column level>"``, margins named as in the table), so the table can show
    them traced (:func:`counts_traced`)."""
    from nscore.analyses import ard

    out = []
    for r in table.itertuples(index=False):
        for col, v in zip(table.columns[1:], r[1:]):
            out.append(ard.row(analysis_id, "n", int(v), population=population, group_var=f"{rows},{columns}",
                               group_level=f"{getattr(r, '_0', r[0])},{col}", unit="patients",
                               label=f"{label}: {r[0]}, {col}"))
    return out


def counts_traced(table: pd.DataFrame, analysis_id: str, rows: str, columns: str) -> pd.DataFrame:
    """A :func:`counts_by` table whose cells carry their ARD keys (rows of :func:`counts_rows`)."""
    from nscore.report.trace import Traced

    out = table.copy().astype(object)
    for i in range(len(out)):
        level = out.iat[i, 0]
        for j, col in enumerate(out.columns[1:], start=1):
            out.iat[i, j] = Traced(fmt.count(table.iat[i, j]), f"{analysis_id}|{rows},{columns}={level},{col}|n")
    return out


def headline_columns() -> list[str]:
    """The headline figures' columns with their text (``display``) after ``upper``."""
    from nscore.analyses.headline import COLUMNS

    return COLUMNS[:5] + ["display"] + COLUMNS[5:]


#: Headline statuses whose text is a value (traced); the others say why there is none.
_VALUED = ("estimated", "not reached", "not estimable")


def headline_figure(figures: pd.DataFrame, key: str):
    """One headline figure's row (with its text) by ``key``, from :func:`nscore.analyses.headline.headline_figures`
    (numbers: the text is added) or from :func:`with_display`'s output, or a frame already indexed by key."""
    if "key" in getattr(figures, "columns", ()):
        figures = with_display(figures)  # the text of each figure (headline figures are numbers)
    frame = figures.set_index("key") if "key" in getattr(figures, "columns", ()) else figures
    if key not in frame.index:
        raise KeyError(f"headline figure {key!r} missing")
    return frame.loc[key]


def with_display(figures: pd.DataFrame, traced: bool = False, at: str | None = None) -> pd.DataFrame:
    """``figures`` (:func:`nscore.analyses.headline.headline_figures`) with a ``display`` column, the
    text of each figure by :func:`nscore.report.format.headline`. Rows that already carry a text keep it.

    ``traced``: each text that is a value carries its ARD key ``headline.<key>``
    (:class:`nscore.report.trace.Traced`, the rows of :func:`nscore.analyses.headline.headline_rows`),
    so a table shows it with the ``{ard}`` role and prose writes ``.myst()``. ``at``: the figures are
    of another cutoff than the page's (keys ``headline.<key>@<at>``, reference rows).
    """
    from nscore.report.trace import Traced

    out = figures.copy()
    texts = [fmt.headline(row) for _, row in out.iterrows()]
    if traced:
        suffix = f"@{at}" if at else ""
        texts = [Traced(t, f"headline.{row['key']}{suffix}") if row.get("status") in _VALUED else t
                 for t, (_, row) in zip(texts, out.iterrows())]
    if "display" in out.columns:
        have = out["display"].notna()
        out["display"] = [d if h else t for d, h, t in zip(out["display"], have, texts)]
    else:
        out["display"] = texts
    if "key" in out.columns:
        cols = headline_columns()
        out = out[[c for c in cols if c in out.columns] + [c for c in out.columns if c not in cols]]
    return out


def comparison_text(comparison: pd.DataFrame, traced: str | None = None, earlier: bool = False) -> pd.DataFrame:
    """``comparison`` (:func:`nscore.analyses.headline.compare_cutoffs`) with a text column
    ``"<date> display"`` after each cutoff's value and ``change_display`` after ``change``.

    A cell is the figure as on the landing page (with its CI) when the comparison carries each
    cutoff's figures (``comparison.attrs["figures"]``), else the short value
    (:func:`nscore.report.format.short`); the change is :func:`nscore.report.format.change`.
    ``traced``: the ISO date of the page's own cutoff, whose figures carry their ARD keys
    (``headline.<key>``, :func:`with_display` with ``traced=True``); ``earlier``: the other cutoffs'
    figures too, as ``headline.<key>@<cutoff>`` (the page emits those cutoffs' rows as reference rows).
    """
    figures = comparison.attrs.get("figures") or {}
    if "change_display" in comparison.columns:
        return comparison
    dates = [c.removesuffix(" status") for c in comparison.columns
             if isinstance(c, str) and c.endswith(" status")]
    out = pd.DataFrame({c: comparison[c] for c in ("key", "label", "unit")})
    for d in dates:
        out[d] = comparison[d]
        if d in figures:
            mine = d == traced
            out[f"{d} display"] = with_display(figures[d], traced=mine or (earlier and traced is not None),
                                               at=None if mine else d)["display"].to_numpy()
        else:
            out[f"{d} display"] = [fmt.short(v, u, s) for v, u, s in
                                   zip(comparison[d], comparison["unit"], comparison[f"{d} status"])]
    out["change"] = comparison["change"]
    if len(dates) >= 2:
        prev, last = dates[-2], dates[-1]
        out["change_display"] = [
            fmt.change(dv, u, a, b, sa, sb) for dv, u, a, b, sa, sb in
            zip(comparison["change"], comparison["unit"], comparison[prev], comparison[last],
                comparison[f"{prev} status"], comparison[f"{last} status"])]
    else:
        out["change_display"] = "only one cutoff"
    return out


def changes_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Headline figures side by side per cutoff with the change (from ``headline.compare_cutoffs``;
    its text from :func:`comparison_text` when not there yet)."""
    comparison = comparison_text(comparison)
    dates = [c for c in comparison.columns if isinstance(c, str) and c.endswith(" display")]
    out = pd.DataFrame({"Figure": comparison["label"]})
    for c in dates:
        out[c.removesuffix(" display")] = comparison[c]
    out["Change (latest vs previous)"] = comparison["change_display"]
    return out


def changed_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The statistics listed as changed in a comparison of two cutoffs' ARDs
    (:func:`nscore.analyses.changes.compare`, ``changed`` rows): what, the earlier and the later
    value (:func:`nscore.report.format.value`; the later one carrying its ARD key, this page's
    cutoff, the earlier one ``<row_key>@<earlier cutoff>``: the page emits the earlier ARD as reference
    rows) and why it is listed. A value absent at a cutoff (an analysis added or dropped) is a dash."""
    from nscore.report.trace import Traced

    listed = comparison[comparison["changed"]]
    out = []
    for r in listed.itertuples(index=False):
        from nscore.report.narrative import capitalize
        from nscore.report.trace import _LABEL_NOISE

        group = f" ({r.group_var} {r.group_level})" if r.group_var else ""
        label = capitalize(_LABEL_NOISE.sub("", str(r.label)))
        previous = ("\u2013" if r.kind == "added" else
                    Traced(fmt.value(r.previous, r.unit, r.stat), f"{r.row_key}@{r.previous_cutoff}"))
        current = "\u2013" if r.kind == "dropped" else Traced(fmt.value(r.current, r.unit, r.stat), r.row_key)
        out.append({"Statistic": f"{label}{group}", f"{r.previous_cutoff}": previous,
                    f"{r.current_cutoff}": current, "Why it is listed": r.rule})
    if not out:
        return pd.DataFrame(columns=["Statistic", "Earlier cutoff", "This cutoff", "Why it is listed"])
    return pd.DataFrame(out)


def baseline_display(baseline) -> pd.DataFrame:
    """Table 1 (:func:`nscore.analyses.baseline.baseline_table`) with every number formatted from its
    ARD rows (``baseline.<variable>``) and carrying its key; the layout (rows, labels, columns,
    kinds) is the analysis's own.

    Walks the table as :func:`~nscore.analyses.baseline.baseline_table` lays it out: a heading row per
    variable; for age and dose "Median (IQR)" and "Range" (:func:`nscore.report.format.iqr`,
    :func:`~nscore.report.format.range_`), for the others a row per level, n (%)
    (:func:`~nscore.report.format.n_percent`); then "Unknown" (n) when a column has unknown values.
    """
    from nscore.analyses.ard import rows_of
    from nscore.report.trace import cell

    from nscore.analyses.baseline import _T1_CONTINUOUS

    rows = rows_of(baseline)
    places = dict(_T1_CONTINUOUS)
    out = baseline.table.copy().astype(object)
    groups = list(baseline.groups)
    variables = iter(baseline.variables)
    levels: list[str] = []
    var = None

    def group(g, level=None):
        if level is None:
            return "=" if g == "Overall" else f"DIAG={g}"
        return f"{var}={level}" if g == "Overall" else f"DIAG,{var}={g},{level}"

    for i, kind in enumerate(baseline.row_kinds):
        label = str(out.iat[i, 0])
        if kind == "group":
            var = next(variables)
            sub = baseline.counts[baseline.counts["variable"] == var]
            levels = list(dict.fromkeys(sub["level"]))
            continue
        aid = f"baseline.{var.lower()}"
        level = levels.pop(0) if var not in places and label != "Unknown" else None
        for j, g in enumerate(groups, start=1):
            old = out.iat[i, j]
            if old in ("", None) or old == "\u2013":
                continue
            if label == "Unknown":
                out.iat[i, j] = cell(rows, f"{aid}|{group(g, 'Unknown')}|n", fmt.count)
            elif var in places and label == "Median (IQR)":
                out.iat[i, j] = cell(rows, f"{aid}|{group(g)}", fmt.iqr, digits=places[var], label=False)
            elif var in places and label == "Range":
                out.iat[i, j] = cell(rows, f"{aid}|{group(g)}", fmt.range_, digits=places[var], median=False)
            else:
                out.iat[i, j] = cell(rows, f"{aid}|{group(g, level)}", fmt.n_percent)
    return out


def incidence_display(incidences: Mapping[str, object]) -> pd.DataFrame:
    """Syndrome, maximum grade and "% (n/N; exact 95% CI)" per incidence
    (:func:`nscore.analyses.safety.incidence`), each rate from its ARD rows with its key."""
    from nscore.report.trace import cell

    out = []
    for syndrome, inc in incidences.items():
        base = f"safety.{syndrome.lower()}"
        for category, suffix in (("Any grade", "any"), ("Grade 1-2", "g1_2"), ("Grade >=3", "g3")):
            out.append({"Syndrome": syndrome, "Maximum grade": category,
                        "Patients, % (n/N; exact 95% CI)": cell(inc, f"{base}.{suffix}", fmt.proportion)})
    return pd.DataFrame(out)


def grade_display(grades) -> pd.DataFrame:
    """Maximum grade (rows: no event, 1..5) by syndrome (columns), cells n (%) from the ARD rows
    ``safety.<syndrome>.grade`` (:func:`nscore.analyses.safety.grade_distribution`)."""
    from nscore.report.trace import cell

    d = grades.table
    syndromes = list(dict.fromkeys(d["syndrome"]))
    out = []
    for g in dict.fromkeys(int(x) for x in d["grade"]):
        row = {"Maximum ASTCT grade": "No event" if g == 0 else str(g)}
        for s in syndromes:
            row[s] = cell(grades, f"safety.{s.lower()}.grade|GRADE={g}", fmt.n_percent)
        out.append(row)
    return pd.DataFrame(out)


def timing_display(timing) -> pd.DataFrame:
    """Onset and duration (:func:`nscore.analyses.safety.onset_duration`): patients with a value,
    median (range) in days and unresolved events, each from its ARD row with its key."""
    from nscore.report.trace import cell

    out = []
    for r in timing.table.itertuples(index=False):
        kind = "onset" if "onset" in str(r.measure).lower() else "duration"
        aid = f"safety.{r.syndrome.lower()}.{kind}"
        median = (cell(timing, aid, fmt.range_, label=False) if int(r.n) else "\u2013")
        unresolved = cell(timing, f"{aid}.unresolved|=|n", fmt.count) if kind == "duration" else ""
        out.append({"Syndrome": r.syndrome, "Measure": r.measure, "Patients": cell(timing, f"{aid}|=|n", fmt.count),
                    "Median (range)": median, "Unresolved": unresolved})
    return pd.DataFrame(out)


def g3_by_display(g3, collected, index_label: str) -> pd.DataFrame:
    """Grade >= 3 incidence per level (dose level or marrow blasts) and syndrome
    (:func:`nscore.analyses.safety.grade3_by`), each "% (n/N; exact 95% CI)" from its ARD rows."""
    from nscore.report.trace import cell

    suffix, var = ("by_dose", "DOSELVL") if g3.by == "DOSELVL" else ("by_blasts", "BLASTS")
    t = g3.table
    out = []
    for level in dict.fromkeys(str(x) for x in t["level"]):
        row = {index_label: level}
        for s in collected:
            have = ((t["syndrome"] == s) & (t["level"].astype(str) == level)).any()
            row[f"Grade \u22653 {s}"] = (cell(g3, f"safety.{s.lower()}.g3.{suffix}|{var}={level}", fmt.proportion)
                                          if have else "")
        out.append(row)
    return pd.DataFrame(out)


def response_display(rates) -> pd.DataFrame:
    """The response table (ORR and CR/CRi) from the ARD rows of
    :func:`nscore.analyses.efficacy.response_rates`: patients, evaluable, rate (n/N; exact 95% CI),
    every cell carrying its ARD key."""
    from nscore.report.trace import cell

    out = []
    for name, aid in (("Overall response (CR/CRi/PR)", "efficacy.orr"), ("CR/CRi", "efficacy.cr_cri")):
        out.append({"Endpoint": name, "Patients": cell(rates, f"{aid}|=|n"),
                    "Evaluable": cell(rates, f"{aid}|=|N"), "Rate (n/N; exact 95% CI)": cell(rates, aid)})
    return pd.DataFrame(out)


def best_response_display(rates) -> pd.DataFrame:
    """Best overall response: patients and share of the evaluable patients per response, from the
    ARD rows ``efficacy.best_response`` (every number carrying its key)."""
    from nscore.analyses.ard import rows_of
    from nscore.report.trace import cell

    rows = rows_of(rates)
    rows = rows[rows["analysis_id"] == "efficacy.best_response"]
    out = []
    for level in dict.fromkeys(rows["group_level"]):
        key = f"efficacy.best_response|AVALC={level}"
        out.append({"Best overall response": level, "Patients": cell(rows, f"{key}|n"),
                    "Share of evaluable": cell(rows, key, fmt.percent)})
    return pd.DataFrame(out, columns=["Best overall response", "Patients", "Share of evaluable"])


#: How a published statistic is named in the reproduction table.
_STAT_WORDS = {"n": "patients", "N": "of", "percent": "%", "median": "median", "min": "minimum",
               "max": "maximum", "estimate": "estimate", "rate": "rate", "": ""}


def published_reference_rows(published_rows: pd.DataFrame, cutoff: str) -> pd.DataFrame:
    """The published numbers (:func:`nscore.analyses.published.published_rows`) as ARD-shaped rows
    ``published.<figure key>`` of ``cutoff`` (the publication's), for the notes of the
    reproduction table (cited as ``KEY@<cutoff>``, :func:`nscore.report.trace.emit_reference`)."""
    from nscore.analyses import ard

    out = []
    for r in published_rows.itertuples(index=False):
        if not r.stat or pd.isna(r.published_value):
            continue
        unit = "%" if r.stat == "percent" else str(getattr(r, "unit", "") or "")
        row = ard.row(f"published.{r.key}", r.stat, r.published_value, population="as published",
                      endpoint=str(r.figure), unit=unit,
                      method=f"published ({r.source}): {r.sentence}" if getattr(r, "sentence", "") else
                      f"published ({r.source})", label=f"Published: {r.figure}")
        out.append({**row, "cutoff": cutoff, "data_version": "", "chapter": "", "cell": None})
    return pd.DataFrame(out)


def _published_number(value, decimals: int, unit: str) -> str:
    return fmt.date(value) if unit == "date" else fmt.number(value, decimals)


def reproduction_join_display(join: pd.DataFrame, cutoff: str) -> pd.DataFrame:
    """Published versus reproduced as a join (:func:`nscore.analyses.published.reproduction_join`):
    one row per published number, the published value and the value of its ARD row of the
    published ``cutoff``, both at the published precision (a date as a date) and each carrying its
    key (``published.<key>|=|<stat>@<cutoff>``, ``<row_key>@<cutoff>``). A published number without
    an ARD row shows its printed text and "no ARD row"."""
    from nscore.report.trace import Traced

    out = []
    for r in join.itertuples(index=False):
        d = int(r.decimals) if pd.notna(r.decimals) else 0
        unit = str(r.unit or "")
        if not r.stat or pd.isna(r.published_value):
            out.append({"Figure": r.figure, "Statistic": "", "Published": r.published_text,
                        "Reproduced": "no ARD row", "Match": "no"})
            continue
        published = Traced(_published_number(r.published_value, d, unit), f"published.{r.key}|=|{r.stat}@{cutoff}")
        if r.status == "no ARD row":
            reproduced = "no ARD row"
        else:
            reproduced = Traced(_published_number(r.reproduced_value, d, unit), f"{r.row_key}@{cutoff}")
        stat = _STAT_WORDS.get(r.stat, r.stat)
        if r.stat == "n" and unit != "patients" and r.status != "no ARD row":
            stat = "count"  # a count of something else than patients (dose levels)
        if unit == "date":
            stat = {"min": "first", "max": "last"}.get(r.stat, stat) if r.analysis_id != "flow.cutoff" else "date"
        out.append({"Figure": r.figure, "Statistic": stat, "Published": published,
                    "Reproduced": reproduced, "Match": "yes" if r.match else "no"})
    return pd.DataFrame(out, columns=["Figure", "Statistic", "Published", "Reproduced", "Match"])


# ------------------------------------------------------------------------ sizes of the delivered data
def dataset_rows(summary: pd.DataFrame, population: str = "delivered data") -> list[dict]:
    """The sizes of :func:`nscore.report.tables.dataset_summary` as ARD rows: ``data.<dataset>``
    (stat n: rows) and ``data.<dataset>.variables`` (stat n: columns)."""
    from nscore.analyses import ard

    out = []
    for r in summary.itertuples(index=False):
        name = str(r.Dataset).lower()
        out.append(ard.row(f"data.{name}", "n", int(r.Rows), population=population, label=f"{r.Dataset}: rows"))
        out.append(ard.row(f"data.{name}.variables", "n", int(r.Variables), population=population,
                           label=f"{r.Dataset}: variables"))
    return out


def dataset_traced(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`nscore.report.tables.dataset_summary` with its rows and variables carrying their keys
    (the rows of :func:`dataset_rows`)."""
    from nscore.report.trace import Traced

    out = summary.copy().astype(object)
    for i, r in enumerate(summary.itertuples(index=False)):
        name = str(r.Dataset).lower()
        out.at[out.index[i], "Rows"] = Traced(fmt.count(r.Rows), f"data.{name}|=|n")
        out.at[out.index[i], "Variables"] = Traced(fmt.count(r.Variables), f"data.{name}.variables|=|n")
    return out


def manifest_rows(manifest_frame: pd.DataFrame) -> list[dict]:
    """The row counts of :func:`nscore.report.cutoffs.manifest_table` as ARD rows ``data.file.<file>``."""
    from nscore.analyses import ard

    return [ard.row(f"data.file.{str(r.File).lower()}", "n", int(r.Rows), population="stored data version",
                    label=f"{r.File}: rows (manifest)") for r in manifest_frame.itertuples(index=False)]


def manifest_traced(manifest_frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`nscore.report.cutoffs.manifest_table` with each row count carrying its key."""
    from nscore.report.trace import Traced

    out = manifest_frame.copy().astype(object)
    out["Rows"] = [Traced(fmt.count(r.Rows), f"data.file.{str(r.File).lower()}|=|n")
                   for r in manifest_frame.itertuples(index=False)]
    return out
