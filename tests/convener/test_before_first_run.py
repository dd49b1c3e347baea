"""Commands about one community work on a store the daemon never ran on: the community and its roster
come from config, as ``icop run`` would set them up, instead of an error asking to start the daemon.

Shapes checked are the contract's (DESIGN §6): ``icop members --json`` keys, ``icop report --format json``
with every indicator key of §6.6, the tag list and the catalogue files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.cli import main
from tests.unit.config.test_load import ENV, VALID

MEMBER_KEYS = {
    "membership_id",
    "name",
    "email",
    "matrix_id",
    "role",
    "state",
    "state_reason",
    "delivery",
    "digest_frequency",
    "source",
    "bounce_score",
    "last_bounce_at",
}
INDICATOR_KEYS = {
    "posts",
    "threads",
    "participants",
    "new_participants",
    "by_channel",
    "cross_channel_replies",
    "median_first_response_hours",
    "unanswered_threads",
    "practices",
    "tags",
    "regions",
    "readers",
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "icop.toml"
    path.write_text(VALID, encoding="utf-8")
    monkeypatch.setenv("ICOP_DATABASE_URL", f"sqlite://{tmp_path / 'icop.sqlite3'}")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return path


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_members_lists_the_configured_roster(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "members", "--community", "pm-practice", "--json"]) == 0
    (ana,) = _lines(capsys)
    assert set(ana) == MEMBER_KEYS
    assert (ana["email"], ana["role"], ana["state"], ana["source"]) == (
        "ana@example.org",
        "convener",
        "active",
        "roster",
    )


def test_report_has_every_indicator_key(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--config", str(config), "report", "--community", "data-quality", "--format", "json"]
    assert main([*argv, "--since", "2026-01-01", "--until", "2026-02-01"]) == 0
    (report,) = _lines(capsys)
    assert set(report) >= INDICATOR_KEYS
    assert (report["posts"], report["by_channel"], report["readers"]) == (0, {"matrix": 0, "email": 0}, 0)


def test_tags_and_the_catalogue(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "tags", "--community", "pm-practice", "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "catalogue"
    argv = ["--config", str(config), "export", "catalogue", "--community", "pm-practice", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "index.html").is_file()
    assert (out / "catalogue.md").is_file()
