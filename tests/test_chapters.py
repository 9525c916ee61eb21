"""Static checks of the chapter sources (chapters/src/*.md): the contract every chapter keeps.

No execution here (the book build and the pipeline tests execute them): these read the MyST
notebooks with jupytext and check structure, hidden code, glue keys, cross-references, citations
and that no result is typed into the prose by hand.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "chapters" / "src"


def _toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [Path(f).name for f in files]


CHAPTERS = _toc_chapters()


def _nb(name):
    return jupytext.read(SRC / f"{name}.md", fmt="md:myst")


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _prose(nb) -> str:
    """Markdown text a reader sees as prose: roles, directive lines, labels and code removed."""
    text = _markdown(nb)
    text = re.sub(r"^(```|:::).*$", "", text, flags=re.M)          # directive fences
    text = re.sub(r"^:[a-z-]+:.*$", "", text, flags=re.M)           # directive options
    text = re.sub(r"^\(.*\)=$", "", text, flags=re.M)               # labels
    text = re.sub(r"\{[a-z:]+\}`[^`]*`", "", text)                  # roles: glue, cite, numref, ref, doc
    text = re.sub(r"`[^`]*`", "", text)                             # inline code
    return text


def test_every_toc_chapter_has_a_source():
    assert {"index", "background", "methods", "results", "safety", "experts", "changes", "appendix",
            "references"} <= set(CHAPTERS)
    for name in CHAPTERS:
        assert (SRC / f"{name}.md").is_file(), name


@pytest.mark.parametrize("name", CHAPTERS)
def test_parameters_cell_then_load_and_provenance(name):
    nb = _nb(name)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = _code(nb)
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    values = {t.id: ast.literal_eval(n.value) for n in ast.parse(first.source).body
              if isinstance(n, ast.Assign) for t in n.targets}
    assert values["data_dir"] == "data" and values["cutoff"] == "latest"
    setup = code[1].source
    assert "cohort = versions.load(data_dir, cutoff)" in setup
    assert "provenance.box(cohort, data_dir=data_dir, cutoff=cutoff)" in setup
    assert setup.strip().splitlines()[-1].startswith("provenance.box("), "the box must be the cell's output"
    # the page title comes before any code, so the provenance box sits right under it
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("# ")


@pytest.mark.parametrize("name", CHAPTERS)
def test_code_is_hidden_from_readers(name):
    for cell in _code(_nb(name)):
        tags = set(cell.metadata.get("tags", []))
        assert tags & {"remove-input", "remove-cell", "hide-input"}, cell.source[:80]


FORBIDDEN_CODE = [r"\bimport pandas\b", r"\bpd\.", r"\.groupby\(", r"\.merge\(", r"\.loc\[", r"\.iloc\[",
                  r"\.query\(", r"\.pivot", r"\.value_counts\(", r"\bcrosstab\b", r"\.apply\(",
                  r"\.head\(", r"\.tail\(", r"display\(cohort\.", r"^cohort\.ad\w+\s*$"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_pandas_logic_or_patient_rows_in_chapters(name):
    for cell in _code(_nb(name)):
        for pat in FORBIDDEN_CODE:
            assert not re.search(pat, cell.source, flags=re.M), f"{name}: {pat!r} in\n{cell.source}"


#: Numbers a reader may see typed in prose: study design constants, not results. Percent values
#: that define criteria (5% marrow blasts, 20% blast threshold) and the 95% confidence level.
ALLOWED_PERCENT = {"5", "20", "95"}


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_results_typed_into_prose(name):
    prose = _prose(_nb(name))
    assert not re.search(r"\d+\.\d+", prose), f"{name}: decimal number typed in prose"
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*%", prose):
        assert m.group(1) in ALLOWED_PERCENT, f"{name}: percentage {m.group(0)!r} typed in prose"
    for m in re.finditer(r"(?<![\w-])(\d+)(?![\w%-])", prose):
        value = int(m.group(1))
        is_year = 1900 <= value <= 2099
        assert value <= 5 or is_year, f"{name}: number {m.group(0)!r} typed in prose"


def _glued_keys(nb) -> set[str]:
    keys = set()
    for cell in _code(nb):
        keys |= set(re.findall(r"glue\(\s*[\"']([\w-]+)[\"']", cell.source))
        for prefix in re.findall(r"glue_figures\([^)]*prefix=[\"']([\w-]*)[\"']", cell.source, flags=re.S):
            keys.add(prefix + "*")
    return keys


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_pasted_glue_key_is_glued(name):
    nb = _nb(name)
    glued = _glued_keys(nb)
    md = _markdown(nb)
    used = set(re.findall(r"\{glue(?::text|:any|:md)?\}`([\w-]+)", md))
    used |= set(re.findall(r"```\{glue:figure\}\s+([\w-]+)", md))
    for key in used:
        assert key in glued or any(g.endswith("*") and key.startswith(g[:-1]) for g in glued), \
            f"{name}: glue key {key!r} is pasted but never glued"


def test_cross_references_resolve_across_the_book():
    names, labels, refs, figures_glued = set(), set(), [], set()
    for ch in CHAPTERS:
        nb = _nb(ch)
        md = _markdown(nb)
        code = "\n".join(c.source for c in _code(nb))
        names |= set(re.findall(r"^:name:\s*([\w-]+)", md, flags=re.M))
        names |= set(re.findall(r"name=\"(tbl-[\w-]+)\"", code))
        labels |= set(re.findall(r"^\(([\w-]+)\)=", md, flags=re.M))
        refs += [(ch, r) for r in re.findall(r"\{numref\}`([\w-]+)`", md)]
        refs += [(ch, r) for r in re.findall(r"\{ref\}`([\w-]+)`", md)]
        for d in re.findall(r"\{doc\}`([\w/-]+)`", md):
            assert d in CHAPTERS, f"{ch}: {{doc}} {d} is not a chapter"
    for ch, r in refs:
        assert r in names or r in labels, f"{ch}: reference {r!r} has no target"


def test_every_table_and_figure_is_named_once():
    seen = {}
    for ch in CHAPTERS:
        nb = _nb(ch)
        found = re.findall(r"name=\"((?:tbl|fig)-[\w-]+)\"", "\n".join(c.source for c in _code(nb)))
        found += re.findall(r"^:name:\s*([\w-]+)", _markdown(nb), flags=re.M)
        for n in found:
            assert n not in seen, f"{n} named in {seen.get(n)} and {ch}"
            seen[n] = ch
    figs = [n for n in seen if n.startswith("fig-")]
    assert len(figs) >= 8


def test_citations_exist_in_references_bib():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([\w-]+),", bib, flags=re.M))
    cited = set()
    for ch in CHAPTERS:
        for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", _markdown(_nb(ch))):
            cited |= {k.strip() for k in group.split(",")}
    missing = cited - keys
    assert not missing, f"cited but not in references.bib: {missing}"
    for must in ("zhang2025ash", "lu2022ns7car", "zhang2023ajh", "lee2019astct", "dohner2022eln",
                 "cheson2014lugano", "kaplan1958", "clopper1934", "schemper1996", "simon1984",
                 "anderson1983", "aalen1978", "cox1972", "davidsonpilon2019"):
        assert must in cited, f"{must} is never cited"


def test_references_page_holds_the_bibliography():
    assert "```{bibliography}" in _markdown(_nb("references"))


def test_data_dependencies_are_declared_for_the_pipeline():
    assert _nb("changes").metadata["nscore"]["data"] == "all"
    assert "data/experts.yml" in _nb("experts").metadata["nscore"]["depends"]


def test_every_page_discloses_simulated_data():
    # the provenance box states it on every page (nscore.report.provenance.SIMULATED_SENTENCE when the data
    # are flagged simulated, REAL_SENTENCE otherwise); the landing page says it in its own words as
    # well, from the cutoff's source record (nscore.report.prose.front.data_notice), never as fixed text
    from nscore.report import provenance

    assert "simulated" in provenance.SIMULATED_SENTENCE
    assert "simulated" not in provenance.REAL_SENTENCE
    assert "front.data_notice(cohort)" in "\n".join(c.source for c in _code(_nb("index")))
    assert "simulated" not in _markdown(_nb("index")).lower()


def test_experts_yaml_schema():
    data = yaml.safe_load((ROOT / "data" / "experts.yml").read_text(encoding="utf-8"))
    names = [e["name"] for e in data["experts"]]
    assert names == ["Lu Peihua", "Zhang Xian"]
    for e in data["experts"]:
        for key in ("degrees", "role_in_study", "summary"):
            assert isinstance(e[key], str) and e[key].strip()
        for key in ("affiliations", "positions", "training", "memberships", "honours"):
            assert isinstance(e[key], list)
        assert e["affiliations"] and e["positions"]
