"""The README stays true: every setting and CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from batch_debug.collector.config import SETTINGS
from batch_debug.dashboard.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert missing == []


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [name for name in main.commands if f"batch-debug {name}" not in README]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:600]
    assert "make demo" in head and "make test" in head


def _first_screen() -> str:
    return README.split("\n## ", 1)[0]


def test_the_first_screen_goes_from_clone_to_the_dashboard() -> None:
    screen = _first_screen()
    assert len(screen.splitlines()) <= 45, "the first screen is longer than a screen"
    steps = ["git clone", "make demo", "make dashboard"]
    assert all(step in screen for step in steps), steps
    assert [screen.index(step) for step in steps] == sorted(screen.index(step) for step in steps)
    # A fresh shell has no batch-debug on its PATH: the first screen says how to get it.
    assert "source .venv/bin/activate" in screen and "`.venv/bin/batch-debug" in screen


def test_where_batch_debug_lives_is_said_before_the_first_cli_example() -> None:
    first_example = re.search(r"^batch-debug [a-z]", README, re.MULTILINE)
    assert first_example is not None
    assert README.index("source .venv/bin/activate") < first_example.start()


def test_every_make_target_the_readme_names_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.MULTILINE))
    # In code: a line or an inline span that starts with make (an assignment may come first).
    named = set(re.findall(r"(?:^|`)(?:[A-Z_]+=\S+ )?make ([a-z][a-z-]*)\b", README, re.MULTILINE))
    assert named and sorted(named - targets) == []


def test_make_dashboard_serves_the_folder_the_demo_writes_to() -> None:
    from batch_debug.collector.config import DEFAULT_DEBUG_DIR

    match = re.search(r"^DEMO_DIR := \$\(or \$\(APHRODITE_BATCH_DEBUG_DIR\),(.+)\)$", MAKEFILE, re.MULTILINE)
    assert match is not None
    assert Path(match.group(1)) == Path(DEFAULT_DEBUG_DIR)
    recipe = MAKEFILE.split("\ndashboard:", 1)[1].split("\n\n", 1)[0]
    assert "batch-debug demo" in recipe and "batch-debug serve --port $(PORT) --dir $(DEMO_DIR)" in recipe


def test_make_clean_removes_what_the_tests_and_builds_leave() -> None:
    recipe = MAKEFILE.split("\nclean:", 1)[1].split("\n\n", 1)[0]
    removed = set(recipe.split())
    for left_behind in (".venv", "debug_logs", "test-artifacts", ".hypothesis", ".pytest_cache", "build",
                        "*.egg-info", ".typecheck"):
        assert left_behind in removed or (left_behind == ".venv" and "$(VENV)" in removed), left_behind


def test_the_platforms_section_names_each_platform_and_the_python_version() -> None:
    import tomllib

    section = README.split("\n## Platforms\n", 1)[1].split("\n## ", 1)[0]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = requires.removeprefix(">=")
    assert f"Python {version} or newer" in section
    for platform in ("Linux", "macOS", "Windows", "WSL"):
        assert platform in section, platform


def test_every_api_route_is_in_the_readme_with_a_curl_example() -> None:
    from batch_debug.dashboard.app import create_app

    app = create_app({"DEBUG_DIR": "/nonexistent-batch-debug-readme"})
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<path:job_id>", "{job_id}")
        assert path in README, f"{path} is not documented"
        tail = path.split("/batch-debug")[-1].replace("{job_id}", "JOB_ID")
        assert tail in README.split("```bash", 2)[-1] or tail == "/", f"no curl example for {path}"


def test_every_finding_id_is_documented_in_reading_a_job_file() -> None:
    from batch_debug.collector.diagnosis import FINDING_IDS

    section = README.split("## Reading a job file", 1)[1].split("\n## ", 1)[0]
    missing = [finding_id for finding_id in FINDING_IDS if f"| `{finding_id}` |" not in section]
    assert missing == []


def test_every_simulator_profile_is_in_the_readme() -> None:
    from batch_debug.jellyfin.profiles import PROFILES

    section = README.split("## The Jellyfin simulator", 1)[1]
    assert [p for p in PROFILES if f"`{p}`" not in section] == []


def test_every_key_of_a_real_job_file_is_in_the_job_file_section(debug_pipeline, make_sim) -> None:
    import json

    import httpx

    from batch_debug.instrumentation import item_span, job_span

    sim = make_sim("mixed", seed=3)  # failures too: their records carry more keys
    with job_span("readme-keys", items_total=12), httpx.Client() as client:
        for item_id in sim.demo_item_ids(12, seed=1):
            with item_span(item_id):
                client.get(f"{sim.url}/Items/{item_id}/Images/Primary")
    path = debug_pipeline.job_file("readme-keys")
    assert path is not None
    document = json.loads(path.read_text())
    assert any("response_headers" in record for record in document["requests"])  # a failure's keys were seen
    section = README.split("## The job file", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_A-Z]+)`", section))
    assert [key for key in document if key not in named] == []
    assert [key for key in document["summary"] if key not in named] == []
    assert [key for key in document["environment"] if key not in named] == []
    for part in ("requests", "items"):
        keys = {key for record in document[part] for key in record}
        assert sorted(keys - named) == [], part
