"""Publishing swaps the whole site in one step (issue 12): a build killed at any stage leaves
``_build/html`` showing the complete old site or the complete new one, never none and never a mix,
and the next build removes what the killed one left and publishes.

Each case builds the toy (tests/toy) in a subprocess that ``os._exit``s at one named point of the
publish sequence (``NSCORE_CRASH_AT``, :data:`nscore.build.publish.CRASH_POINTS`), after an edit to
a chapter that puts a marker sentence on its page.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nscore.build import publish
from nscore.build.site import PUBLISH_MARKER

TOY = Path(__file__).parent / "toy"
CUTOFF = "2025-01-01"
pytestmark = pytest.mark.slow

#: Up to (not including) "flipped" the old site must still be published; from it on, the new one.
FLIP = publish.CRASH_POINTS.index("flipped")


def run_build(root: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    """``pipeline.build`` of the toy at ``root`` in a fresh process (killed at ``crash_at``)."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TOY)!r})
        import toystore
        from pathlib import Path
        from nscore.build import pipeline
        root = Path({str(root)!r})
        pipeline.build(pipeline.Project(root, store=toystore.ToyStore(root / "data")), jobs=1)
    """)
    env = {k: v for k, v in os.environ.items() if k != publish.CRASH_ENV}
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")) if x)
    if crash_at is not None:
        env[publish.CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)


def digest(site: Path) -> dict[str, str]:
    """sha256 of every file of the site as a reader sees it (through the ``_build/html`` link)."""
    assert (site / "index.html").is_file(), f"no site at {site}"
    return {str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


def add_marker(root: Path, marker: str) -> None:
    src = root / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + f"\n{marker}\n")


def page(root: Path, *parts: str) -> str:
    return (root / "_build" / "html").joinpath(*parts).read_text()


def leftovers(root: Path) -> list[str]:
    """What a killed build can leave: staging, an unplaced link, trees ``_build/html`` does not show."""
    build = root / "_build"
    current = (build / "html").resolve()
    found = [p.name for pattern in (".stage-*", ".update-*", ".html-*.link", ".old-html-*") for p in build.glob(pattern)]
    found += [f"sites/{p.name}" for p in (build / "sites").iterdir() if p.resolve() != current]
    return sorted(found)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("publish") / "toy"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    add_marker(root, "Marker of the first build.")
    proc = run_build(root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


@pytest.fixture
def toy(built, tmp_path) -> Path:
    root = tmp_path / "toy"
    shutil.copytree(built, root, symlinks=True)
    return root


def test_the_site_is_a_link_to_one_complete_tree_of_unshared_files(built):
    html = built / "_build" / "html"
    assert html.is_symlink() and not os.path.isabs(os.readlink(html))  # relative: a copy of the project works
    tree = html.resolve()
    assert tree.parent == (built / "_build" / "sites").resolve()
    assert leftovers(built) == []
    assert "Marker of the first build." in page(built, "chapters", "second.html")
    assert "Marker of the first build." in page(built, "v", CUTOFF, "chapters", "second.html")
    # version copies are copies: no published file shares its data with another path
    linked = [str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file() and p.stat().st_nlink > 1]
    assert linked == []
    assert (html / PUBLISH_MARKER).is_file()


@pytest.mark.parametrize("point", publish.CRASH_POINTS)
def test_a_build_killed_at_any_stage_leaves_the_old_or_the_new_site(toy, point):
    old = digest(toy / "_build" / "html")
    marker = f"Marker of the build killed at {point}."
    add_marker(toy, marker)

    proc = run_build(toy, crash_at=point)
    assert proc.returncode == publish.CRASH_EXIT, proc.stdout[-3000:] + proc.stderr[-3000:]

    html = toy / "_build" / "html"
    assert html.is_symlink() and (html / "index.html").is_file(), f"no site after a crash at {point}"
    assert any((toy / "_build").glob(".stage-*")), "a killed build leaves its staging (what recovery must remove)"
    after_crash = digest(html)
    if publish.CRASH_POINTS.index(point) < FLIP:
        assert after_crash == old, f"killed at {point}: the published site changed before the flip"
        assert marker not in page(toy, "chapters", "second.html")
    else:
        assert after_crash != old
        for where in (("chapters", "second.html"), ("v", CUTOFF, "chapters", "second.html")):
            assert marker in page(toy, *where), f"killed at {point}: the new site is not whole ({where})"

    # the next build cleans up what the killed one left and publishes the new site
    proc = run_build(toy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert leftovers(toy) == [], f"left behind after recovering from a crash at {point}"
    assert marker in page(toy, "chapters", "second.html")
    assert marker in page(toy, "v", CUTOFF, "chapters", "second.html")
    if publish.CRASH_POINTS.index(point) >= FLIP:
        assert digest(html) == after_crash, f"killed at {point}: the site published then was not complete"
    if point == "executed":  # the chapter ran before the crash: its notebook is in the cache, not run again
        assert f"skipped  second [{CUTOFF}]" in proc.stdout, proc.stdout[-3000:]


def test_a_site_published_as_a_plain_directory_is_exchanged_in_one_step(toy):
    """Sites built before the link layout: ``_build/html`` is a directory; the next build replaces it."""
    html = toy / "_build" / "html"
    tree = html.resolve()
    html.unlink()
    os.replace(tree, html)  # the old layout: the site itself at _build/html
    old = digest(html)
    assert not html.is_symlink()
    add_marker(toy, "Marker of the build after the old layout.")

    proc = run_build(toy, crash_at="link-made")  # killed just before the exchange: the directory stays
    assert proc.returncode == publish.CRASH_EXIT
    assert not html.is_symlink() and digest(html) == old

    proc = run_build(toy)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert html.is_symlink() and leftovers(toy) == []
    assert "Marker of the build after the old layout." in page(toy, "chapters", "second.html")
