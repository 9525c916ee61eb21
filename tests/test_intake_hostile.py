"""Hostile and broken deliveries (issue 14): each is refused with its own rule, never a traceback,
and nothing is written to the store. Exact (file, row, column, rule) as in test_malformed.py."""

from __future__ import annotations

import io
import tarfile
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from conftest import failures_of, keys, read_cells
from nscore.data import archive, versions
from nscore.errors import DataValidationError


@pytest.fixture
def store_root(tmp_path) -> Path:
    return tmp_path / "data"


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


def _refused(src: Path, store_root: Path, **limits) -> set:
    before = _tree(store_root)
    with pytest.raises(DataValidationError) as info:
        if limits:
            versions._extract(src, store_root.parent / "unpacked", archive.Limits(**limits))
        else:
            versions.store(src, store_root)
    assert _tree(store_root) == before
    return keys(info.value.failures)


def _zip(src: Path, out: Path, extra=()) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.iterdir()):
            zf.write(p, p.name)
        for name, data in extra:
            zf.writestr(name, data)
    return out


def _patch_central(path: Path, member: str, offset: int, value: bytes) -> None:
    """Overwrite bytes of ``member``'s central-directory entry (flags at 8, method at 10)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + n] == name:
            data[at + offset:at + offset + len(value)] = value
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def _parquet(directory: Path, dataset: str, change) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = read_cells(directory, dataset).replace("", None)
    table = change(pa.Table.from_pandas(frame, preserve_index=False), frame)
    (directory / f"{dataset}.csv").unlink()
    pq.write_table(table, directory / f"{dataset}.parquet")


def _set(table, column, array):
    import pyarrow as pa

    return table.set_column(table.schema.get_field_index(column), column, array)


def test_parquet_date_beyond_pandas_range_is_invalid_date(valid_dir):
    import pyarrow as pa

    def change(table, frame):
        days = [date.fromisoformat(v) for v in frame["TRTSDT"]]
        days[2] = date(9999, 12, 31)
        stamps = [datetime.fromisoformat(v) for v in frame["LSTALVDT"]]
        stamps[4] = datetime(3000, 1, 1)
        table = _set(table, "TRTSDT", pa.array(days, pa.date32()))
        return _set(table, "LSTALVDT", pa.array(stamps, pa.timestamp("us")))

    _parquet(valid_dir, "adsl", change)
    assert keys(failures_of(valid_dir)) == {("adsl.parquet", 3, "TRTSDT", "invalid_date"),
                                            ("adsl.parquet", 5, "LSTALVDT", "invalid_date")}


def test_list_typed_parquet_column_is_one_rule(valid_dir):
    import pyarrow as pa

    _parquet(valid_dir, "adsl", lambda t, f: _set(t, "SEX", pa.array([[v] for v in f["SEX"]])))
    assert keys(failures_of(valid_dir)) == {("adsl.parquet", None, "SEX", "unsupported_column_type")}


def test_xpt_date_beyond_every_range_is_invalid_date(valid_dir):
    import pyreadstat

    frame = read_cells(valid_dir, "adrs").replace("", None)
    frame["ADT"] = (pd.to_datetime(frame["ADT"]) - pd.Timestamp("1960-01-01")).dt.days.astype(float)
    frame.loc[1, "ADT"] = 2.9e6
    frame["AVAL"] = pd.to_numeric(frame["AVAL"])
    (valid_dir / "adrs.csv").unlink()
    pyreadstat.write_xport(frame, str(valid_dir / "adrs.xpt"), variable_format={"ADT": "DATE9"})
    assert keys(failures_of(valid_dir)) == {("adrs.xpt", 2, "ADT", "invalid_date")}


def test_zip_with_a_member_twice_is_refused(valid_dir, tmp_path, store_root):
    src = _zip(valid_dir, tmp_path / "d.zip", [("adsl.csv", "junk\n")])
    assert _refused(src, store_root) == {("adsl.csv", None, None, "archive_duplicate_member")}


def test_encrypted_zip_member_is_refused(valid_dir, tmp_path, store_root):
    src = _zip(valid_dir, tmp_path / "d.zip")
    _patch_central(src, "adae.csv", 8, b"\x01\x00")
    assert _refused(src, store_root) == {("adae.csv", None, None, "archive_member_encrypted")}


def test_zip_compression_python_cannot_read_is_refused(valid_dir, tmp_path, store_root):
    src = _zip(valid_dir, tmp_path / "d.zip")
    _patch_central(src, "adrs.csv", 10, b"\x09\x00")  # Deflate64
    assert _refused(src, store_root) == {("adrs.csv", None, None, "archive_unsupported_compression")}


def test_corrupt_tar_gz_is_one_archive_rule(valid_dir, tmp_path, store_root):
    src = tmp_path / "d.tar.gz"
    with tarfile.open(src, "w:gz") as tf:
        for p in sorted(valid_dir.iterdir()):
            tf.add(p, p.name)
    src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    assert _refused(src, store_root) == {("d.tar.gz", None, None, "archive_corrupt")}


def test_tar_cut_at_a_member_boundary_is_corrupt_not_missing_data(valid_dir, tmp_path, store_root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for p in sorted(valid_dir.iterdir()):
            tf.add(p, p.name)
    first = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getmembers()[1]
    src = tmp_path / "d.tar"
    src.write_bytes(buf.getvalue()[: first.offset])  # ends after the first member: no end block
    assert _refused(src, store_root) == {("d.tar", None, None, "archive_corrupt")}


def test_corrupt_zip_is_one_archive_rule(tmp_path, store_root):
    src = tmp_path / "d.zip"
    src.write_bytes(b"PK\x03\x04 not really a zip")
    assert _refused(src, store_root) == {("d.zip", None, None, "archive_corrupt")}


def test_zip_bomb_is_refused_before_extraction(tmp_path, store_root):
    src = tmp_path / "bomb.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("adsl.csv", b"\n" * (20 * 2**20))
    assert _refused(src, store_root) == {("adsl.csv", None, None, "archive_compression_ratio")}
    assert _refused(src, store_root, member_bytes=2**20, ratio=10**6) == {
        ("adsl.csv", None, None, "archive_member_too_large")}
    assert _refused(src, store_root, total_bytes=2**20, ratio=10**6) == {
        ("bomb.zip", None, None, "delivery_too_large")}


def test_tar_gz_bomb_is_refused_while_inflating(tmp_path, store_root):
    src = tmp_path / "bomb.tar.gz"
    with tarfile.open(src, "w:gz") as tf:
        info = tarfile.TarInfo("adsl.csv")
        info.size = 20 * 2**20
        tf.addfile(info, io.BytesIO(b"\n" * info.size))
    assert _refused(src, store_root) == {("bomb.tar.gz", None, None, "archive_compression_ratio")}


def test_too_many_members_and_links_are_refused(tmp_path, store_root):
    src = tmp_path / "many.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for i in range(5):
            zf.writestr(f"f{i}.txt", "x")
    assert _refused(src, store_root, members=3) == {("many.zip", None, None, "archive_too_many_members")}
    src = tmp_path / "link.tar"
    with tarfile.open(src, "w") as tf:
        info = tarfile.TarInfo("adsl.csv")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    assert _refused(src, store_root) == {("adsl.csv", None, None, "archive_unsafe_member")}


def test_delivery_directory_over_the_size_limit_is_refused_unread(valid_dir):
    from nscore.data.load import load_cohort

    with pytest.raises(DataValidationError) as info:
        load_cohort(valid_dir, max_bytes=1000)
    assert {k[3] for k in keys(info.value.failures)} == {"delivery_too_large"}
    assert ("adsl.csv", None, None, "delivery_too_large") in keys(info.value.failures)


def test_a_junk_file_is_reported_with_counts_not_a_row_per_cell(valid_dir):
    from nscore.data.readers import MAX_FAILURES_PER_RULE

    header = (valid_dir / "adsl.csv").read_text().splitlines()[0]
    width = header.count(",") + 1
    rows = [",".join(["zz"] * width)] * (MAX_FAILURES_PER_RULE + 50)
    (valid_dir / "adsl.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    failures = failures_of(valid_dir)
    age = failures[(failures["file"] == "adsl.csv") & (failures["column"] == "AGE")]
    assert list(age["rule"].unique()) == ["invalid_integer"]
    assert len(age) == MAX_FAILURES_PER_RULE + 1
    (count,) = age.loc[age["row"].isna(), "value"]
    assert count.startswith("... and 50 more rows failing invalid_integer")
