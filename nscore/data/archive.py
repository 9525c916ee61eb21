"""Unpacking a delivery archive (.zip, .tar.gz, .tgz, .tar) strictly and at a bounded cost.

Every member is checked from the archive's own index *before* anything is written: its path (no
absolute path, no ``..``, no link, device or FIFO), that it appears once, that it is neither
encrypted nor compressed with a method Python cannot read, its size and its compression ratio,
and the archive's number of members and total unpacked size. Then the members are copied out in
blocks, counting bytes, so a member that inflates beyond what its header said stops the copy at
the limit. A compressed tar is inflated once into a temporary file under the same limits (its
stream ratio is checked as it inflates) and must end with the tar end-of-archive block, so a
truncated ``.tar.gz`` is reported as a corrupt archive, not as missing data.

Every problem is a rule of the validation report (``file`` = the member as named in the archive,
or the archive itself for archive-wide rules), raised together as one
:class:`~nscore.errors.DataValidationError`:

``archive_corrupt``                   the archive (or a member's data) cannot be read: truncated,
                                      bad CRC, not a zip/tar at all (one failure for the archive)
``archive_unsafe_member``             an absolute or ``..`` path, a link, device or FIFO, an
                                      overlong or too deeply nested name
``archive_duplicate_member``          the same path twice (or as both a file and a folder)
``archive_member_encrypted``          a password-protected member
``archive_unsupported_compression``   a compression method Python cannot read (Deflate64, PPMd, ...)
``archive_member_too_large``          a member over ``MAX_MEMBER_BYTES``
``archive_compression_ratio``         a member (a zip's) or the stream (a .tar.gz's) inflating more
                                      than ``MAX_RATIO`` times, once over ``RATIO_FLOOR`` bytes
``archive_too_many_members``          more than ``MAX_MEMBERS`` entries
``delivery_too_large``                more than ``MAX_DELIVERY_BYTES`` unpacked in all
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import struct
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nscore.errors import DataValidationError, NscoreError
from nscore.data.load import MAX_DELIVERY_BYTES

__all__ = ["Limits", "unpack", "MAX_MEMBER_BYTES", "MAX_DELIVERY_BYTES", "MAX_RATIO", "RATIO_FLOOR",
           "MAX_MEMBERS", "ARCHIVE_SUFFIXES"]

#: Largest single member, unpacked (a 1,000,000-patient ADTTE as CSV is about 200 MiB).
MAX_MEMBER_BYTES = 512 * 2**20
#: Largest compression ratio (unpacked / packed) of a zip member or a .tar.gz stream. Real CSVs
#: deflate 5 to 20 times; a zip bomb of blank lines about 1,000 times.
MAX_RATIO = 100
#: Below this many unpacked bytes the ratio is not checked (a small repetitive file may deflate well).
RATIO_FLOOR = 2**20
#: Most entries (files and folders) an archive may hold; a delivery has a handful.
MAX_MEMBERS = 1000
#: Longest member path (characters) and deepest folder nesting accepted.
MAX_NAME_CHARS = 1024
MAX_NAME_DEPTH = 16
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_BLOCK = 1 << 20
#: Zip compression methods the standard library reads (bz2 and lzma are always built in CPython here).
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_METHOD_NAMES = {1: "Shrink", 6: "Implode", 9: "Deflate64", 10: "PKWARE Implode", 18: "IBM TERSE",
                     19: "IBM LZ77", 93: "Zstandard", 94: "MP3", 95: "XZ", 96: "JPEG", 97: "WavPack",
                     98: "PPMd", 99: "AES encryption"}


@dataclass(frozen=True)
class Limits:
    """The bounds an archive is unpacked within (defaults: the module constants)."""

    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_DELIVERY_BYTES
    ratio: float = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR
    members: int = MAX_MEMBERS


class _Refused(Exception):
    """Stops reading an archive; ``failures`` are the report's rows."""

    def __init__(self, failures: list[dict]):
        super().__init__(failures)
        self.failures = failures


