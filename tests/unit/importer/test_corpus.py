"""``icop import mbox`` of the hostile-mail corpus as one mbox (``tests/fixtures/mail/corpus/``): every
message is imported or named on stderr with its file, index, line and what was wrong; none is lost.

| messages                                                       | what each gets                        |
|----------------------------------------------------------------|---------------------------------------|
| 35 readable mails (odd MIME, missing dates, spam, odd charsets) | imported as visible posts            |
| msg_11, msg_18, msg_37–msg_40: no From or Sender address       | failed: no sender address in From or  |
|                                                                | Sender                                |
| msg_19: no header at all                                       | failed: no headers                    |
| msg_05, msg_16, msg_25, msg_43 (DSNs), flanker's two bounces,  | skipped: automatic mail, with the     |
| its ARF report and its read receipt                            | rule that knew it                     |
| msg_03, msg_14, msg_20, msg_29 (msg_01's Message-ID), msg_44   | already stored: named with the        |
| (msg_04's)                                                     | message that has its Message-ID       |

Exit 0 (failed messages are expected in archives); the summary is the last stdout line.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bridge.cli import main
from tests.fixtures.mail_corpus import corpus_files, mbox_of, name_of
from tests.unit.importer.test_command import config  # noqa: F401  (the fixture)

FAILED = {
    "cpython/msg_11.txt": "no sender address in From or Sender",
    "cpython/msg_18.txt": "no sender address in From or Sender",
    "cpython/msg_19.txt": "no headers: the message does not start with a header line",
    "cpython/msg_37.txt": "no sender address in From or Sender",
    "cpython/msg_38.txt": "no sender address in From or Sender",
    "cpython/msg_39.txt": "no sender address in From or Sender",
    "cpython/msg_40.txt": "no sender address in From or Sender",
}
SKIPPED = {
    "cpython/msg_05.txt": "automatic mail: delivery status report (multipart/report)",
    "cpython/msg_16.txt": "automatic mail: untyped report (multipart/report)",
    "cpython/msg_25.txt": "automatic mail: delivery status report (multipart/report)",
    "cpython/msg_43.txt": "automatic mail: delivery status report (multipart/report)",
    "flanker/bounce-broken-mime.eml": "automatic mail: sender is postmaster@example.com",
    "flanker/bounce-gmail-invalid-address.eml": "automatic mail: X-Failed-Recipients present",
    "flanker/complaint-yahoo-arf.eml": "automatic mail: feedback-report report (multipart/report)",
    "flanker/disposition-notification.eml": (
        "automatic mail: disposition-notification report (multipart/report)"
    ),
}
SAME_MESSAGE_ID = {
    "cpython/msg_03.txt": "cpython/msg_01.txt",
    "cpython/msg_14.txt": "cpython/msg_01.txt",
    "cpython/msg_20.txt": "cpython/msg_01.txt",
    "cpython/msg_29.txt": "cpython/msg_01.txt",
    "cpython/msg_44.txt": "cpython/msg_04.txt",
}


def _posts(db_path: Path) -> int:
    with closing(sqlite3.connect(db_path)) as database:
        [(count,)] = database.execute("SELECT count(*) FROM post WHERE state = 'visible'").fetchall()
        return int(count)


def test_every_corpus_message_is_imported_or_named(
    config: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = corpus_files()
    archive = tmp_path / "corpus.mbox"
    archive.write_bytes(mbox_of(files))
    where = {name_of(p): f"{archive}#{n}" for n, p in enumerate(files, start=1)}
    args = ["--config", str(config), "import", "mbox", str(archive), "--community", "pm-practice"]
    assert main(args) == 0
    out, err = capsys.readouterr()

    imported = len(files) - len(FAILED) - len(SKIPPED) - len(SAME_MESSAGE_ID)
    assert imported == 35
    assert out.splitlines()[-1] == f"imported {imported}, already stored {len(SAME_MESSAGE_ID)}, failed 7"
    assert f"skipped {len(SKIPPED)} automatic messages (bounces, automatic replies)" in out
    # FILE#INDEX: reason (line N), N the line its message starts on
    named = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in err.splitlines() if "#" in line}
    lines = archive.read_bytes().split(b"\n")
    for report, reason in named.items():
        number = re.fullmatch(r".* \(line (\d+)\)", reason)
        assert number is not None, (report, reason)
        assert lines[int(number[1]) - 1].startswith(b"From "), report
    reported = {k: re.sub(r" \(line \d+\)$", "", v) for k, v in named.items()}
    expected = {
        **{where[name]: f"failed: {reason}" for name, reason in FAILED.items()},
        **{where[name]: f"skipped: {reason}" for name, reason in SKIPPED.items()},
        **{
            where[name]: f"already stored: same Message-ID as {where[first]}"
            for name, first in SAME_MESSAGE_ID.items()
        },
    }
    assert reported == expected
    assert _posts(tmp_path / "icop.sqlite3") == imported

    assert main(args) == 0  # again: everything is already stored, nothing is named twice over
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"imported 0, already stored {imported + len(SAME_MESSAGE_ID)}, failed 7"
    assert "already stored" not in err
    assert _posts(tmp_path / "icop.sqlite3") == imported
