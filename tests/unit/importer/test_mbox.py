"""Splitting mbox files into numbered messages: each format the import accepts, and what breaks."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.importer.mbox import MboxFile, MboxReadError, read_mbox
from tests.unit.importer.archive_samples import PIPERMAIL, mbox_bytes, samples


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_every_message_numbered_from_one_with_its_bytes_intact(tmp_path: Path) -> None:
    """Each sample comes back whole, in order, named FILE#1..n with the line its envelope is on; the
    separating blank line is dropped."""
    items = samples()
    data = mbox_bytes(items)
    entries = list(read_mbox(_write(tmp_path, "list.mbox", data), "list.mbox"))
    lines = data.split(b"\n")
    assert [e.where for e in entries] == [f"list.mbox#{e.index} (line {e.line})" for e in entries]
    assert [e.index for e in entries] == list(range(1, len(items) + 1))
    assert [lines[e.line - 1] for e in entries] == [s.envelope for s in items]
    for entry, sample in zip(entries, items, strict=True):
        assert entry.raw.rstrip(b"\n") == sample.raw.rstrip(b"\n")
    assert entries[0].envelope_date == datetime(2019, 3, 4, 9, 0, tzinfo=UTC)


def test_crlf_mbox_splits_the_same(tmp_path: Path) -> None:
    """Google Groups takeouts end lines with CRLF: same messages, same count."""
    items = samples()
    entries = list(read_mbox(_write(tmp_path, "takeout.mbox", mbox_bytes(items, crlf=True))))
    expected = [s.raw.rstrip(b"\n").replace(b"\n", b"\r\n") for s in items]
    assert [e.raw.rstrip(b"\r\n") for e in entries] == expected


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    data = mbox_bytes(samples())
    plain = list(read_mbox(_write(tmp_path, "a.mbox", data)))
    zipped = list(read_mbox(_write(tmp_path, "2019-March.txt", gzip.compress(data))))
    assert [e.raw for e in zipped] == [e.raw for e in plain]


def test_truncated_gzip_gives_what_was_read_then_names_the_file(tmp_path: Path) -> None:
    """A cut-off download: the messages before the cut are read, then an error naming the file."""
    data = gzip.compress(mbox_bytes(samples() * 40))
    path = _write(tmp_path, "cut.txt.gz", data[: len(data) // 2])
    read = []
    with pytest.raises(MboxReadError, match=r"cut\.txt\.gz: unreadable"):
        read.extend(read_mbox(path, "cut.txt.gz"))
    assert len(read) > 10


def test_pipermail_addresses_get_their_at_back_and_body_from_lines_stay(tmp_path: Path) -> None:
    """``ana at example.org`` in From: becomes an address; "From the last one…" stays in its message."""
    entries = list(read_mbox(_write(tmp_path, "2019-March.txt", PIPERMAIL)))
    assert len(entries) == 2
    first = entries[0].raw
    assert first.startswith(b"From: ana@example.org (Ana Souza)\n")
    assert b"From the last one we learned a lot." in first
    assert entries[1].raw.startswith(b"From: bo@example.org (Bo Lind)\n")
    assert entries[1].envelope_date == datetime(2019, 3, 4, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"From MAILER-DAEMON Thu Jan  1 00:00:00 2015", datetime(2015, 1, 1, tzinfo=UTC)),  # HyperKitty
        (
            b"From 1629392939@xxx Thu Aug 19 20:30:45 +0000 2021",
            datetime(2021, 8, 19, 20, 30, 45, tzinfo=UTC),
        ),
        (b"From ana@example.org Sat Mar  9 08:00:00 2019 +0100", datetime(2019, 3, 9, 7, 0, tzinfo=UTC)),
        (b"From ana@example.org Fri Feb 30 08:00:00 2019", None),  # no such day: undated, still split
    ],
)
def test_envelope_lines_of_each_writer(tmp_path: Path, line: bytes, expected: datetime | None) -> None:
    data = line + b"\nFrom: a@example.org\nSubject: x\n\nbody\n\n" + line + b"\nFrom: b@example.org\n\ny\n"
    entries = list(read_mbox(_write(tmp_path, "m", data)))
    assert len(entries) == 2
    assert entries[0].envelope_date == expected


def test_a_file_that_is_not_an_mbox_is_one_message(tmp_path: Path) -> None:
    """A single .eml (no envelope line): one message, even if its body has a From line."""
    data = (
        b"From: a@example.org\nSubject: one\n\nline\n\nFrom ana@example.org Mon Mar  4 09:00:00 2019\nmore\n"
    )
    entries = list(read_mbox(_write(tmp_path, "one.eml", data)))
    assert [e.index for e in entries] == [1]
    assert entries[0].envelope_date is None


def test_position_reaches_the_file_size(tmp_path: Path) -> None:
    path = _write(tmp_path, "list.mbox", mbox_bytes(samples()))
    file = MboxFile(path, "list.mbox")
    for _ in file.entries():
        assert 0 <= file.position() <= file.size
    assert file.position() == file.size
