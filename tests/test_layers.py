"""The README's Code map holds: dependencies between our packages point one way, and the analysis stays pure.

Imports are read from the source with ``ast`` (no module is imported), so a
new module is checked without any change here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("collector", "instrumentation", "jellyfin", "dashboard")
#: What each top-level package may import of ours (README "Code map").
MAY_IMPORT = {
    "collector": {"collector"},
    "instrumentation": {"collector", "instrumentation"},
    "jellyfin": {"collector", "instrumentation", "jellyfin"},
    "dashboard": {"collector", "instrumentation", "jellyfin", "dashboard"},
}
#: Pure functions of records: no I/O, no threads, no telemetry or web library (STYLE.md, "analysis is pure").
PURE = {"collector.analysis", "collector.report", "collector.attempts", "collector.bodytext", "collector.routes",
        "collector.rerun", "collector.har", "collector.net_errors", "collector.body_kind",
        "collector.correlate", "collector.compare", "collector.fisher", "collector.ranks",
        # the columns' kinds, which the analysis reads in place
        "collector.column_kinds", "collector.code_book", "collector.coded_runs", "collector.time_columns"}
PURE_MAY_USE_OF_OURS = PURE | {"collector.secrets", "collector.diagnosis"}
NOT_IN_PURE = {"os", "io", "socket", "threading", "subprocess", "pathlib", "shutil", "tempfile", "time",
               "opentelemetry", "httpx", "httpcore", "flask", "urllib.request"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports: ours as ``package.module`` (no ``batch_debug.``), others by top name."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] + ([node.module] if node.module else [])
                if not base:  # `from .. import __version__` in a top-level package: batch_debug itself
                    found.add("batch_debug")
                    continue
                target = ".".join(base)
            else:
                target = (node.module or "").removeprefix("batch_debug.")
            # `from package import x` may name a module of the package.
            found.update(f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names)
    return {m.removeprefix("batch_debug.") for m in found}


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_package_imports_only_the_layers_below_it(name: str) -> None:
    package = name.split(".")[0]
    wrong = sorted(m for m in _imports(name, MODULES[name]) if _ours(m) and m.split(".")[0] not in MAY_IMPORT[package])
    assert wrong == [], f"{name} imports {wrong}: {package}/ may import only {sorted(MAY_IMPORT[package])}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m in PURE or m.startswith("collector.diagnosis")))
def test_the_analysis_is_pure(name: str) -> None:
    imports = _imports(name, MODULES[name])
    impure = sorted(m for m in imports if any(m == x or m.startswith(x + ".") for x in NOT_IN_PURE))
    ours = sorted(m for m in imports if _ours(m) and not any(m == p or m.startswith(p + ".") for p in PURE_MAY_USE_OF_OURS))
    assert impure == [] and ours == [], f"{name} is analysis (pure) but imports {impure + ours}"


def test_the_import_reader_sees_relative_and_absolute_imports() -> None:
    imports = _imports("collector.analysis", MODULES["collector.analysis"])
    assert {"collector.diagnosis", "collector.attempts", "collector.report"} <= imports
    assert "collector.attempts" in _imports("collector.diagnosis.view", MODULES["collector.diagnosis.view"])
    assert "collector.config" in _imports("instrumentation.parts", MODULES["instrumentation.parts"])
    assert "batch_debug" in _imports("instrumentation.pipeline", MODULES["instrumentation.pipeline"])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_its_job_in_its_first_line(name: str) -> None:
    docstring = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
    first = docstring.strip().split("\n")[0]
    assert len(first) >= 12 and first != f"batch_debug.{name}", f"{name}: no module docstring saying what it is for"
