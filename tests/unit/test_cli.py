"""The ``icop`` command line: exit codes and error lines are a contract for scripts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import EXIT_CONFIG, EXIT_SCHEMA, _search_query_as_operand, build_parser, main
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


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frob"],
        ["search"],
        ["report", "--community", "pm-practice", "--format", "xml"],
        ["meetings", "suggest", "--community", "pm-practice", "--duration", "abc"],
        ["search", "x", "--limit", "0"],
    ],
)
def test_a_usage_error_is_one_line_on_stderr_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(tmp_path / "unused.toml"), *argv])
    assert exited.value.code == EXIT_CONFIG
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("icop")
    assert ": error: " in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "query", "limit", "community", "as_json"),
    [
        (["search", "-budget"], "-budget", 20, None, False),
        (["search", "-budget", "--json"], "-budget", 20, None, True),
        (["search", "--limit", "3", "-help", "--community", "pm"], "-help", 3, "pm", False),
        (["search", "--limit=3", "-(a b)"], "-(a b)", 3, None, False),
        (["search", "--", "-x"], "-x", 20, None, False),
        (["--log-level", "debug", "search", "risk", "--json"], "risk", 20, None, True),
    ],
)
def test_a_search_query_may_start_with_a_minus(
    argv: list[str], query: str, limit: int, community: str | None, as_json: bool
) -> None:
    """``-word`` excludes in the query language (DESIGN §6.4), so it must reach the query, not argparse."""
    args = build_parser().parse_args(_search_query_as_operand(argv))
    assert (args.query, args.limit, args.community, args.json) == (query, limit, community, as_json)


def test_other_commands_keep_their_arguments_as_given() -> None:
    argv = ["report", "--community", "pm", "--format", "json"]
    assert _search_query_as_operand(argv) == argv


def test_a_bad_database_url_override_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "icop.toml"
    path.write_text(VALID)
    monkeypatch.setenv("T_MATRIX", "x-token")
    monkeypatch.setenv("T_IMAP", "x-password")
    monkeypatch.setenv("ICOP_DATABASE_URL", "mysql://db/icop")
    assert main(["--config", str(path), "db", "version"]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{path}:0: ICOP_DATABASE_URL: database url 'mysql://db/icop' must start with sqlite://, "
        "postgres:// or postgresql:// (it overrides [database] url)"
    ]


def test_db_version_exits_3_for_a_schema_newer_than_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "icop.toml"
    path.write_text(VALID)
    monkeypatch.setenv("T_MATRIX", "x-token")
    monkeypatch.setenv("T_IMAP", "x-password")
    monkeypatch.setenv("ICOP_DATABASE_URL", f"sqlite://{tmp_path / 'icop.sqlite3'}")
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    assert main(["--config", str(path), "db", "version"]) == 0
    with sqlite3.connect(tmp_path / "icop.sqlite3") as connection:
        connection.execute("INSERT INTO schema_version VALUES (9999, 'from the future', '2099-01-01')")
    capsys.readouterr()
    assert main(["--config", str(path), "db", "version"]) == EXIT_SCHEMA
    captured = capsys.readouterr()
    assert "database schema 9999" in captured.out
    assert len(captured.err.strip().splitlines()) == 1
