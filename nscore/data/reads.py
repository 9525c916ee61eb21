"""Which data versions a chapter's kernel actually read, so its rebuild key can cover all of them.

A chapter declares the cutoffs it depends on (its own, or all up to it), but code can read more
(results reads the published cutoff too). The pipeline names a log file in ``NSCORE_READS`` for
each chapter's kernel; :func:`record` (called by ``nscore.data.versions.load``) appends one line per read,
and the pipeline puts what was read into the executed notebook and its key. Outside a build the
variable is unset and nothing is written. Kept free of pandas: the pipeline imports it on every build.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_VAR = "NSCORE_READS"
ABSENT = "absent"
"""The version recorded (and keyed) for a cutoff that was looked for but is not stored."""


LISTING = "list:"
"""Prefix of a recorded read of the list of stored cutoffs (``list:all`` or ``list:<until>``)."""


def listing(until: str | None) -> str:
    """The read name of ``versions.list_cutoffs(until=...)``."""
    return LISTING + (until or "all")


def listing_value(cutoffs) -> str:
    """The recorded value of a listing: the cutoffs, comma-separated (oldest first)."""
    return ",".join(sorted(str(c) for c in cutoffs))


def current(name: str, data_versions: dict[str, str]) -> str:
    """Today's value of a recorded read, given {stored cutoff: version}: what the key is priced at."""
    if name.startswith(LISTING):
        until = name[len(LISTING):]
        return listing_value(c for c in data_versions if until == "all" or c <= until)
    return data_versions.get(name, ABSENT)


def record(cutoff, version: str) -> None:
    """Log that the running chapter read ``cutoff`` at ``version`` (``ABSENT``: looked for, not stored)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    line = json.dumps({"cutoff": str(cutoff), "version": str(version)}, sort_keys=True) + "\n"
    # one short O_APPEND write per line: lines from threads of one kernel never interleave
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def read_log(path: str | os.PathLike) -> dict[str, str]:
    """{cutoff: version} from a log written by :func:`record` ({} when there is none).

    A cutoff read more than once keeps its last version, but a real version wins over ``ABSENT``
    (a chapter that checked before loading).
    """
    out: dict[str, str] = {}
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        cutoff, version = str(entry.get("cutoff")), str(entry.get("version"))
        if version == ABSENT and out.get(cutoff, ABSENT) != ABSENT:
            continue
        out[cutoff] = version
    return dict(sorted(out.items()))
