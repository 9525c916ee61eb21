"""The study definition (``study.yml``): every study-specific fact, as data rather than code.

Trials, diagnoses (in clinical order, with their response-criteria family), dose levels, the
subject-id patterns, the first infusion date, the adverse-event categories collected and the
published figures to reproduce all come from here, so a delivery of another study validates and
reads true with its own ``study.yml`` and no code change. The file is checked by
:func:`read_study`, whose problems are reported like any data problem (file, row, column, rule,
value) with the field's path in ``column``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from nscore.errors import DataValidationError, NscoreError

__all__ = [
    "STUDY_FILE",
    "CRITERIA",
    "Trial",
    "Diagnosis",
    "DoseLevel",
    "PublishedFigure",
    "Published",
    "Study",
    "value_in_sentence",
    "parse_study",
    "read_study",
    "default_study_path",
]

STUDY_FILE = "study.yml"
#: Response-criteria families a diagnosis can follow.
CRITERIA = ("leukemia", "lymphoma")
#: A study file is small; anything larger is refused before parsing.
MAX_STUDY_BYTES = 1 << 20


@dataclass(frozen=True)
class Trial:
    id: str
    name: str = ""


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str
    criteria: str


@dataclass(frozen=True)
class DoseLevel:
    code: str
    cells_per_kg: float


@dataclass(frozen=True)
class PublishedFigure:
    """One published number: as printed, the statistic (with arguments) that recomputes it, and the
    sentence of the source (``Published.source``) it is quoted from, when the study gives it."""

    key: str
    label: str
    value: str
    statistic: str
    args: tuple[tuple[str, Any], ...] = ()
    sentence: str | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


@dataclass(frozen=True)
class Published:
    """Figures a publication reports for one data cutoff, and the reference (bib key) they come from."""

    source: str
    cutoff: date
    figures: tuple[PublishedFigure, ...]


@dataclass(frozen=True)
class Study:
    """A validated study definition; see ``data/README.md`` for each field."""

    id: str
    title: str
    therapy: str
    subject_id_pattern: str
    trials: tuple[Trial, ...]
    diagnoses: tuple[Diagnosis, ...]
    subject_number_pattern: str | None = None
    usubjid_is_studyid_subjid: bool = False
    first_infusion: date | None = None
    dose_levels: tuple[DoseLevel, ...] = ()
    adverse_events: tuple[str, ...] = ()
    published: Published | None = None
    #: where it was read from (the delivery's own study.yml or the project default)
    path: str = field(default="", compare=False)

    @property
    def trial_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.trials)

    @property
    def diagnosis_codes(self) -> tuple[str, ...]:
        """Diagnosis codes in clinical order (the order of every table and figure)."""
        return tuple(d.code for d in self.diagnoses)

    def diagnosis(self, code: str) -> Diagnosis | None:
        return next((d for d in self.diagnoses if d.code == code), None)

    @property
    def dose_level_codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.dose_levels)

    @property
    def collects_adverse_events(self) -> bool:
        return bool(self.adverse_events)


# --------------------------------------------------------------------------------------------
# parsing, with every problem collected
# --------------------------------------------------------------------------------------------
class _Problems:
    def __init__(self, label: str):
        self.label, self.rows = label, []

    def add(self, path: str, rule: str, value: Any = "") -> None:
        text = str(value)
        self.rows.append({"file": self.label, "row": None, "column": path, "rule": rule,
                          "value": text[:200]})


def _text(raw: dict, key: str, problems: _Problems, where: str, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(f"{where}{key}", "study_field_missing", key)
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(f"{where}{key}", "study_field_not_text", value)
        return None
    return value


def _pattern(raw: dict, key: str, problems: _Problems, required: bool) -> str | None:
    value = _text(raw, key, problems, "", required)
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        problems.add(key, "study_invalid_pattern", f"{value}: {exc}")
        return None
    if not (value.startswith("^") and value.endswith("$")):
        problems.add(key, "study_pattern_not_anchored", value)
        return None
    if "\\d" in value or "\\w" in value:
        # \d and \w match every Unicode digit/letter: a full-width "１２３" would pass as an id
        problems.add(key, "study_pattern_not_ascii", value)
        return None
    return value


def _date(raw: dict, key: str, problems: _Problems, where: str = "", required: bool = False) -> date | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(f"{where}{key}", "study_field_missing", key)
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.add(f"{where}{key}", "study_invalid_date", value)
        return None


def _items(raw: dict, key: str, problems: _Problems, required: bool) -> list:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(key, "study_field_missing", key)
        return []
    if not isinstance(value, list):
        problems.add(key, "study_field_not_list", type(value).__name__)
        return []
    return value


def _unique(codes: list[str], key: str, problems: _Problems) -> None:
    seen = set()
    for code in codes:
        if code in seen:
            problems.add(key, "study_duplicate_code", code)
        seen.add(code)


def _trials(raw: dict, problems: _Problems) -> tuple[Trial, ...]:
    out = []
    for i, item in enumerate(_items(raw, "trials", problems, required=True)):
        where = f"trials[{i}]."
        if not isinstance(item, dict):
            problems.add(f"trials[{i}]", "study_field_not_mapping", item)
            continue
        tid = _text(item, "id", problems, where)
        name = _text(item, "name", problems, where, required=False) or ""
        if tid is not None:
            out.append(Trial(tid, name))
    if not out and raw.get("trials") is not None:
        problems.add("trials", "study_no_trials", "empty")
    _unique([t.id for t in out], "trials", problems)
    return tuple(out)


def _diagnoses(raw: dict, problems: _Problems) -> tuple[Diagnosis, ...]:
    out = []
    for i, item in enumerate(_items(raw, "diagnoses", problems, required=True)):
        where = f"diagnoses[{i}]."
        if not isinstance(item, dict):
            problems.add(f"diagnoses[{i}]", "study_field_not_mapping", item)
            continue
        code = _text(item, "code", problems, where)
        name = _text(item, "name", problems, where)
        criteria = _text(item, "criteria", problems, where)
        if criteria is not None and criteria not in CRITERIA:
            problems.add(f"{where}criteria", "study_unknown_criteria", criteria)
            criteria = None
        if None not in (code, name, criteria):
            out.append(Diagnosis(code, name, criteria))
    if not out and raw.get("diagnoses") is not None:
        problems.add("diagnoses", "study_no_diagnoses", "empty")
    _unique([d.code for d in out], "diagnoses", problems)
    return tuple(out)


def _dose_levels(raw: dict, problems: _Problems) -> tuple[DoseLevel, ...]:
    out = []
    for i, item in enumerate(_items(raw, "dose_levels", problems, required=False)):
        where = f"dose_levels[{i}]."
        if not isinstance(item, dict):
            problems.add(f"dose_levels[{i}]", "study_field_not_mapping", item)
            continue
        code = _text(item, "code", problems, where)
        dose = item.get("cells_per_kg")
        if isinstance(dose, bool) or not isinstance(dose, (int, float)) or not dose > 0 or dose == float("inf"):
            problems.add(f"{where}cells_per_kg", "study_dose_not_positive", dose)
            dose = None
        if code is not None and dose is not None:
            out.append(DoseLevel(code, float(dose)))
    _unique([d.code for d in out], "dose_levels", problems)
    return tuple(out)


def _adverse_events(raw: dict, problems: _Problems) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(_items(raw, "adverse_events", problems, required=False)):
        if not isinstance(item, str) or not item.strip():
            problems.add(f"adverse_events[{i}]", "study_field_not_text", item)
            continue
        out.append(item)
    _unique(out, "adverse_events", problems)
    return tuple(out)


def _published(raw: dict, problems: _Problems) -> Published | None:
    block = raw.get("published")
    if block is None:
        return None
    if not isinstance(block, dict):
        problems.add("published", "study_field_not_mapping", type(block).__name__)
        return None
    source = _text(block, "source", problems, "published.")
    cutoff = _date(block, "cutoff", problems, "published.", required=True)
    figures = []
    for i, item in enumerate(_items(block, "figures", problems, required=True)):
        where = f"published.figures[{i}]."
        if not isinstance(item, dict):
            problems.add(f"published.figures[{i}]", "study_field_not_mapping", item)
            continue
        key = _text(item, "key", problems, where)
        label = _text(item, "label", problems, where)
        statistic = _text(item, "statistic", problems, where)
        value = item.get("value")
        if value is None or isinstance(value, (dict, list)):
            problems.add(f"{where}value", "study_field_missing" if value is None else "study_field_not_text", value)
            value = None
        args = item.get("args") or {}
        if not isinstance(args, dict):
            problems.add(f"{where}args", "study_field_not_mapping", args)
            args = None
        sentence = _text(item, "sentence", problems, where, required=False)
        if sentence is not None and value is not None and not value_in_sentence(str(value), sentence):
            problems.add(f"{where}value", "study_value_not_in_sentence", value)
        if None not in (key, label, statistic, value, args):
            figures.append(PublishedFigure(key, label, str(value), statistic, tuple(sorted(args.items())),
                                           sentence))
    _unique([f.key for f in figures], "published.figures", problems)
    if source is None or cutoff is None:
        return None
    return Published(source, cutoff, tuple(figures))


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORD = re.compile(r"\b(?:(%s)(?:-(%s))?|(%s))\b" % ("|".join(_TENS), "|".join(_UNITS[1:10]), "|".join(_UNITS)),
                          re.IGNORECASE)


def _spelled_as_numerals(text: str) -> str:
    """``text`` with number words below a hundred as numerals ("Eighty-eight" -> "88", "four" -> "4")."""
    def numeral(m: re.Match) -> str:
        if m.group(3):
            return str(_UNITS.index(m.group(3).lower()))
        tens = 10 * (_TENS.index(m.group(1).lower()) + 2)
        return str(tens + (_UNITS.index(m.group(2).lower()) if m.group(2) else 0))
    return _NUMBER_WORD.sub(numeral, text)


def value_in_sentence(value: str, sentence: str) -> bool:
    """Whether a published ``value`` is what ``sentence`` prints.

    Either ``value`` occurs in the sentence as it stands, as whole words and numbers ("86.3% (284/329)";
    "4" is not in "24" nor "1.4"), or its numbers occur
    there one after the other, with the sentence's words between them and number words read as
    numerals: "24 (range, 2–67)" in "The median age was 24 years (range, 2–67 years)", "88 (26.3%)"
    in "Eighty-eight patients (26.3%)". A value without a number must occur as it stands.
    """
    if re.search(r"(?<![0-9A-Za-z])(?<![0-9]\.)" + re.escape(value) + r"(?![0-9A-Za-z])(?!\.[0-9])", sentence):
        return True
    wanted = _NUMBER.findall(value)
    if not wanted:
        return False
    found = _NUMBER.findall(_spelled_as_numerals(sentence))
    return any(found[i:i + len(wanted)] == wanted for i in range(len(found) - len(wanted) + 1))


_KNOWN_FIELDS = {"id", "title", "therapy", "subject_id_pattern", "subject_number_pattern",
                 "usubjid_is_studyid_subjid", "first_infusion", "trials", "diagnoses", "dose_levels",
                 "adverse_events", "published"}


def parse_study(raw: Any, label: str = STUDY_FILE) -> Study:
    """A :class:`Study` from the parsed YAML ``raw``; every problem raised at once.

    Raises
    ------
    DataValidationError
        One row per problem, with the field's path (``diagnoses[2].criteria``) as the column.
    """
    problems = _Problems(label)
    if not isinstance(raw, dict):
        problems.add("", "study_not_mapping", type(raw).__name__)
        raise DataValidationError(_frame(problems), f"{label}: invalid study definition")
    for key in raw:
        if key not in _KNOWN_FIELDS:
            problems.add(str(key), "study_unknown_field", key)
    flag = raw.get("usubjid_is_studyid_subjid", False)
    if not isinstance(flag, bool):
        problems.add("usubjid_is_studyid_subjid", "study_field_not_boolean", flag)
        flag = False
    study = Study(
        id=_text(raw, "id", problems, "") or "",
        title=_text(raw, "title", problems, "") or "",
        therapy=_text(raw, "therapy", problems, "") or "",
        subject_id_pattern=_pattern(raw, "subject_id_pattern", problems, required=True) or "",
        subject_number_pattern=_pattern(raw, "subject_number_pattern", problems, required=False),
        usubjid_is_studyid_subjid=flag,
        first_infusion=_date(raw, "first_infusion", problems),
        trials=_trials(raw, problems),
        diagnoses=_diagnoses(raw, problems),
        dose_levels=_dose_levels(raw, problems),
        adverse_events=_adverse_events(raw, problems),
        published=_published(raw, problems),
        path=label,
    )
    if problems.rows:
        raise DataValidationError(_frame(problems), f"{label}: invalid study definition: {len(problems.rows)} problem(s)")
    return study


def _frame(problems: _Problems):
    import pandas as pd

    frame = pd.DataFrame(problems.rows, columns=DataValidationError.COLUMNS)
    frame["row"] = pd.array([None] * len(frame), dtype="Int64")
    return frame


def read_study(path) -> Study:
    """Read and validate a ``study.yml``.

    Raises
    ------
    DataValidationError
        When the file cannot be read as YAML or breaks a rule (``study_*``).
    NscoreError
        When there is no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise NscoreError(f"{path}: no study definition (study.yml)")
    label = path.name
    problems = _Problems(label)
    data = path.read_bytes()
    if len(data) > MAX_STUDY_BYTES:
        problems.add("", "study_too_large", f"{len(data)} bytes > {MAX_STUDY_BYTES}")
        raise DataValidationError(_frame(problems), f"{label}: invalid study definition")
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        problems.add("", "study_invalid_yaml", str(exc).replace("\n", " "))
        raise DataValidationError(_frame(problems), f"{label}: invalid study definition") from None
    return replace(parse_study(raw, label), path=str(path.resolve()))


def default_study_path(data_dir) -> Path:
    """The project's default study definition, ``<data_dir>/study.yml``."""
    return Path(data_dir) / STUDY_FILE
