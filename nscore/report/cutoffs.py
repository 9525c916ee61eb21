"""What changed's account of the stored cutoffs: which are simulated and which real, whether
consecutive cutoffs hold the same patients, the intake warnings accepted with them, and the list of
versions. Tables and sentences; the facts come from :mod:`nscore.data.intake` and the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Iterable

import pandas as pd

if TYPE_CHECKING:
    from IPython.display import Markdown

from nscore.analyses.store import patients_key, shared_key
from nscore.data import versions
from nscore.data.intake import is_simulated, origin, read, shared_subjects
from nscore.report import format as fmt
from nscore.report.narrative import count, join
from nscore.report.trace import Traced, role

def origins_sentence(manifests: Iterable[dict]) -> str:
    """One sentence saying which of the compared cutoffs are simulated and which real."""
    manifests = list(manifests)
    sim = [m["cutoff"] for m in manifests if is_simulated(m)]
    real = [m["cutoff"] for m in manifests if not is_simulated(m)]
    if not manifests:
        return "No data cutoff is stored."
    if not real:
        return ("The data of every cutoff compared here are simulated." if len(sim) > 1
                else "The data of this cutoff are simulated.")
    if not sim:
        return ("The data of every cutoff compared here are real patient data." if len(real) > 1
                else "The data of this cutoff are real patient data.")
    return (f"Simulated and real data are stored side by side: {join(sim)} "
            f"{'is' if len(sim) == 1 else 'are'} simulated, {join(real)} "
            f"{'is' if len(real) == 1 else 'are'} real patient data; a change between the two kinds is a "
            "change of data source, not of follow-up.")


def _pair_sentence(a, b, traced: bool = False) -> tuple[str, str]:
    """(kind, sentence) for two consecutive cutoffs: "same", "mixed" or "different". ``traced``: the
    counts carry their store rows' keys (:mod:`nscore.analyses.store`, recorded by the page)."""
    shared = shared_subjects(a, b)
    na, nb = len(a.adsl), len(b.adsl)
    ca, cb = a.cutoff.isoformat(), b.cutoff.isoformat()
    ka, kb, ks = (patients_key(ca), patients_key(cb), shared_key(cb)) if traced else (None, None, None)
    shown = role(fmt.count(shared), ks) if traced else str(shared)
    if shared == 0:
        return "different", (f"The cutoffs {ca} and {cb} share no patient: they are different cohorts, so the "
                             "differences between them are differences between cohorts, not the result of "
                             "longer follow-up.")
    if shared == na == nb:
        return "same", (f"The cutoffs {ca} and {cb} hold the same {count(nb, 'patient', zero=None, key=kb)}, "
                        "followed for longer.")
    return "mixed", (f"Of the {count(nb, 'patient', zero=None, key=kb)} at {cb}, {shown} {'was' if shared == 1 else 'were'} "
                     f"already in the data at {ca} ({count(na, 'patient', zero=None, key=ka)}); the change between them "
                     "mixes longer follow-up with a change of cohort.")


def cohorts_sentence(cohorts: list, traced: bool = False) -> str:
    """How consecutive compared cutoffs relate: the same patients followed longer, or different cohorts.

    Why: a change between two cohorts that share no patient is not follow-up; the page must say so
    instead of presenting it as such. ``traced``: the counts carry the keys of the store rows
    (:func:`nscore.analyses.store.store_rows` with the cohorts, recorded by the page).
    """
    if len(cohorts) < 2:
        return "Only one data cutoff is stored up to this version, so there is no change to show yet."
    pairs = [_pair_sentence(a, b, traced) for a, b in zip(cohorts, cohorts[1:])]
    if all(kind == "same" for kind, _ in pairs):
        n = len(cohorts[-1].adsl)
        key = patients_key(cohorts[-1].cutoff) if traced else None
        return (f"Every cutoff compared here holds the same {count(n, 'patient', zero=None, key=key)}, followed for longer."
                if len(cohorts) > 2 else pairs[0][1])
    return " ".join(sentence for kind, sentence in pairs if kind != "same")


def warnings_table(data_dir, cutoffs) -> pd.DataFrame:
    """The intake warnings accepted for ``cutoffs``: cutoff, compared with, warning (counts only)."""
    rows = []
    for c in cutoffs:
        rec = read(versions.cutoff_dir(data_dir, c)) or {}
        for w in rec.get("warnings") or []:
            rows.append({"Data cutoff": rec.get("cutoff", str(c)), "Compared with": rec.get("compared_with") or "",
                         "Warning accepted at intake": _sentence_case(str(w.get("message", w.get("code", ""))))})
    return pd.DataFrame(rows, columns=["Data cutoff", "Compared with", "Warning accepted at intake"])


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def warnings_sentence(table: pd.DataFrame, key: str | None = None) -> str:
    """One line introducing the accepted intake warnings, or saying there were none. ``key``: the
    ARD key of their count (``store.intake_warnings|=|n``)."""
    if table.empty:
        return "No intake warning was raised when these cutoffs were stored."
    n, cutoffs = len(table), list(dict.fromkeys(table["Data cutoff"]))
    return (f"When {join(cutoffs)} {'was' if len(cutoffs) == 1 else 'were'} stored, the data looked like a "
            f"mistake or another study ({count(n, 'intake warning', zero=None, key=key)}); the delivery was accepted explicitly "
            "(nscore update --accept-warnings). The warnings, as recorded with the data, are listed below.")


