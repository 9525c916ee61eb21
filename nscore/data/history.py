"""The store's history, and withdrawing a stored cutoff (``nscore withdraw``).

A stored cutoff can turn out to be wrong after it was published (a cutoff date decades in the
future, another study's export accepted by mistake). :func:`withdraw` takes it out of the published
versions without deleting anything: ``data/cutoffs/<c>/`` is moved, with one rename, to
``data/withdrawn/<c>/`` (``<c>-2``, ``<c>-3``, ... when that cutoff was withdrawn before), a
``withdrawal.json`` (cutoff, data version, date, reason) is written beside its files, and the
withdrawal is appended to the store's history, ``data/history.json`` (:data:`HISTORY_FILE`).

``versions.list_cutoffs`` looks under ``data/cutoffs/`` only, so a withdrawn cutoff is no longer
built or published; every chapter that read it (its data version, or a list of cutoffs holding it)
has a rebuild key that changes (``nscore.data.reads``: the read is re-priced as "absent"), so the next
``nscore build`` re-executes those chapters and publishes the site without that version. The What
changed page lists the withdrawals (:func:`withdrawals_table`, :func:`withdrawals_sentence`); it
declares ``data/history.json`` as a dependency, so it is re-executed when the history grows.

``history.json`` is append-only and deterministic: ``{"events": [...]}`` in the order they
happened, each event with sorted keys, indented JSON, UTF-8, a final newline; no clock beyond the
date of the event. It holds no patient data: cutoff dates, data version hashes and the operator's
reason.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pandas as pd

from nscore.files import write_atomic
from nscore.errors import NscoreError

HISTORY_FILE = "history.json"
WITHDRAWN = "withdrawn"
WITHDRAWAL_FILE = "withdrawal.json"

__all__ = ["HISTORY_FILE", "WITHDRAWN", "WITHDRAWAL_FILE", "withdraw", "read", "withdrawals",
           "withdrawals_table", "withdrawals_sentence"]


def _dumps(content) -> str:
    return json.dumps(content, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def read(data_dir="data") -> dict:
    """The store's history, ``{"events": [...]}`` (``{"events": []}`` without a history file).

    Raises
    ------
    NscoreError
        If ``history.json`` exists but is not a JSON object with an ``events`` list.
    """
    from nscore.data.versions import resolve_data_dir

    path = resolve_data_dir(data_dir) / HISTORY_FILE
    if not path.is_file():
        return {"events": []}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NscoreError(f"{path}: not valid JSON ({exc}); the store's history cannot be read") from exc
    if not isinstance(content, dict) or not isinstance(content.get("events"), list):
        raise NscoreError(f"{path}: not a history (an object with an 'events' list)")
    return content


def withdrawals(data_dir="data") -> list[dict]:
    """The withdrawal events of the history, oldest first."""
    return [e for e in read(data_dir)["events"] if isinstance(e, dict) and e.get("event") == "withdrawn"]


def _free_name(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``, ... when it is taken (a cutoff withdrawn twice)."""
    candidate, n = root / name, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate


def withdraw(data_dir, cutoff, reason: str, today: date | None = None) -> Path:
    """Withdraw stored cutoff ``cutoff`` (a date or "YYYY-MM-DD") with ``reason``; return its new directory.

    Moves ``data/cutoffs/<c>/`` to ``data/withdrawn/<c>/`` with one rename (a reader sees the cutoff
    stored or gone, never half of it), writes ``withdrawal.json`` there and appends the event to
    ``data/history.json``. Nothing is deleted. ``today`` (default: ``versions._today()``) is the
    date recorded.

    Raises
    ------
    NscoreError
        If ``reason`` is empty, ``cutoff`` is not a date, or it is not stored (the message lists the
        stored cutoffs); nothing is changed.
    """
    from nscore.data import versions

    reason = " ".join(str(reason or "").split())
    if not reason:
        raise NscoreError("a withdrawal needs a reason (--reason TEXT): it is recorded and published")
    wanted = versions._as_cutoff(cutoff)
    root = versions.resolve_data_dir(data_dir)
    stored = versions._stored_cutoffs(root)
    source = root / versions.CUTOFFS / wanted.isoformat()
    if wanted not in stored:
        have = ", ".join(d.isoformat() for d in stored) or "none"
        raise NscoreError(f"cutoff {wanted.isoformat()} is not stored in {root / versions.CUTOFFS} "
                          f"(stored: {have}); nothing withdrawn")
    history = read(root)  # an unreadable history refuses the withdrawal before anything moves
    try:
        version = str(versions.read_manifest(source).get("version") or "unknown")
    except NscoreError:
        version = "unknown"
    day = (today or versions._today()).isoformat()
    event = {"event": "withdrawn", "cutoff": wanted.isoformat(), "version": version, "date": day,
             "reason": reason}

    withdrawn_root = root / WITHDRAWN
    withdrawn_root.mkdir(parents=True, exist_ok=True)
    target = _free_name(withdrawn_root, wanted.isoformat())
    os.rename(source, target)  # the one step readers see: stored before, gone after
    event["moved_to"] = target.relative_to(root).as_posix()
    write_atomic(target / WITHDRAWAL_FILE, _dumps(event))
    history["events"].append(event)
    write_atomic(root / HISTORY_FILE, _dumps(history))
    return target


# --------------------------------------------------------------------------------------------
# What changed
# --------------------------------------------------------------------------------------------
def withdrawals_table(data_dir="data") -> pd.DataFrame:
    """One row per withdrawal: cutoff, date withdrawn, reason, data version (short hash)."""
    rows = [{"Data cutoff": e.get("cutoff", ""), "Withdrawn on": e.get("date", ""),
             "Reason": e.get("reason", ""), "Data version": str(e.get("version", ""))[:12]}
            for e in withdrawals(data_dir)]
    return pd.DataFrame(rows, columns=["Data cutoff", "Withdrawn on", "Reason", "Data version"])


def withdrawals_sentence(table: pd.DataFrame) -> str:
    """One sentence introducing the withdrawn cutoffs, or saying that none was withdrawn."""
    if table.empty:
        return "No stored data cutoff has been withdrawn."
    cutoffs = list(dict.fromkeys(table["Data cutoff"]))
    names = cutoffs[0] if len(cutoffs) == 1 else ", ".join(cutoffs[:-1]) + " and " + cutoffs[-1]
    verb = "was" if len(cutoffs) == 1 else "were"
    return (f"The data cutoff{'' if len(cutoffs) == 1 else 's'} {names} {verb} withdrawn from the published "
            "versions (nscore withdraw) and no page is built from "
            f"{'it' if len(cutoffs) == 1 else 'them'} any more; the files are kept, not deleted, and each "
            "withdrawal is listed below with its date and reason.")