def _failure(file, rule, value="") -> dict:
    return {"file": file, "row": None, "column": None, "rule": rule, "value": value}


def _corrupt(archive: Path, exc: BaseException | str, member: str | None = None) -> _Refused:
    what = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return _Refused([_failure(archive.name, "archive_corrupt", (f"{member}: " if member else "") + what[:300])])


# Errors the standard library raises on a damaged zip, gzip, bz2, xz or tar stream.
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError,
                struct.error, ValueError, OverflowError, NotImplementedError, RuntimeError, UnicodeError, OSError)


def unpack(archive, into, limits: Limits | None = None) -> Path:
    """Check ``archive`` against ``limits`` and unpack it into the directory ``into``; return ``into``.

    Raises
    ------
    DataValidationError
        Listing every problem found (rules in the module docstring); nothing usable is left in
        ``into`` (the caller's temporary directory).
    NscoreError
        If ``archive`` is not named as a .zip, .tar.gz, .tgz or .tar archive.
    """
    archive, into = Path(archive), Path(into)
    limits = limits or Limits()
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _unzip(archive, into, limits)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            _untar(archive, into, limits)
        else:
            raise NscoreError(f"{archive}: not a directory, .zip, .tar.gz or .tar archive")
    except _Refused as refused:
        table = pd.DataFrame(refused.failures, columns=DataValidationError.COLUMNS)
        shown = "; ".join(f"{f['rule']} {f['file']}: {f['value']}" for f in refused.failures[:3])
        more = f" (and {len(refused.failures) - 3} more)" if len(refused.failures) > 3 else ""
        raise DataValidationError(table, f"{archive}: archive refused, nothing stored: {shown}{more}") from None
    return into


# --------------------------------------------------------------------------------------------
# member names
# --------------------------------------------------------------------------------------------
def _safe_parts(name: str) -> tuple[str, ...] | str:
    """The path components of a member name, or why the name is unsafe."""
    if "\0" in name:
        return "unsafe path: NUL character"
    if len(name) > MAX_NAME_CHARS:
        return f"unsafe path: name longer than {MAX_NAME_CHARS} characters"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "unsafe path: absolute"
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        return "unsafe path: leaves the archive's folder (..)"
    if len(parts) > MAX_NAME_DEPTH:
        return f"unsafe path: nested deeper than {MAX_NAME_DEPTH} folders"
    if any(len(os.fsencode(p)) > 255 for p in parts):
        return "unsafe path: a name longer than 255 bytes"
    return parts


def _check_names(entries: list[tuple[str, bool]]) -> tuple[list[dict], dict[str, tuple[str, ...]]]:
    """Failures for unsafe and duplicate names; the parts of each safe name.

    ``entries`` are (name, is_directory) in archive order.
    """
    failures, parts_of, files, folders, reported = [], {}, {}, set(), set()
    for name, is_dir in entries:
        parts = _safe_parts(name)
        if isinstance(parts, str):
            failures.append(_failure(name, "archive_unsafe_member", parts))
            continue
        if not parts:
            continue  # the archive's root folder itself
        parts_of[name] = parts
        key = "/".join(parts)
        if is_dir:
            folders.add(key)
        else:
            files[key] = files.get(key, 0) + 1
        for i in range(1, len(parts)):
            folders.add("/".join(parts[:i]))
    for key, count in files.items():
        if count > 1 and key not in reported:
            failures.append(_failure(key, "archive_duplicate_member", f"appears {count} times"))
            reported.add(key)
        elif key in folders:
            failures.append(_failure(key, "archive_duplicate_member", "both a file and a folder"))
    return failures, parts_of


