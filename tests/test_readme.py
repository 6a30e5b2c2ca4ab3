"""The README stays true: every setting and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from batch_debug.collector.config import SETTINGS
from batch_debug.dashboard.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert missing == []


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [name for name in main.commands if f"batch-debug {name}" not in README]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:600]
    assert "make demo" in head and "make test" in head
