"""What the simulated cohort reproduces, read from the study definition it models (data/study.yml).

Trials, diagnoses, dose levels, the first and last infusion and the published figures
(``published.figures``, each quoted with its source sentence and checked against it when the study
is read) live in ``data/study.yml`` only; :func:`targets_of` turns them into the counts and
quantiles :mod:`nscore.data.simmodel` builds the latent cohort to. The model's own parameters are
NS7CAR's, so it needs a study with five trials and five diagnoses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from nscore.errors import NscoreError, SimulationError

__all__ = ["Targets", "targets", "targets_of", "study_path"]

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


# --------------------------------------------------------------------------------------------------
# what the simulated cohort reproduces (from data/study.yml)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Targets:
    """The study facts and published figures the latent cohort is built to reproduce exactly at
    ``n`` patients and the published ``cutoff`` (counts out of ``n`` unless said otherwise)."""

    n: int
    cutoff: date
    first_infusion: date
    last_infusion: date
    trials: tuple[str, ...]
    diagnoses: tuple[str, ...]
    diagnosis_counts: tuple[int, ...]
    dose_levels: tuple[str, ...]
    dose_per_kg: tuple[float, ...]
    age: tuple[int, int, int]            # min, median, max (years)
    male: int
    prior_hct: int
    prior_hct_2: int                     # of prior_hct
    marrow: int                          # marrow involvement
    blasts_20: int                       # of marrow
    evaluable: int
    responders: int                      # of evaluable
    cr_cri: int                          # of evaluable
    hct: int
    hct_days: tuple[int, int, int]       # min, median, max days to transplant
    pfs_days: tuple[float, float, float]  # min, median, max observed PFS days
    os_days: tuple[float, float, float]
    crs: int
    crs_ge3: int                         # of all patients
    icans: int
    icans_ge3: int
    #: diagnoses whose response follows lymphoma criteria (Lugano-like: CR/PR, no CRi)
    lymphoma: tuple[str, ...] = ()


def _numbers(text: str) -> list:
    """The numbers of a printed figure, in order: whole numbers as int, others as float."""
    return [int(x) if "." not in x else float(x) for x in _NUMBER.findall(text)]


def _min_median_max(text: str) -> tuple:
    """``"57 (range, 28–227)"`` -> ``(28, 57, 227)``."""
    median, lo, hi = _numbers(text)[:3]
    return lo, median, hi


def targets_of(study) -> Targets:
    """The :class:`Targets` of a study definition (:class:`nscore.data.study.Study`).

    Raises
    ------
    SimulationError
        If the study has no published figures, lacks one the model needs, or is not shaped like
        NS7CAR (five trials, five diagnoses).
    """
    if study.published is None:
        raise SimulationError(f"{study.path}: the simulation needs the study's published figures")
    figures = {f.key: f for f in study.published.figures}
    by_value = {dict(f.args).get("value"): f for f in figures.values() if f.statistic == "count_pct"}

    def value(key: str) -> str:
        if key not in figures:
            raise SimulationError(f"{study.path}: the simulation needs the published figure {key!r}")
        return figures[key].value

    def first(key: str) -> int:
        return _numbers(value(key))[0]

    def fraction(key: str) -> tuple[int, int]:  # "86.3% (284/329)" -> (284, 329)
        return tuple(_numbers(value(key))[1:3])

    n = first("n_patients")

    def share(key: str) -> int:  # "10.2%" of n, as a count (the count the percentage was printed from)
        count = round(_numbers(value(key))[0] * n / 100)
        if f"{100 * count / n:.1f}%" != value(key):
            raise SimulationError(f"{study.path}: {key} = {value(key)} is no whole number of {n} patients")
        return count

    if len(study.trials) != 5 or len(study.diagnoses) != 5:
        raise SimulationError(f"{study.path}: the simulation models NS7CAR (five trials, five diagnoses)")
    missing = [d for d in study.diagnosis_codes if d not in by_value]
    if missing:
        raise SimulationError(f"{study.path}: no published count of diagnosis {', '.join(missing)}")
    start, end = (datetime.strptime(part.strip(), "%B %d, %Y").date()
                  for part in value("infusion_window").split(", to "))
    blasts, marrow = fraction("blasts_20")
    return Targets(
        n=n, cutoff=study.published.cutoff, first_infusion=study.first_infusion or start, last_infusion=end,
        trials=tuple(study.trial_ids), diagnoses=tuple(study.diagnosis_codes),
        diagnosis_counts=tuple(_numbers(by_value[d].value)[0] for d in study.diagnosis_codes),
        dose_levels=tuple(d.code for d in study.dose_levels),
        dose_per_kg=tuple(d.cells_per_kg for d in study.dose_levels),
        age=_min_median_max(value("age")), male=first("male"), prior_hct=first("prior_hct"),
        prior_hct_2=first("prior_hct_2"), marrow=marrow, blasts_20=blasts, evaluable=first("n_evaluable"),
        responders=fraction("orr")[0], cr_cri=fraction("cr_cri")[0], hct=first("hct"),
        hct_days=_min_median_max(value("hct_interval")), pfs_days=_min_median_max(value("pfs_median_observed")),
        os_days=_min_median_max(value("os_median_observed")), crs=fraction("crs")[0], crs_ge3=share("crs_g3"),
        icans=fraction("icans")[0], icans_ge3=share("icans_g3"),
        lymphoma=tuple(d.code for d in study.diagnoses if d.criteria == "lymphoma"),
    )


def study_path() -> Path:
    """The study definition this simulation models: ``data/study.yml`` of the project holding this
    package (not of the working directory, which may hold another study)."""
    from nscore.data.versions import project_root

    try:
        path = project_root(Path(__file__)) / "data" / "study.yml"
    except NscoreError as exc:
        raise SimulationError(f"the simulation's study definition (data/study.yml) is not found: {exc}") from exc
    if not path.is_file():
        raise SimulationError(f"{path}: the simulation's study definition is missing")
    return path


@lru_cache(maxsize=1)
def targets() -> Targets:
    """The :class:`Targets` of :func:`study_path` (read once per process)."""
    from nscore.data.study import read_study

    return targets_of(read_study(study_path()))
