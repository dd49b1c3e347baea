"""The ``icop`` command line: exit codes and error lines are a contract for scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import EXIT_CONFIG, main
from tests.unit.config.test_load import VALID

REPO = Path(__file__).parents[2]


def test_check_example_config_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(REPO / "config" / "example.toml"), "check"]) == 0
    assert "ok: 2 communities (pm-practice, data-quality)" in capsys.readouterr().out


def test_check_broken_config_exits_2_with_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(VALID.replace('time_zone = "Europe/Dublin"', 'time_zone = "Europe/Dublyn"'))
    code = main(["--config", str(path), "check"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_CONFIG
    # T_MATRIX and T_IMAP are unset here: those are reported too, each on its own line.
    assert f"{path}:19: community[0].time_zone: 'Europe/Dublyn' is not a known time zone" in err[0]


def test_config_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "icop.toml"
    path.write_text(VALID)
    monkeypatch.setenv("ICOP_CONFIG", str(path))
    monkeypatch.setenv("T_MATRIX", "x-token")
    monkeypatch.setenv("T_IMAP", "x-password")
    assert main(["check"]) == 0


def test_no_config_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ICOP_CONFIG", raising=False)
    assert main(["check"]) == EXIT_CONFIG
    assert "no config" in capsys.readouterr().err


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[matrix\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.startswith(f"{path}:1: toml: syntax error")
    assert "Traceback" not in done.stderr
