"""The one way nscore writes a file: atomically, so a reader (a parallel chapter kernel, a web
server, the next build after a crash) sees the old content or the new, never half of either."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "write_atomic_with"]


def write_atomic_with(path: Path | str, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, flush it to disk, then rename it
    over ``path`` (one step on POSIX). On any error the temporary file is removed and ``path`` is
    unchanged. The parent directory is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_atomic(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 with the newlines given) to ``path`` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return write_atomic_with(path, lambda handle: handle.write(payload))