def withdrawals_sentence(table: pd.DataFrame, key: str | None = None) -> str:
    """One sentence introducing the withdrawn cutoffs (``nscore.data.history.withdrawals_table``), or
    saying that none was withdrawn. ``key``: the ARD key of their count (``store.withdrawals|=|n``)."""
    if table.empty:
        return "No stored data cutoff has been withdrawn."
    cutoffs = list(dict.fromkeys(table["Data cutoff"]))
    one = len(cutoffs) == 1
    names = f"The data cutoff{'' if one else 's'} {join(cutoffs)}"
    return (f"{names} {'was' if one else 'were'} withdrawn from the published versions (nscore withdraw; "
            f"{count(len(table), 'withdrawal', zero=None, key=key)} in the store's history) and no page is built "
            f"from {'it' if one else 'them'} any more; the files are kept, not deleted, and each withdrawal is "
            "listed below with its date and reason.")


def cutoffs_table(data_dir, cohorts: list, traced: bool = False) -> pd.DataFrame:
    """One row per compared cutoff: simulated or real (source.json via the manifest), patients, shared.
    ``traced``: the counts carry the keys of the store rows (:mod:`nscore.analyses.store`)."""
    rows, prev = [], None
    for cohort in cohorts:
        m = versions.read_manifest(versions.cutoff_dir(data_dir, cohort.cutoff))
        n = len(cohort.adsl)
        shared = None if prev is None else shared_subjects(prev, cohort)
        if traced:
            n = Traced(fmt.count(n), patients_key(cohort.cutoff))
            shared = None if shared is None else Traced(fmt.count(shared), shared_key(cohort.cutoff))
        rows.append({
            "Data cutoff": cohort.cutoff.isoformat(),
            "Data": origin(m),
            "Patients": n,
            "Patients shared with the previous cutoff": "first cutoff" if shared is None else shared,
        })
        prev = cohort
    return pd.DataFrame(rows, columns=["Data cutoff", "Data", "Patients", "Patients shared with the previous cutoff"])


def version_list(data_dir, cutoffs, current=None):
    """``version_links`` with each version's data origin: "(simulated data)" or "(real data)".

    Same markup and relative links as :func:`version_links` (the pipeline's stubs make
    ``../v/<cutoff>/index.html`` work from every copy of the site).
    """
    from IPython.display import Markdown

    current = None if current is None else (current.isoformat() if hasattr(current, "isoformat") else str(current))
    items = []
    for c in cutoffs:
        iso = c.isoformat() if hasattr(c, "isoformat") else str(c)
        kind = origin(versions.read_manifest(versions.cutoff_dir(data_dir, iso)))
        mark = " (this version)" if iso == current else ""
        items.append(f'<li><a class="nscore-version-link" href="../v/{iso}/index.html">Data cutoff {iso}</a>'
                     f" ({kind} data){mark}</li>")
    return Markdown('<ul class="nscore-versions">\n' + "\n".join(items) + "\n</ul>\n")


# ---------------------------------------------------------------- versions, manifests, bundles
def _iso(c) -> str:
    return c.isoformat() if hasattr(c, "isoformat") else str(c)


def data_kind(source: Mapping | None) -> str:
    """'simulated' or 'real' from a cutoff's source record (source.json; absent = not simulated)."""
    return "simulated" if (source or {}).get("simulated") is True else "real"


def version_links(cutoffs, current=None, *, data_dir=None) -> "Markdown":
    """Links to the stable site of every stored cutoff (``../v/<cutoff>/index.html``).

    The pipeline publishes each cutoff's site at ``v/<cutoff>/`` and places redirect stubs so that
    this relative link works from the site root (newest cutoff) and from every version's copy.
    Raw HTML, so Sphinx does not try to resolve the targets as documents. With ``data_dir``, each
    link says whether that cutoff's data are simulated or real (its stored source.json), so a list
    holding both kinds says which is which.
    """
    from IPython.display import Markdown

    items = []
    for c in cutoffs:
        iso = _iso(c)
        here = current is not None and iso == _iso(current)
        kind = ""
        if data_dir is not None:
            from nscore.data import versions

            manifest = versions.read_manifest(versions.cutoff_dir(data_dir, iso))
            kind = f" ({data_kind(manifest.get('source'))} data)"
        mark = " (this version)" if here else ""
        items.append(f'<li><a class="nscore-version-link" href="../v/{iso}/index.html">Data cutoff {iso}</a>'
                     f"{kind}{mark}</li>")
    return Markdown('<ul class="nscore-versions">\n' + "\n".join(items) + "\n</ul>\n")


