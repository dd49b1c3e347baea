"""``icop import`` as a person runs it: exit codes, the summary as the last stdout line, failures named
on stderr, a progress bar on a terminal and plain lines elsewhere."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.importer.progress import Progress
from tests.unit.importer.archive_samples import mbox_bytes, samples

CONFIG = """
base_url = "https://icop.example.com"
[database]
url = "sqlite://{db}"
[matrix]
homeserver = "https://matrix.example.com"
user_id = "@icop:example.com"
access_token_env = "ICOP_TEST_UNUSED_TOKEN"
[mail.imap]
host = "imap.example.com"
user = "lists@example.com"
password_env = "ICOP_TEST_UNUSED_PASSWORD"
[mail.smtp]
host = "smtp.example.com"
[[community]]
slug = "pm-practice"
name = "Project Management Practice"
room = "#pm-practice:example.com"
list_address = "pm-practice@lists.example.com"
subject_prefix = "pm"
[[community.member]]
name = "Ana Souza"
email = "ana@example.org"
role = "convener"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ICOP_TEST_UNUSED_TOKEN", "x")
    monkeypatch.setenv("ICOP_TEST_UNUSED_PASSWORD", "x")
    path = tmp_path / "icop.toml"
    path.write_text(CONFIG.format(db=tmp_path / "icop.sqlite3"))
    return path


def test_import_mbox_prints_the_summary_last_and_names_each_failure(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 with failed messages (they are expected in archives); summary last on stdout."""
    items = samples()
    archive = tmp_path / "list.mbox"
    archive.write_bytes(mbox_bytes(items))
    assert main(["--config", str(config), "import", "mbox", str(archive), "--community", "pm-practice"]) == 0
    out, err = capsys.readouterr()
    imported = sum(s.outcome == "imported" for s in items)
    failed = sum(s.outcome == "failed" for s in items)
    assert out.splitlines()[-1] == f"imported {imported}, already stored 1, failed {failed}"
    assert "skipped 1 automatic messages (bounces, automatic replies)" in out
    assert re.search(rf"^{re.escape(str(archive))}#10: failed: no headers.* \(line \d+\)$", err, re.MULTILINE)
    assert main(["--config", str(config), "import", "mbox", str(archive), "--community", "pm-practice"]) == 0
    again, _ = capsys.readouterr()
    assert again.splitlines()[-1] == f"imported 0, already stored {imported + 1}, failed {failed}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mbox", "{archive}", "--community", "nope"], "import: no community 'nope'"),
        (["mbox", "{missing}", "--community", "pm-practice"], "missing.mbox: no such file"),
        (["mbox", "{archive}", "--community", "pm-practice", "--jobs", "0"], "--jobs must be at least 1"),
        (["matrix", "--community", "pm-practice", "--since", "last tuesday"], "--since 'last tuesday'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    archive = tmp_path / "a.mbox"
    archive.write_bytes(mbox_bytes(samples()[:1]))
    filled = [a.format(archive=archive, missing=tmp_path / "missing.mbox") for a in args]
    assert main(["--config", str(config), "import", *filled]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_truncated_gzip_imports_what_it_can_and_exits_1(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    data = gzip.compress(mbox_bytes(samples()))
    archive = tmp_path / "cut.txt.gz"
    archive.write_bytes(data[: len(data) * 2 // 3])
    assert main(["--config", str(config), "import", "mbox", str(archive), "--community", "pm-practice"]) == 1
    out, err = capsys.readouterr()
    assert f"{archive}: unreadable from here on" in err
    assert out.splitlines()[-1].startswith("imported ")


def test_terminal_gets_a_bar_and_the_summary_stays_last() -> None:
    out, err = io.StringIO(), io.StringIO()
    progress = Progress(1000, unit="bytes", out=out, err=err, terminal=True)
    progress.tally.imported = 3
    progress.advance_to(500)
    progress.not_imported("a.mbox#2", "failed: no headers")
    progress.advance_to(1000)
    progress.finish()
    shown = out.getvalue()
    assert "100%" in shown  # tqdm's bar reached the end
    assert shown.splitlines()[-1] == "imported 3, already stored 0, failed 0"
    assert "a.mbox#2: failed: no headers" in err.getvalue()


def test_elsewhere_plain_lines_and_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.importer import progress as module

    monkeypatch.setattr(module, "PLAIN_EVERY_SECONDS", 0.0)
    out = io.StringIO()
    progress = Progress(1000, unit="bytes", out=out, err=io.StringIO(), terminal=False)
    progress.tally.imported = 10
    progress.advance_to(500)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("10 messages (50%), ")
    assert "\r" not in out.getvalue()
    assert lines[-1] == "imported 10, already stored 0, failed 0"


def test_matrix_import_without_its_credential_exits_2(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ICOP_TEST_UNUSED_TOKEN")
    assert main(["--config", str(config), "import", "matrix", "--community", "pm-practice"]) == 2
    err = capsys.readouterr().err
    assert "environment variable ICOP_TEST_UNUSED_TOKEN is not set" in err
