"""Type-check the product packages with mypy, as they are imported: ``batch_debug.*``.

Usage: python tools/typecheck.py [extra mypy arguments]     (``make test`` runs it first)

Why a layout step: the top-level folders (``collector/``, ``dashboard/``, ...)
install as ``batch_debug.collector`` and so on through ``package-dir`` in
pyproject.toml, a mapping mypy cannot read, so ``mypy -p batch_debug`` alone
sees only ``batch_debug/__init__.py``. This lays the folders out under their
import names in ``.typecheck/`` (symbolic links, rebuilt on each run, so a
new module is checked without any change here) and runs mypy there with the
``[tool.mypy]`` settings of pyproject.toml. Exits with mypy's status.
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / ".typecheck"
PACKAGE = "batch_debug"


def lay_out() -> Path:
    """``.typecheck/batch_debug/...`` linked to the folders pyproject.toml maps each package to."""
    mapping: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    tree = LAYOUT / PACKAGE
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for entry in (ROOT / mapping[PACKAGE]).iterdir():  # the root package's own files
        if entry.suffix == ".py":
            (tree / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        parts = name.split(".")
        if len(parts) != 2 or parts[0] != PACKAGE:
            continue  # the root itself, or a subpackage that lives inside its parent's folder
        (tree / parts[1]).symlink_to(ROOT / folder, target_is_directory=True)
    return tree


def main(argv: list[str]) -> int:
    lay_out()
    os.chdir(LAYOUT)
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
                                      str(LAYOUT / ".mypy_cache"), "-p", PACKAGE, *argv])
    sys.stdout.write(stdout.replace(f"{PACKAGE}/", ""))  # paths as in the checkout: collector/writer.py
    sys.stderr.write(stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
