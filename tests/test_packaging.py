"""The package builds clean and whole: no setuptools warnings, every module and page file in the wheel.

The wheel is built the way pip builds it (setuptools' PEP 517 backend, in a subprocess) from a copy of
the sources, so the test never writes ``build/`` or ``*.egg-info`` into the working tree another run
may be using. The expected contents come from the folders themselves, not from pyproject.toml: a new
module or subpackage the packaging forgets makes this test fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import batch_debug

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# Import name of each top-level folder that installs under batch_debug (pyproject's package-dir).
ROOTS = {
    folder: package
    for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()
    if "/" not in folder
}
# What a build needs besides the package folders.
BUILD_INPUTS = ("pyproject.toml", "README.md")


def _source_files() -> dict[str, Path]:
    """Wheel path -> source file, for every module and every file of the page."""
    expected: dict[str, Path] = {}
    for folder, package in ROOTS.items():
        root = REPO / folder
        for path in sorted(root.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(root)
            if path.suffix == ".py" or relative.parts[0] in ("static", "templates"):
                expected["/".join((*package.split("."), *relative.parts))] = path
    return expected


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel built from a copy of the sources, and everything the build printed."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        shutil.copy2(REPO / name, source / name)
    for folder in ROOTS:
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    # PYTHONDONTWRITEBYTECODE makes setuptools print a "warning: byte-compiling is disabled" of
    # its own that says nothing about our packaging; the build runs without it, as on most machines.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    build = (
        "import sys\nfrom setuptools import build_meta\nprint('WHEEL=' + build_meta.build_wheel(sys.argv[1]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    match = re.search(r"^WHEEL=(.+)$", result.stdout, re.MULTILINE)
    assert match, output
    return out / match.group(1), output


def test_the_build_prints_no_warning(built_wheel: tuple[Path, str]) -> None:
    _, output = built_wheel
    warnings = [line for line in output.splitlines() if "warn" in line.lower()]
    assert warnings == []


def test_the_wheel_holds_every_module_and_every_page_file(built_wheel: tuple[Path, str]) -> None:
    wheel, _ = built_wheel
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = _source_files()
    assert "batch_debug/dashboard/static/app.js" in expected  # the walk found the page
    assert "batch_debug/dashboard/templates/index.html" in expected
    assert "batch_debug/collector/diagnosis/__init__.py" in expected  # and the subpackages
    assert sorted(set(expected) - names) == []


def test_the_wheel_holds_the_files_as_they_are(built_wheel: tuple[Path, str]) -> None:
    wheel, _ = built_wheel
    with zipfile.ZipFile(wheel) as archive:
        for name in ("batch_debug/dashboard/static/app.js", "batch_debug/dashboard/templates/index.html"):
            assert archive.read(name) == _source_files()[name].read_bytes(), name


def test_the_wheel_holds_nothing_outside_batch_debug(built_wheel: tuple[Path, str]) -> None:
    wheel, _ = built_wheel
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"batch_debug"}


def test_the_version_is_one_number_in_both_places() -> None:
    assert PYPROJECT["project"]["version"] == batch_debug.__version__


def test_the_changelog_s_newest_release_is_the_current_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == batch_debug.__version__, releases
    assert "### Upgrading" in changelog.split(f"## [{releases[0]}]", 1)[1].split("\n## [", 1)[0]
