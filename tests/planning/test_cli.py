"""`houniao planning ...` through its entry point, against the test database (no residents in
it outside the tests' rolled-back transactions, so the figures are empty)."""

from __future__ import annotations

import json

from tests.api.test_cli import run  # noqa: F401  (the fixture)


def test_presence_and_rebuild_from_the_command_line(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "presence", "--season", "2024", "--level", "street")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["level"] == "street" and body["season"] == 2024 and body["threshold"] == 10
    bad = run("planning", "presence", "--level", "house")
    assert bad.returncode != 0 and "level must be one of" in bad.stderr
    rebuilt = run("planning", "rebuild")
    assert rebuilt.returncode == 0 and "presence rebuilt" in rebuilt.stderr


def test_forecast_without_history_says_what_it_needs(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "forecast", "--season", "2027")
    assert out.returncode != 0 and "at least 2 earlier seasons" in out.stderr


def test_coverage_from_the_command_line(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "coverage", "--season", "2024", "--item", "health:中医理疗")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (
        body["method"] == "network"
        and body["speed_kmh"] == 4.5
        and body["item"] == "health:中医理疗"
    )
    assert len(body["cells"]) > 1000 and set(body["gaps"]) == {"item", "health_check"}
    bad = run("planning", "coverage", "--item", "nothing")
    assert bad.returncode == 2 and "unknown catalogue item" in bad.stderr
    slow = run("planning", "coverage", "--speed", "0.5")
    assert slow.returncode == 2 and "walking speed" in slow.stderr


def test_candidate_sites_from_the_command_line(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "sites", "--season", "2024", "--new", "2")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["within_minutes"] == 15 and body["sites"] == []  # nobody here, no gap to close
    bad = run("planning", "sites", "--new", "50")
    assert bad.returncode == 2 and "new_sites must be 1 to 20" in bad.stderr


def test_hotspots_from_the_command_line(run) -> None:  # noqa: ANN001, F811
    out = run("planning", "hotspots", "--season", "2024", "--category", "medical")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["category"] == "medical" and body["cases"] == 0 and body["correction"] == "fdr"
    assert len(body["cells"]) > 1000 and body["summary"]["hot"] == 0  # no case, no statistic
    bad = run("planning", "hotspots", "--category", "fire")
    assert bad.returncode == 2 and "unknown case category" in bad.stderr
    few = run("planning", "hotspots", "--permutations", "5")
    assert few.returncode == 2 and "permutations must be 99 to 99999" in few.stderr
