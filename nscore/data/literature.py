"""Figures of other studies the book quotes (``data/literature.yml``), read and checked.

The Discussion sets the results of these data beside published CD7 CAR-T series. Their numbers are
data, not words typed into the prose: each is a :class:`LiteratureFigure` (citation key, endpoint,
group, population, statistic, value, unit, the sentence of the publication it comes from, and
whether it was verified against that publication), read here and turned into ARD rows by
:func:`nscore.analyses.literature.literature_rows`. The file format is described in the file's own
header; :func:`read_literature` raises :class:`nscore.errors.DataValidationError` with one row per
problem, as the study definition's reader does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nscore.errors import DataValidationError

__all__ = ["LITERATURE_FILE", "LiteratureFigure", "Literature", "read_literature", "parse_literature",
           "literature_path"]

#: The file name, in a data directory (``data/literature.yml``).
LITERATURE_FILE = "literature.yml"
#: Statistics a literature figure may be (a subset of the ARD's).
STATS = frozenset({"n", "N", "percent", "estimate", "lower", "upper", "median", "min", "max", "time"})
UNITS = frozenset({"patients", "%", "days", "months", ""})
_ID_PART = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FIELDS = {"source", "endpoint", "group_var", "group_level", "stat", "value", "unit", "population", "label",
           "sentence", "verified"}


@dataclass(frozen=True)
class LiteratureFigure:
    """One number a publication reports (see the header of ``data/literature.yml``)."""

    source: str
    endpoint: str
    stat: str
    value: float
    unit: str
    population: str
    label: str
    sentence: str
    verified: bool
    checked: str = ""
    group_var: str = ""
    group_level: str = ""

    @property
    def analysis_id(self) -> str:
        return f"literature.{self.source}.{self.endpoint}"


@dataclass(frozen=True)
class Literature:
    """The quoted figures, the file's ``version`` and the publications they come from."""

    version: int
    figures: tuple[LiteratureFigure, ...]
    path: str = ""

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(f.source for f in self.figures))


def literature_path(data_dir=None) -> Path:
    """``<data_dir>/literature.yml`` when it exists, else the project's (``data/literature.yml`` of
    the project holding this package): a delivery's data directory need not carry the literature."""
    if data_dir is not None:
        own = Path(data_dir) / LITERATURE_FILE
        if own.is_file():
            return own
    from nscore.data.versions import project_root

    return project_root(Path(__file__)) / "data" / LITERATURE_FILE


def _problem(rows: list, label: str, path: str, rule: str, value: Any = "") -> None:
    rows.append({"file": label, "row": None, "column": path, "rule": rule, "value": str(value)[:200]})


def parse_literature(raw: Any, label: str = LITERATURE_FILE) -> Literature:
    """A :class:`Literature` from the parsed YAML ``raw``; every problem raised at once."""
    from nscore.data.study import value_in_sentence

    problems: list[dict] = []
    if not isinstance(raw, dict):
        _problem(problems, label, "", "literature_not_mapping", type(raw).__name__)
        raw = {}
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _problem(problems, label, "version", "literature_version_not_positive_integer", version)
        version = 0
    sources = raw.get("sources") or {}
    if not isinstance(sources, dict):
        _problem(problems, label, "sources", "literature_field_not_mapping", sources)
        sources = {}
    for key, src in sources.items():
        if not isinstance(src, dict) or not isinstance(src.get("verified"), bool) \
                or not isinstance(src.get("checked"), str) or not src.get("checked", "").strip():
            _problem(problems, label, f"sources.{key}", "literature_source_needs_verified_and_checked", src)
    items = raw.get("literature")
    if not isinstance(items, list) or not items:
        _problem(problems, label, "literature", "literature_field_not_list", items)
        items = []
    figures, keys = [], set()
    for i, item in enumerate(items):
        where = f"literature[{i}]."
        if not isinstance(item, dict):
            _problem(problems, label, where[:-1], "literature_figure_not_mapping", item)
            continue
        for k in item:
            if k not in _FIELDS:
                _problem(problems, label, where + str(k), "literature_unknown_field", k)
        text = {}
        for k in ("source", "endpoint", "stat", "population", "label", "sentence"):
            v = item.get(k)
            if not isinstance(v, str) or not v.strip():
                _problem(problems, label, where + k, "literature_field_missing", v)
            text[k] = v if isinstance(v, str) else ""
        for k in ("group_var", "group_level", "unit"):
            v = item.get(k, "")
            if not isinstance(v, str):
                _problem(problems, label, where + k, "literature_field_not_text", v)
                v = ""
            text[k] = v
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _problem(problems, label, where + "value", "literature_value_not_number", value)
            continue
        if text["source"] and text["source"] not in sources:
            _problem(problems, label, where + "source", "literature_source_not_listed", text["source"])
        for k in ("source", "endpoint"):
            if text[k] and not _ID_PART.match(text[k]):
                _problem(problems, label, where + k, "literature_id_part_invalid", text[k])
        if text["stat"] and text["stat"] not in STATS:
            _problem(problems, label, where + "stat", "literature_stat_unknown", text["stat"])
        if text["unit"] not in UNITS:
            _problem(problems, label, where + "unit", "literature_unit_unknown", text["unit"])
        # as printed: 20, 36.8, and a whole number the source prints with its decimal (27.0) either way
        printed = [f"{value:g}"] + ([f"{float(value):.1f}"] if float(value).is_integer() else [])
        if text["sentence"] and not any(value_in_sentence(p, text["sentence"]) for p in printed):
            _problem(problems, label, where + "value", "literature_value_not_in_sentence", value)
        src = sources.get(text["source"]) if isinstance(sources.get(text["source"]), dict) else {}
        verified = item.get("verified", src.get("verified", False))
        if not isinstance(verified, bool):
            _problem(problems, label, where + "verified", "literature_field_not_boolean", verified)
            verified = False
        key = (text["source"], text["endpoint"], text["group_var"], text["group_level"], text["stat"])
        if key in keys:
            _problem(problems, label, where[:-1], "literature_figure_duplicated", "|".join(key))
        keys.add(key)
        figures.append(LiteratureFigure(
            source=text["source"], endpoint=text["endpoint"], stat=text["stat"], value=float(value),
            unit=text["unit"], population=text["population"], label=text["label"], sentence=text["sentence"],
            verified=verified, checked=str(src.get("checked", "") or "").strip(), group_var=text["group_var"],
            group_level=text["group_level"]))
    if problems:
        import pandas as pd

        frame = pd.DataFrame(problems, columns=DataValidationError.COLUMNS)
        frame["row"] = pd.array([None] * len(frame), dtype="Int64")
        raise DataValidationError(frame, f"{label}: invalid literature figures")
    return Literature(version=int(version), figures=tuple(figures), path=label)


def read_literature(data_dir=None) -> Literature:
    """The literature figures of ``data_dir`` (else the project's, :func:`literature_path`)."""
    path = literature_path(data_dir)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        import pandas as pd

        frame = pd.DataFrame([{"file": str(path), "row": None, "column": "", "rule": "literature_unreadable",
                               "value": str(exc)[:200]}], columns=DataValidationError.COLUMNS)
        raise DataValidationError(frame, f"{path}: literature figures cannot be read") from exc
    return parse_literature(raw, label=str(path))
