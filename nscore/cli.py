"""``nscore`` command line: parses arguments and calls one :mod:`nscore.build.pipeline` function.

Exit codes: 0 success; 1 an :class:`~nscore.errors.NscoreError` (for a data validation error: a
summary by rule and the first rows of the failure table, with the complete table written to
``_build/validation/<time>-<command>.csv`` and its path printed), or for ``reproduce`` a statistic that
did not reproduce; 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from nscore.data import intake, versions

from nscore.build import pipeline, reproduce
from nscore.errors import DataValidationError, NscoreError, escape


def _date(s: str) -> str:
    if s == "latest":
        return s
    try:
        return dt.date.fromisoformat(s).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD (or 'latest'): {s!r}") from None


def _day(s: str) -> str:
    """A stored cutoff named explicitly (withdraw): YYYY-MM-DD, never 'latest'."""
    try:
        return dt.date.fromisoformat(s).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {s!r}") from None


def _reason(s: str) -> str:
    if not s.strip():
        raise argparse.ArgumentTypeError("the reason must not be empty")
    return s


def _positive(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {n}")
    return n


def _write_failures(exc: DataValidationError, project, command: str) -> Path:
    """Write the complete failure table as CSV under ``_build/validation/`` (else a temp dir).

    Why: the terminal shows a capped table; a data manager fixing a delivery needs every row.
    """
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    name = f"{stamp}-{command}.csv"
    if project is not None:
        try:
            return exc.write_csv(project.build_dir / "validation" / name)
        except OSError:
            pass
    return exc.write_csv(Path(tempfile.mkdtemp(prefix="nscore-validation-")) / name)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nscore",
        description="Build, update and check the NS7CAR living publication.",
    )
    p.add_argument("-C", "--root", type=Path, default=None,
                   help="project root (default: nearest directory with _toc.yml at or above the cwd)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="validate data, execute changed chapters, build and publish the site")
    b.add_argument("--cutoff", type=_date, default="latest",
                   help="'latest' (default: every stored cutoff, newest at the site root) or one YYYY-MM-DD")
    b.add_argument("--force", action="store_true", help="re-execute every chapter even if its key is unchanged")
    b.add_argument("--jobs", type=_positive, default=None, help="parallel kernels (default: number of cores)")

    u = sub.add_parser("update", help="validate and store a new data cutoff, then rebuild and republish")
    u.add_argument("path", type=Path, help="directory (or archive) of ADaM-style files for the new cutoff")
    u.add_argument("--jobs", type=_positive, default=None, help="parallel kernels (default: number of cores)")
    u.add_argument("--accept-warnings", action="store_true",
                   help="store the delivery even if it looks like a mistake or another study (no patient "
                        "shared with the previous cutoff, patients missing, cohort size changed by more than "
                        f"{intake.COHORT_CHANGE * 100:.0f}%%, deaths gone); the warnings are recorded with the cutoff")
    u.add_argument("--no-build", action="store_true",
                   help="store the cutoff only; build later (`nscore build`, or a plain `jupyter-book build .`, "
                        "which re-executes the stale chapters)")

    w = sub.add_parser("withdraw", help="withdraw a stored cutoff from the published versions (files kept)")
    w.add_argument("cutoff", type=_day, help="the stored cutoff, YYYY-MM-DD")
    w.add_argument("--reason", type=_reason, required=True,
                   help="why (recorded in data/history.json and shown on the What changed page)")

    sub.add_parser("check", help="fail if committed executed notebooks or data manifests are stale")

    v = sub.add_parser("validate", help="validate one data directory, or every stored cutoff")
    v.add_argument("path", type=Path, nargs="?", default=None)

    s = sub.add_parser("simulate", help="regenerate the shipped simulated cutoffs, or simulate one cohort")
    s.add_argument("--n", type=_positive, default=None, help="patients (needs --out)")
    s.add_argument("--cutoff", type=_date, default=None, help="data cutoff YYYY-MM-DD (needs --out)")
    s.add_argument("--seed", type=int, default=None, help="random seed (needs --out)")
    s.add_argument("--out", type=Path, default=None, help="directory to write the simulated files to")

    sub.add_parser("pdf", help="build the PDF of the publication")

    r = sub.add_parser("reproduce", help="re-execute a reviewer bundle's chapters on its data with its code and "
                                         "compare every statistic with the published one (exit 1 on a difference)")
    r.add_argument("bundle", type=Path, help="reviewer-bundle-<cutoff>.zip, or the directory it was unpacked into")
    r.add_argument("--jobs", type=_positive, default=None, help="parallel kernels (default: number of cores)")
    r.add_argument("--chapters", type=_chapters, default=None,
                   help="comma-separated chapter names to re-execute (default: every chapter), e.g. results,safety")
    r.add_argument("--data", type=Path, default=None,
                   help="for a public bundle (no patient-level data): a project's data directory, or one holding "
                        "cutoffs/<cutoff>/...; each file is checked against the bundle's data manifests")
    return p


def _chapters(s: str) -> list[str]:
    names = [x.strip() for x in s.split(",") if x.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one chapter name, e.g. results,safety")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate" and args.out is None and (args.n or args.cutoff or args.seed is not None):
        parser.error("simulate: --n/--cutoff/--seed need --out (without options it rewrites the shipped cutoffs)")
    project = None
    try:
        if args.command == "reproduce":  # needs no project: the bundle is one
            result = reproduce.reproduce(args.bundle, jobs=args.jobs, chapters=args.chapters, data=args.data)
            print(result.summary())
            return 0 if result.ok else 1
        project = pipeline.Project(args.root if args.root is not None else versions.project_root())
        if args.command == "build":
            pipeline.build(project, cutoff=args.cutoff, force=args.force, jobs=args.jobs)
        elif args.command == "update":
            pipeline.update(project, args.path, jobs=args.jobs, accept_warnings=args.accept_warnings,
                            no_build=args.no_build)
        elif args.command == "withdraw":
            pipeline.withdraw(project, args.cutoff, args.reason)
        elif args.command == "check":
            pipeline.check_or_raise(project)
            print("check: executed notebooks and data manifests are current")
        elif args.command == "validate":
            result = pipeline.validate(project, args.path)
            print(f"valid: {args.path or 'every stored cutoff'}")
            for note in getattr(result, "notes", ()):
                print(f"  note: {escape(note)}")
        elif args.command == "simulate":
            written = pipeline.simulate(project, n=args.n, cutoff=args.cutoff, seed=args.seed, out=args.out)
            print(f"simulated data written to {written}")
        elif args.command == "pdf":
            out = pipeline.pdf(project)
            print(f"pdf: {out}")
    except DataValidationError as exc:
        print(f"nscore {args.command}: error: {exc}", file=sys.stderr)
        path = _write_failures(exc, project, args.command)
        print(f"nscore {args.command}: the full table of {len(exc.failures)} failure(s) is in {path}", file=sys.stderr)
        return 1
    except NscoreError as exc:
        print(f"nscore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nscore {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line for the user, the traceback in a file
        log = _write_traceback(args.command)
        print(f"nscore {args.command}: internal error ({type(exc).__name__}: {escape(str(exc))[:300]}); "
              f"this is a bug in nscore, please report it; the traceback is in {log}", file=sys.stderr)
        return 1
    return 0


def _write_traceback(command: str) -> str:
    """The current exception's traceback in a temporary file; its path (for a bug report)."""
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix=f"nscore-{command}-", suffix=".log", delete=False,
                                     encoding="utf-8") as handle:
        traceback.print_exc(file=handle)
        return handle.name