def _size_failures(archive: Path, sizes: list[tuple[str, int, int | None]], limits: Limits) -> list[dict]:
    """Failures for (name, unpacked size, packed size or None) against ``limits``."""
    failures, total = [], 0
    for name, size, packed in sizes:
        total += max(size, 0)
        if size > limits.member_bytes:
            failures.append(_failure(name, "archive_member_too_large",
                                     f"{size} bytes unpacked, limit {limits.member_bytes}"))
        elif packed is not None and size > limits.ratio_floor and size > limits.ratio * max(packed, 1):
            failures.append(_failure(name, "archive_compression_ratio",
                                     f"{size} bytes from {packed} ({size / max(packed, 1):.0f}:1), "
                                     f"limit {limits.ratio:g}:1"))
    if total > limits.total_bytes:
        failures.append(_failure(archive.name, "delivery_too_large",
                                 f"{total} bytes unpacked, limit {limits.total_bytes}"))
    return failures


def _disk_error(exc: BaseException) -> bool:
    """An error of the disk we write to (full, read-only, no permission), not of the archive."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                                      errno.EPERM, errno.EMFILE, errno.ENFILE)


def _copy(source, target: Path, budget: int, archive: Path, member: str) -> int:
    """Copy a member's stream to ``target`` in blocks; stop past ``budget`` bytes; return the count."""
    written = 0
    with open(target, "xb") as out:
        while True:
            block = source.read(_BLOCK)
            if not block:
                return written
            written += len(block)
            if written > budget:
                raise _Refused([_failure(member, "archive_member_too_large",
                                         f"more than {budget} bytes unpacked (more than its header says)")])
            out.write(block)


def _write_members(archive: Path, into: Path, members, parts_of, open_member, limits: Limits) -> None:
    """Create folders and copy each (name, is_dir, declared size) member, counting bytes."""
    total = 0
    for name, is_dir, size in members:
        parts = parts_of.get(name)
        if not parts:
            continue
        target = into.joinpath(*parts)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        budget = min(max(size, 0), limits.member_bytes, limits.total_bytes - total)
        try:
            with open_member(name) as source:
                total += _copy(source, target, budget, archive, name)
        except _Refused:
            raise
        except _READ_ERRORS as exc:
            if _disk_error(exc):
                raise  # the disk, not the archive (no space left, permissions): not a rule
            raise _corrupt(archive, exc, name) from None


# --------------------------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------------------------
def _unzip(archive: Path, into: Path, limits: Limits) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except _READ_ERRORS as exc:
        raise _corrupt(archive, exc) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.members:
            raise _Refused([_failure(archive.name, "archive_too_many_members",
                                     f"{len(infos)} entries, limit {limits.members}")])
        failures, parts_of = _check_names([(i.filename, i.is_dir()) for i in infos])
        unsafe = {f["file"] for f in failures if f["rule"] == "archive_unsafe_member"}
        for info in infos:
            if info.filename in unsafe:
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                failures.append(_failure(info.filename, "archive_unsafe_member", "unsafe path: symbolic link"))
            elif info.flag_bits & 0x1:
                failures.append(_failure(info.filename, "archive_member_encrypted", "password protected"))
            elif info.compress_type not in _ZIP_METHODS:
                method = _ZIP_METHOD_NAMES.get(info.compress_type, "unknown")
                failures.append(_failure(info.filename, "archive_unsupported_compression",
                                         f"method {info.compress_type} ({method})"))
        files = [i for i in infos if not i.is_dir()]
        failures += _size_failures(archive, [(i.filename, i.file_size, i.compress_size) for i in files], limits)
        if failures:
            raise _Refused(failures)
        _write_members(archive, into, [(i.filename, i.is_dir(), i.file_size) for i in infos], parts_of,
                       zf.open, limits)