def manifest_table(manifest: Mapping) -> pd.DataFrame:
    """File, rows and SHA-256 of one stored data version (from ``versions.read_manifest``)."""
    files = manifest.get("files") or {}
    return pd.DataFrame([{"File": name, "Rows": int(v.get("rows", 0)), "SHA-256": v.get("sha256", "")}
                         for name, v in sorted(files.items())])


def origin_text(source: Mapping | None) -> str:
    """Where one cutoff's data come from, in a few words, from its source record (source.json).

    Simulated: ``"generated by nscore.data.simulate, seed 20251206"`` (parts not recorded are left out;
    the kind itself is :func:`data_kind`).
    Real: the record's own ``origin``/``source``/``description`` text if it has one, else
    ``"delivered export (no origin recorded)"``. Never "n/a".
    """
    src = dict(source or {})
    if data_kind(src) == "simulated":
        parts = [f"generated by {src[k]}" if k == "generator" else f"seed {src[k]}"
                 for k in ("generator", "seed") if src.get(k) is not None and str(src[k]).strip()]
        return ", ".join(parts) if parts else "generator not recorded"
    for key in ("origin", "source", "description", "citation", "reference"):
        value = src.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "delivered export (no origin recorded)"


def versions_table(manifests: list[Mapping], traced: bool = False) -> pd.DataFrame:
    """One row per stored cutoff: data version hash, simulated or real, origin and patient rows (ADSL).
    ``traced``: the patients carry the keys of the store rows (``store.patients|cutoff=<iso>|n``)."""
    rows = []
    for m in manifests:
        src = m.get("source") or {}
        adsl = (m.get("files") or {}).get("adsl.csv", {})
        n = int(adsl.get("rows", 0))
        rows.append({"Data cutoff": m.get("cutoff", ""), "Data version": m.get("version", ""),
                     "Data": data_kind(src), "Origin": origin_text(src),
                     "Patients (ADSL rows)": Traced(fmt.count(n), patients_key(m.get("cutoff", ""))) if traced else n})
    return pd.DataFrame(rows, columns=["Data cutoff", "Data version", "Data", "Origin", "Patients (ADSL rows)"])


def packages_table(versions_by_package: Mapping[str, str]) -> pd.DataFrame:
    """Package and installed version (from ``provenance.package_versions``)."""
    return pd.DataFrame([{"Package": k, "Version": v} for k, v in versions_by_package.items()])


def bundle_link(cutoff, simulated: bool | None = None) -> "Markdown":
    """Download link of the reviewer bundle of ``cutoff`` (zip of executed notebooks, manifest, lock).

    The pipeline writes it to ``v/<cutoff>/_downloads/reviewer-bundle-<cutoff>.zip`` in each
    version's site; the link is relative to a chapter page, so it works at the site root and in
    every version copy. Raw HTML: Sphinx must not treat the zip as a document. ``simulated`` (the
    cutoff's ``cohort.simulated``) adds what kind of data the bundle describes.
    """
    from IPython.display import Markdown

    iso = _iso(cutoff)
    name = f"reviewer-bundle-{iso}.zip"
    kind = "" if simulated is None else (" (simulated data)" if simulated else " (real patient data)")
    return Markdown(f'<p><a class="nscore-bundle-link" href="../_downloads/{name}" download="{name}">'
                    f"Download the reviewer bundle for data cutoff {iso}{kind} ({name})</a></p>\n")


def results_links(cutoff) -> "Markdown":
    """Download links of the analysis-results dataset of ``cutoff`` (one row per statistic of the
    book), which the pipeline writes to ``v/<cutoff>/ard/`` of each version's site as CSV, Parquet
    and a data dictionary. Relative to a chapter page, like :func:`bundle_link`."""
    from IPython.display import Markdown

    iso = _iso(cutoff)
    links = [f'<a class="nscore-ard-link" href="../ard/ard-{iso}{suffix}" download="ard-{iso}{suffix}">{label}</a>'
             for suffix, label in ((".csv", "CSV"), (".parquet", "Parquet"), ("-dictionary.csv", "data dictionary"))]
    return Markdown(f"<p>Analysis-results dataset for data cutoff {iso}: {', '.join(links)}</p>\n")


def changes_table(comparison: pd.DataFrame, traced: bool = False) -> pd.DataFrame:
    """:func:`nscore.report.presenters.changes_table` with each finite change carrying the key of its
    row (``changes.headline|figure=<key>|estimate``, :func:`nscore.analyses.changes.headline_change_rows`,
    recorded by the page); a change that is no difference ("not reached → 612 days") stays text."""
    from nscore.analyses.changes import headline_change_key
    from nscore.report.presenters import changes_table as plain

    out = plain(comparison)
    if not traced or "change" not in comparison.columns:
        return out
    column = "Change (latest vs previous)"
    cells = []
    for key, change, text in zip(comparison["key"], comparison["change"], out[column]):
        finite = not pd.isna(change) and abs(float(change)) != float("inf")
        cells.append(Traced(str(text), headline_change_key(str(key))) if finite and str(text) != "no change" else text)
    out[column] = cells
    return out
