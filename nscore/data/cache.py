"""The build's cache of validated cohorts: written by the build only, never by a plain read.

Why: every chapter loads its cutoff, and validating 100,000 patients takes seconds; the build
validates each cutoff once and its chapter kernels reuse the result.

Who writes: only a process given a cache directory, either as the ``cache_dir`` argument of
:func:`nscore.data.versions.load` / :func:`~nscore.data.versions.store` or in the environment
variable ``NSCORE_CACHE_DIR`` (:data:`ENV_VAR`). ``nscore build`` gives its own
``_build/cache/`` to its loads and its chapter kernels; anything else (a notebook opened by hand,
a test, a script) reads and validates the data without touching any cache, and writes nothing.

The key is everything that can change what a fresh validation returns (:func:`components`): the
cutoff's ``manifest.json`` bytes (its files have just been checked against it, so these are the
data's exact bytes, study.yml included), the source of the data layer and the error module (the
validation code and the classes that are pickled), and the versions of Python, pandas, numpy,
pandera and pyarrow (what parses, types and pickles the frames). A changed component gives another
file name: an old entry is never served, only left for ``nscore clean``/``rm -r _build``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path

from nscore.files import write_atomic

__all__ = ["ENV_VAR", "SUBDIR", "directory", "components", "entry", "get", "put"]

#: The environment variable naming the build's cache directory (unset: no cache at all).
ENV_VAR = "NSCORE_CACHE_DIR"
#: Validated cohorts live in this folder of the cache directory.
SUBDIR = "validated"
#: Packages whose version is part of the key: they parse, type and pickle the cohort's frames.
PACKAGES = ("pandas", "numpy", "pandera", "pyarrow")
_CODE = (Path(__file__).parent, Path(__file__).parent.parent / "errors.py")


def directory(cache_dir=None) -> Path | None:
    """The cache directory in force: ``cache_dir`` if given, else ``$NSCORE_CACHE_DIR``, else None."""
    if cache_dir is not None:
        return Path(cache_dir)
    value = os.environ.get(ENV_VAR, "")
    return Path(value) if value else None


def _code_files() -> list[Path]:
    files: list[Path] = []
    for place in _CODE:
        files += sorted(place.glob("*.py")) if place.is_dir() else [place]
    return files


def _versions() -> dict[str, str]:
    out = {"python": f"{sys.implementation.name} {sys.version}", "pickle": str(pickle.HIGHEST_PROTOCOL)}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def components(manifest_path: Path) -> dict[str, str]:
    """What the key of the cutoff whose manifest is ``manifest_path`` is made of (name -> digest or version)."""
    out = {"manifest": hashlib.sha256(Path(manifest_path).read_bytes()).hexdigest()}
    for path in _code_files():
        out[f"code:{path.parent.name}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    out.update(_versions())
    return out


def entry(cache_root: Path, cutoff_directory: Path) -> Path:
    """The file holding the validated cohort of ``cutoff_directory`` (its manifest must exist)."""
    parts = components(Path(cutoff_directory) / "manifest.json")
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:24]
    return Path(cache_root) / SUBDIR / f"{Path(cutoff_directory).name}-{digest}.pickle"


def get(path: Path):
    """The object stored at ``path``, or None when there is none or it cannot be read back."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None  # a damaged or foreign entry: validate again and overwrite it


def put(path: Path, value) -> None:
    """Store ``value`` at ``path`` atomically (parallel kernels never read half a file).

    A cache that cannot be written (read-only or full disk) costs time only: the error is dropped.
    """
    try:
        write_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
