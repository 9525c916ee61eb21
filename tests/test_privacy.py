"""No subject identifier and no patient-level row in anything the publication ships.

Scanned: every text file of the built site (HTML, JS, JSON, notebooks, sources, CSV, and the
members of zip downloads) and the executed notebooks (``chapters/*.ipynb``,
``_build/executed/**/*.ipynb``). Altair embeds the data a chart is given into the page and the
notebook, so a chart drawn from patient rows leaks them even if the figure looks aggregated.

What counts as a leak (each check names the rule in its failure):

* ``subject-id``: a USUBJID (``NCT\\d{8}-\\d{4}``, SPEC data model).
* ``patient-dates``: 10 or more distinct per-patient dates (infusion, transplant, death, last
  alive, onset, assessment) in one file; aggregated results show at most first/last infusion and
  the cutoff dates.
* ``long-table``: an HTML table, or a CSV download, with at least half as many rows as there
  are patients.

Textual ``data:`` URIs (CSV downloads, SVG figures) are decoded and scanned like the page.
* ``patient-dataset``: a chart dataset with one row per patient (as many rows as the ADSL, safety
  or efficacy population of a cutoff), or with about that many rows and a column named like an
  ADaM patient variable.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

REPO = sitecheck.REPO
USUBJID = re.compile(r"NCT\d{8}-\d{4}")
ISO_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
TEXT_SUFFIXES = {".html", ".js", ".json", ".ipynb", ".txt", ".csv", ".md", ".tsv", ".xml", ".svg", ".yml", ".yaml"}
# Third-party code we ship unchanged: large, and holds no data of ours.
SKIP_DIRS = {"vendor"}
MAX_DATES = 10
PATIENT_VARIABLES = {
    "USUBJID", "SUBJID", "AGE", "SEX", "DIAG", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL", "DOSEKG",
    "TRTSDT", "HCTDT", "DTHDT", "LSTALVDT", "AVAL", "AVALC", "CNSR", "ADT", "STARTDT", "AETOXGR",
    "ASTDT", "AENDT", "ASTDY", "ADURN", "MRDSTAT",
}
DATE_VARIABLES = {"TRTSDT", "HCTDT", "DTHDT", "LSTALVDT", "ADT", "ASTDT", "AENDT", "STARTDT"}


@dataclass(frozen=True)
class Cohorts:
    """What the shipped data look like, for recognising leaked rows."""

    patient_counts: frozenset[int]
    patient_dates: frozenset[str]
    min_patients: int


def load_reference(data_dir: Path = REPO / "data") -> Cohorts:
    counts, dates, mins = set(), set(), []
    for cutoff in sorted((data_dir / "cutoffs").glob("*")):
        adsl_path = cutoff / "adsl.csv"
        if not adsl_path.is_file():
            continue
        adsl = pd.read_csv(adsl_path, dtype=str, keep_default_na=False)
        counts |= {len(adsl), int((adsl["SAFFL"] == "Y").sum()), int((adsl["EFFFL"] == "Y").sum())}
        mins.append(len(adsl))
        boundary = set(adsl["DCUTDT"]) | {adsl["TRTSDT"].min(), adsl["TRTSDT"].max()}
        for name in ("adsl", "adrs", "adtte", "adae"):
            path = cutoff / f"{name}.csv"
            if path.is_file():
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
                for column in DATE_VARIABLES & set(frame.columns):
                    dates |= {d for d in frame[column] if d} - boundary
    return Cohorts(frozenset(counts), frozenset(dates), min(mins) if mins else 0)


# --------------------------------------------------------------------------- what is shipped


def _site_texts(site: Path):
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site)
        if not path.is_file() or SKIP_DIRS & set(rel.parts):
            continue
        if path.suffix in TEXT_SUFFIXES:
            yield rel.as_posix(), path.read_text(errors="replace")
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if Path(member).suffix in TEXT_SUFFIXES:
                        yield f"{rel}!{member}", z.read(member).decode("utf-8", "replace")


def notebook_paths() -> list[Path]:
    return sorted((REPO / "chapters").glob("*.ipynb")) + sorted((REPO / "_build" / "executed").rglob("*.ipynb"))


def datasets_in(where: str, text: str):
    """(where, rows) of every chart dataset in a page, a notebook or a vega JSON."""
    found = [(where, rows) for rows in sitecheck.embedded_datasets(text)]
    if where.endswith(".ipynb"):  # site downloads, zip members and chapters/*.ipynb
        try:
            nb = json.loads(text)
        except json.JSONDecodeError:
            return found
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                for mime, data in output.get("data", {}).items():
                    # glue(..., display=False) stores "application/papermill.record/<mime>"
                    if "vega" in mime and isinstance(data, dict):
                        found.extend((f"{where} {mime}", rows) for rows in sitecheck._datasets_of(data))
                    elif mime.endswith("text/html"):
                        html_text = "".join(data) if isinstance(data, list) else data
                        found.extend((where, rows) for rows in sitecheck.embedded_datasets(html_text))
    return found


# --------------------------------------------------------------------------- the rules


_DATA_URI = re.compile(r"data:(text/csv|text/plain|text/html|application/json|image/svg\+xml)[^,\"']*;base64,([A-Za-z0-9+/=]+)")


def decoded_data_uris(text: str) -> list[tuple[str, str]]:
    """(mime, text) of every textual ``data:`` URI (CSV and figure downloads are base64)."""
    import base64

    return [(m.group(1), base64.b64decode(m.group(2)).decode("utf-8", "replace")) for m in _DATA_URI.finditer(text)]


def find_leaks(where: str, text: str, ref: Cohorts) -> list[str]:
    """Every privacy rule broken by one shipped text (see the module docstring)."""
    leaks = []
    for mime, decoded in decoded_data_uris(text):
        leaks.extend(find_leaks(f"{where} (data: {mime})", decoded, ref))
        rows = decoded.count("\n")
        if mime == "text/csv" and ref.min_patients and rows >= ref.min_patients / 2:
            leaks.append(f"long-table: {where}: CSV download with {rows} rows (>= half the {ref.min_patients} patients)")
    ids = sorted(set(USUBJID.findall(text)))
    if ids:
        leaks.append(f"subject-id: {where}: {len(ids)} subject ids, e.g. {ids[:3]}")
    dates = sorted(set(ISO_DATE.findall(text)) & ref.patient_dates)
    if len(dates) >= MAX_DATES:
        leaks.append(f"patient-dates: {where}: {len(dates)} distinct patient-level dates, e.g. {dates[:4]}")
    if ref.min_patients and "<table" in text:
        for i, table in enumerate(re.findall(r"<table.*?</table>", text, re.S | re.I)):
            rows = len(re.findall(r"<tr[\s>]", table, re.I))
            if rows >= ref.min_patients / 2:
                leaks.append(f"long-table: {where}: table {i} has {rows} rows (>= half the {ref.min_patients} patients)")
    for src, rows in datasets_in(where, text):
        leaks.extend(dataset_leaks(src, rows, ref))
    return leaks


def dataset_leaks(where: str, rows: list, ref: Cohorts) -> list[str]:
    if not rows or not isinstance(rows[0], dict):
        return []
    columns = set().union(*(r.keys() for r in rows if isinstance(r, dict)))
    named = sorted(c for c in columns if str(c).upper() in PATIENT_VARIABLES)
    if len(rows) in ref.patient_counts:
        return [f"patient-dataset: {where}: chart dataset with {len(rows)} rows = one per patient (columns {sorted(columns)[:8]})"]
    if named and ref.min_patients and len(rows) >= 0.9 * ref.min_patients:
        return [f"patient-dataset: {where}: chart dataset with {len(rows)} rows and patient variables {named}"]
    return []


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def reference():
    ref = load_reference()
    if not ref.patient_counts:
        pytest.skip("no data/cutoffs/*/adsl.csv to compare against")
    return ref


def test_rules_catch_planted_leaks(reference):
    """The scan is only worth something if it finds a leak: plant each kind and look."""
    adsl = pd.read_csv(sorted((REPO / "data" / "cutoffs").glob("*/adsl.csv"))[0], dtype=str, keep_default_na=False)
    n = len(adsl)
    # a listing printed as CSV (ids and dates)
    assert any(l.startswith("subject-id") for l in find_leaks("t", adsl.head(3).to_csv(index=False), reference))
    # a listing without ids still shows per-patient dates
    no_ids = adsl.drop(columns=["USUBJID", "SUBJID"]).head(40).to_string()
    assert any(l.startswith("patient-dates") for l in find_leaks("t", no_ids, reference))
    # a DataFrame shown as HTML, ids and dates dropped
    html_table = adsl[["AGE", "SEX", "DIAG"]].to_html()
    assert any(l.startswith("long-table") for l in find_leaks("t", html_table, reference))
    # an altair chart of raw ages (altair embeds every row) through the book's renderer
    import altair as alt

    from nscore.report import render

    chart = alt.Chart(adsl[["AGE", "SEX"]].astype({"AGE": int})).mark_bar().encode(
        x=alt.X("AGE:Q", bin=True), y="count()"
    ).properties(description="ages")
    page = render.mimebundle(chart.to_dict())["text/html"]
    assert any(l.startswith("patient-dataset") for l in find_leaks("t", page, reference)), n
    # a CSV download link (base64 data: URI) of the listing
    import base64

    uri = "data:text/csv;base64," + base64.b64encode(adsl[["AGE", "SEX"]].to_csv(index=False).encode()).decode()
    assert any(l.startswith("long-table") for l in find_leaks("t", f'<a href="{uri}">csv</a>', reference))
    # and an aggregated chart passes
    counts = adsl.groupby("DIAG").size().rename("n").reset_index()
    ok = render.mimebundle(alt.Chart(counts).mark_bar().encode(x="DIAG:N", y="n:Q").properties(description="d").to_dict())
    assert find_leaks("t", ok["text/html"], reference) == []


def test_built_site_has_no_patient_data(reference):
    site, origin = sitecheck.site_dir()
    leaks, scanned = [], 0
    for where, text in _site_texts(site):
        scanned += 1
        leaks.extend(find_leaks(where, text, reference))
    assert scanned > 0
    assert not leaks, f"patient-level data in the built site ({origin}):\n" + "\n".join(leaks)


def test_executed_notebooks_have_no_patient_data(reference):
    paths = notebook_paths()
    if not paths:
        pytest.skip("no executed notebooks yet (chapters/*.ipynb)")
    leaks = []
    for path in paths:
        leaks.extend(find_leaks(path.relative_to(REPO).as_posix(), path.read_text(errors="replace"), reference))
    assert not leaks, "patient-level data in executed notebooks:\n" + "\n".join(leaks)
