"""Planning a build: for each (cutoff, chapter), an executed notebook that is current, or a job to run;
and what a build reports (:class:`ChapterRun`, :class:`BuildReport`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nscore.build.execute import Executed, Job
from nscore.build.keys import CodeHashes, chapter_key, current_key, recorded, why_changed
from nscore.build.project import Chapter, Project


@dataclass(frozen=True)
class ChapterRun:
    cutoff: str
    chapter: str
    action: str  # "executed", "skipped", "copied" (refresh) or "stale" (refresh, check only)
    reason: str
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildReport:
    """What one build did: per chapter and cutoff, executed or skipped and why; where the site is."""

    cutoffs: list[str]
    newest: str
    runs: list[ChapterRun]
    sites_built: list[str]
    sites_reused: list[str]
    site: Path
    bundles: dict[str, Path]
    seconds: float

    @property
    def executed(self) -> list[tuple[str, str]]:
        return [(r.cutoff, r.chapter) for r in self.runs if r.action == "executed"]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(r.cutoff, r.chapter) for r in self.runs if r.action == "skipped"]

    def summary(self) -> str:
        lines = [
            f"executed {len(self.executed)} chapter run(s), skipped {len(self.skipped)} unchanged; "
            f"sites built: {', '.join(self.sites_built) or 'none'}; reused: {', '.join(self.sites_reused) or 'none'}",
            f"site: {self.site / 'index.html'}  (versions under {self.site / 'v'})",
            f"total {self.seconds:.1f} s",
        ]
        return "\n".join(lines)


def executed_runs(executed: tuple[Executed, ...] | list[Executed]) -> list[ChapterRun]:
    return [ChapterRun(e.job.cutoff, e.job.chapter.name, "executed", e.job.reason, e.seconds) for e in executed]


@dataclass(frozen=True)
class Plan:
    """Per target cutoff and chapter: the notebook the site uses and its key; the jobs to run first.

    For a job, ``notebooks`` names its staged output and ``keys`` its planned key (its full key is
    known once it ran: :meth:`keys_after`).
    """

    skipped: tuple[ChapterRun, ...]
    jobs: tuple[Job, ...]
    notebooks: dict[str, dict[str, Path]]
    keys: dict[str, dict[str, str]]

    def keys_after(self, executed: tuple[Executed, ...]) -> dict[str, dict[str, str]]:
        keys = {c: dict(k) for c, k in self.keys.items()}
        for e in executed:
            keys[e.job.cutoff][e.job.chapter.name] = e.key
        return keys


def plan_build(project: Project, *, targets: list[str], chapters: list[Chapter], data_versions: dict[str, str],
               hashes: CodeHashes, stage: Path, force: bool) -> Plan:
    """Key every (cutoff, chapter); skip those whose cached or committed notebook carries the key."""
    skipped: list[ChapterRun] = []
    jobs: list[Job] = []
    notebooks: dict[str, dict[str, Path]] = {c: {} for c in targets}
    keys: dict[str, dict[str, str]] = {c: {} for c in targets}
    for c in targets:
        for ch in chapters:
            base, comps = chapter_key(project, ch, c, data_versions, hashes=hashes)
            candidates = [project.executed(c, ch), project.notebook(ch)]
            metas = [recorded(p) for p in candidates]
            current = [(p, current_key(comps, m, data_versions)[0]) for p, m in zip(candidates, metas)]
            found = next(((p, k) for (p, k), m in zip(current, metas) if m is not None and m.get("key") == k), None)
            if found is not None and not force:
                notebooks[c][ch.name], keys[c][ch.name] = found
                skipped.append(ChapterRun(c, ch.name, "skipped", f"unchanged (key {found[1][:12]})"))
                continue
            prev = next((m for m in metas if m and m.get("cutoff") == c), None)
            reason = "forced" if force else why_changed(prev, current_key(comps, prev, data_versions)[1])
            out = stage / "executed" / c / f"{ch.name}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            jobs.append(Job(c, ch, base, comps, reason, out))
            notebooks[c][ch.name], keys[c][ch.name] = out, base
    return Plan(skipped=tuple(skipped), jobs=tuple(jobs), notebooks=notebooks, keys=keys)


@dataclass(frozen=True)
class RefreshPlan:
    """:func:`plan_refresh`: chapters current in ``chapters/`` (skipped), current in the cache (copies),
    and the jobs to run."""

    skipped: tuple[ChapterRun, ...]
    copies: tuple[tuple[Chapter, Path], ...]
    jobs: tuple[Job, ...]

    def runs(self, cutoff: str) -> list[ChapterRun]:
        return [*self.skipped, *(ChapterRun(cutoff, ch.name, "copied", f"current notebook in {src.parent}")
                                 for ch, src in self.copies)]


def plan_refresh(project: Project, *, newest: str, chapters: list[Chapter], data_versions: dict[str, str],
                 hashes: CodeHashes, stage: Path) -> RefreshPlan:
    """Key every chapter for the newest cutoff: ``chapters/<name>.ipynb`` first, then the cache."""
    skipped: list[ChapterRun] = []
    copies: list[tuple[Chapter, Path]] = []
    jobs: list[Job] = []
    for ch in chapters:
        base, comps = chapter_key(project, ch, newest, data_versions, hashes=hashes)
        candidates = [project.notebook(ch), project.executed(newest, ch)]
        metas = [recorded(p) for p in candidates]
        found = next((p for p, m in zip(candidates, metas)
                      if m is not None and m.get("key") == current_key(comps, m, data_versions)[0]), None)
        if found == project.notebook(ch):
            skipped.append(ChapterRun(newest, ch.name, "skipped", "unchanged"))
        elif found is not None:
            copies.append((ch, found))
        else:
            prev = next((m for m in metas if m and m.get("cutoff") == newest), metas[0])
            reason = why_changed(prev, current_key(comps, prev, data_versions)[1])
            jobs.append(Job(newest, ch, base, comps, reason, stage / "executed" / newest / f"{ch.name}.ipynb"))
    return RefreshPlan(skipped=tuple(skipped), copies=tuple(copies), jobs=tuple(jobs))
