"""A delivery whose data cutoff lies in the future is refused by ``versions.store``: one failure row
(adsl, DCUTDT, ``cutoff_not_in_future``) and nothing stored; a day of clock skew is tolerated."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from nscore.data import versions
from nscore.errors import DataValidationError


def tree(root):
    if not root.exists():
        return "absent"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def test_future_cutoff_is_refused_and_nothing_stored(valid_dir, tmp_path, monkeypatch):
    store = tmp_path / "data"
    store.mkdir()
    (store / "keep.txt").write_text("x")
    before = tree(store)
    monkeypatch.setattr(versions, "_today", lambda: date(2025, 7, 30))  # the delivery's DCUTDT is 2025-08-01
    with pytest.raises(DataValidationError) as info:
        versions.store(valid_dir, store)
    rows = info.value.failures.to_dict("records")
    assert [(r["file"], r["column"], r["rule"], r["value"]) for r in rows] == [
        ("adsl.csv", "DCUTDT", "cutoff_not_in_future", "2025-08-01")]
    assert "after today (2025-07-30)" in str(info.value)
    assert tree(store) == before


def test_one_day_of_clock_skew_is_tolerated(valid_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "_today", lambda: date(2025, 8, 1) - timedelta(days=1))
    assert versions.store(valid_dir, tmp_path / "data").name == "2025-08-01"


def test_validate_command_refuses_it_too(valid_dir, tmp_path, monkeypatch, capsys):
    from nscore import cli

    (tmp_path / "_toc.yml").write_text("root: chapters/index\n")
    monkeypatch.setattr(versions, "_today", lambda: date(2025, 7, 1))
    assert cli.main(["-C", str(tmp_path), "validate", str(valid_dir)]) == 1
    err = capsys.readouterr().err
    assert "cutoff_not_in_future" in err and "2025-08-01" in err
    assert list((tmp_path / "_build" / "validation").glob("*-validate.csv"))