# --------------------------------------------------------------------------------------------
# tar (plain, gzip, bzip2 or xz)
# --------------------------------------------------------------------------------------------
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def _inflate(archive: Path, target: Path, opener, limits: Limits) -> None:
    """Decompress ``archive`` into ``target``, checking the total size and the stream's ratio."""
    # the tar headers and padding add a little to the members' bytes
    budget = limits.total_bytes + 512 * (limits.members + 20) + 10240
    written = 0
    with open(archive, "rb") as raw, open(target, "wb") as out:
        try:
            with opener(raw, "rb") as stream:
                while True:
                    block = stream.read(_BLOCK)
                    if not block:
                        break
                    written += len(block)
                    out.write(block)
                    if written > budget:
                        raise _Refused([_failure(archive.name, "delivery_too_large",
                                                 f"more than {budget} bytes unpacked, limit {limits.total_bytes}")])
                    packed = max(raw.tell(), 1)
                    if written > limits.ratio_floor and written > limits.ratio * packed:
                        raise _Refused([_failure(archive.name, "archive_compression_ratio",
                                                 f"more than {written} bytes from {packed} ({written / packed:.0f}:1), "
                                                 f"limit {limits.ratio:g}:1")])
        except _Refused:
            raise
        except _READ_ERRORS as exc:
            if _disk_error(exc):
                raise
            raise _corrupt(archive, exc) from None


def _untar(archive: Path, into: Path, limits: Limits) -> None:
    with open(archive, "rb") as handle:
        head = handle.read(8)
    opener = next((o for magic, o in _MAGIC if head.startswith(magic)), None)
    with tempfile.TemporaryDirectory(prefix="nscore-tar-") as scratch:
        plain = archive
        if opener is not None:
            plain = Path(scratch) / "archive.tar"
            _inflate(archive, plain, opener, limits)
        elif archive.stat().st_size > limits.total_bytes + 512 * (limits.members + 20) + 10240:
            raise _Refused([_failure(archive.name, "delivery_too_large",
                                     f"{archive.stat().st_size} bytes, limit {limits.total_bytes}")])
        _untar_plain(archive, plain, into, limits)


def _kind(member: tarfile.TarInfo) -> str | None:
    """Why a tar member cannot be unpacked as data (None for a file or a folder)."""
    if member.isreg() or member.isdir():
        return None
    if member.issym():
        return "unsafe path: symbolic link"
    if member.islnk():
        return "unsafe path: hard link"
    if member.isdev():
        return "unsafe path: device or FIFO"
    return f"unsafe path: tar member type {member.type!r}"


def _untar_plain(archive: Path, plain: Path, into: Path, limits: Limits) -> None:
    try:
        tf = tarfile.open(plain, "r:")
    except _READ_ERRORS as exc:
        raise _corrupt(archive, exc) from None
    with tf:
        members = []
        try:
            while True:
                member = tf.next()
                if member is None:
                    break
                members.append(member)
                if len(members) > limits.members:
                    raise _Refused([_failure(archive.name, "archive_too_many_members",
                                             f"more than {limits.members} entries")])
            end = tf.offset
        except _Refused:
            raise
        except _READ_ERRORS as exc:
            raise _corrupt(archive, exc) from None
        # tarfile stops quietly at a truncated or garbled header; a whole archive ends with a zero block
        with open(plain, "rb") as handle:
            handle.seek(end)
            if handle.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
                raise _corrupt(archive, "truncated or damaged: no end-of-archive block after "
                                        f"{len(members)} member(s)")
        failures, parts_of = _check_names([(m.name, m.isdir()) for m in members])
        unsafe = {f["file"] for f in failures}
        for member in members:
            why = _kind(member)
            if why and member.name not in unsafe:
                failures.append(_failure(member.name, "archive_unsafe_member", why))
        regular = [m for m in members if m.isreg()]
        failures += _size_failures(archive, [(m.name, m.size, None) for m in regular], limits)
        if failures:
            raise _Refused(failures)
        by_name = {m.name: m for m in members}
        _write_members(archive, into, [(m.name, m.isdir(), m.size) for m in members], parts_of,
                       lambda name: tf.extractfile(by_name[name]), limits)
