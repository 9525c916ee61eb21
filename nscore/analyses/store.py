"""Facts of the data store as ARD rows (issue 13): the numbers What changed and the appendix print
about the stored cutoffs rather than about one cohort.

Computed from the data layer (:mod:`nscore.data.versions` manifests, :mod:`nscore.data.intake`
records and checks, :mod:`nscore.data.history` withdrawals), recorded by the chapters that show
them. Rows (population "data store"):

- ``store.cutoffs|=|n``: data cutoffs stored up to this one (compared on What changed);
- ``store.patients|cutoff=<iso>|n``: patients (ADSL rows of the manifest) of each stored cutoff;
- ``store.shared|cutoff=<iso>|n``: patients a cutoff shares with the cutoff before it (when the
  cohorts are given);
- ``store.intake_warnings|=|n``: intake warnings accepted with these cutoffs;
- ``store.withdrawals|=|n``: cutoffs withdrawn from the published versions;
- ``store.intake|setting=cohort_change|percent``: the intake threshold on the change of cohort
  size (:data:`nscore.data.intake.COHORT_CHANGE`, a setting);
- ``store.version_id|=|n``: hexadecimal digits of a data version id.

Cutoff-indexed rows name the cutoff by its ISO date: their analysis ids are the same at every
cutoff, and a new cutoff adds its own row.
"""

from __future__ import annotations

from nscore.analyses import ard

__all__ = ["POPULATION", "store_rows", "patients_key", "shared_key"]

POPULATION = "data store"


def _iso(c) -> str:
    return c.isoformat() if hasattr(c, "isoformat") else str(c)


def patients_key(cutoff) -> str:
    return f"store.patients|cutoff={_iso(cutoff)}|n"


def shared_key(cutoff) -> str:
    return f"store.shared|cutoff={_iso(cutoff)}|n"


def store_rows(data_dir, cutoffs, cohorts=None, *, version: str | None = None) -> list[dict]:
    """The store rows for ``cutoffs`` (oldest first, e.g. ``versions.list_cutoffs(data_dir, until=...)``).

    ``cohorts``: the loaded cohorts of those cutoffs, same order (for the patients shared between
    consecutive cutoffs); ``version``: this cutoff's data version id (for its number of digits).
    """
    from nscore.data import history, intake, versions

    cutoffs = list(cutoffs)
    rows = [ard.row("store.cutoffs", "n", len(cutoffs), population=POPULATION,
                    method="stored data versions up to this cutoff (nscore.data.versions.list_cutoffs)",
                    label="Data cutoffs stored up to this one")]
    warnings = 0
    for c in cutoffs:
        directory = versions.cutoff_dir(data_dir, c)
        manifest = versions.read_manifest(directory)
        adsl = (manifest.get("files") or {}).get("adsl.csv", {})
        rows.append(ard.row("store.patients", "n", int(adsl.get("rows", 0)), population=POPULATION,
                            group_var="cutoff", group_level=_iso(c), unit="patients",
                            method="ADSL rows of the stored manifest (nscore.data.versions.read_manifest)",
                            label="Patients of the data cutoff"))
        warnings += len((intake.read(directory) or {}).get("warnings") or [])
    if cohorts is not None:
        cohorts = list(cohorts)
        for a, b in zip(cohorts, cohorts[1:]):
            rows.append(ard.row("store.shared", "n", intake.shared_subjects(a, b), population=POPULATION,
                                group_var="cutoff", group_level=_iso(b.cutoff), unit="patients",
                                method="patients (USUBJID) in both cutoffs (nscore.data.intake.shared_subjects)",
                                label="Patients shared with the previous data cutoff"))
    rows.append(ard.row("store.intake_warnings", "n", warnings, population=POPULATION,
                        method="warnings recorded with each stored cutoff (nscore.data.intake.read)",
                        label="Intake warnings accepted when these cutoffs were stored"))
    rows.append(ard.row("store.withdrawals", "n", len(history.withdrawals(data_dir)), population=POPULATION,
                        method="withdrawal events of the store's history (nscore.data.history.withdrawals)",
                        label="Data cutoffs withdrawn from the published versions"))
    rows.append(ard.row("store.intake", "percent", 100 * intake.COHORT_CHANGE, population=POPULATION,
                        group_var="setting", group_level="cohort_change", unit="%",
                        method="nscore.data.intake.COHORT_CHANGE (setting)",
                        label="Change of the number of patients above which a delivery is refused at intake"))
    if version:
        rows.append(ard.row("store.version_id", "n", len(str(version)), population=POPULATION,
                            method="first hexadecimal digits of a SHA-256 (nscore.data.load.data_version)",
                            label="Hexadecimal digits of a data version id"))
    return rows
