"""Reading archived mail: each sample's outcome and reason, and posts that look exactly like live ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.email.inbound import ListIdentity, parse_list_mail
from bridge.importer.mail import NotImported, ReadMail, read_entry
from bridge.importer.mbox import MboxEntry
from tests.unit.importer.archive_samples import LIST, PIPERMAIL, samples

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PM = ListIdentity(slug="pm-practice", list_address=LIST, subject_prefix="pm", name="PM")
BY_KEY = {s.key: s for s in samples()}


def _read(key: str) -> ReadMail | NotImported:
    sample = BY_KEY[key]
    from bridge.importer.mbox import _ENVELOPE, _envelope_date

    match = _ENVELOPE.match(sample.envelope)
    envelope = _envelope_date(match) if match else None
    return read_entry(MboxEntry("list.mbox", 7, sample.raw, envelope), "pm-practice", now=NOW)


@pytest.mark.parametrize("key", [s.key for s in samples() if s.outcome in ("imported", "already")])
def test_a_readable_mail_is_the_post_the_relay_would_make(key: str) -> None:
    """Same text, HTML, subject, sender, refs and files as ``parse_list_mail`` on live mail."""
    read = _read(key)
    assert isinstance(read, ReadMail), read
    live = parse_list_mail(BY_KEY[key].raw, [PM], now=NOW).message
    assert read.message == replace(live, sent_at=read.message.sent_at)
    assert read.message.community_slug == "pm-practice"
    assert read.where == "list.mbox#7 (line 1)"


@pytest.mark.parametrize("key", [s.key for s in samples() if s.outcome in ("failed", "skipped")])
def test_what_is_not_a_post_is_named_with_its_reason(key: str) -> None:
    """No headers, no usable date → failed; automatic replies → skipped, not failed."""
    sample = BY_KEY[key]
    read = _read(key)
    assert isinstance(read, NotImported), read
    assert read.where == "list.mbox#7 (line 1)"
    assert sample.reason in read.reason
    assert read.automatic is (sample.outcome == "skipped")


def test_odd_charsets_become_the_words_people_wrote() -> None:
    latin1, koi8, cp1252 = (_read(k) for k in ("latin1", "koi8", "cp1252-undeclared"))
    assert isinstance(latin1, ReadMail)
    assert isinstance(koi8, ReadMail)
    assert isinstance(cp1252, ReadMail)
    assert latin1.message.text == "La réunion est déplacée à jeudi. À bientôt."
    assert latin1.message.subject == "Réunion mensuelle"
    assert latin1.message.sender_name == "José García"
    assert koi8.message.text == "Мы оцениваем задачи в идеальных днях."
    assert cp1252.message.text == "Notes from the café – “quoted”."
    assert cp1252.message.subject == "Café notes"


def test_damaged_bodies_keep_what_could_be_read() -> None:
    """Bad base64: the readable start survives; NUL bytes are removed, the words around them kept."""
    bad64, nul = _read("bad-base64"), _read("nul-bytes")
    assert isinstance(bad64, ReadMail)
    assert isinstance(nul, ReadMail)
    assert bad64.message.text.startswith("Readable start of a broken")
    assert nul.message.text == "beforeafter"
    assert "\x00" not in (nul.message.full_text or "")


def test_dates_come_from_the_archive_never_from_the_import() -> None:
    """Date header when plausible; a Date in 2999 gives way to the From line's date, with a note."""
    root, future = _read("root"), _read("future-date")
    assert isinstance(root, ReadMail)
    assert isinstance(future, ReadMail)
    assert root.message.sent_at == datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
    assert root.notes == ()
    assert future.message.sent_at == datetime(2019, 3, 11, 9, 0, tzinfo=UTC)
    assert future.notes == ("Date header 2999-01-01 implausible: the From line's date used",)


def test_attachments_are_kept_as_for_live_mail() -> None:
    read = _read("attachment")
    assert isinstance(read, ReadMail)
    [pdf] = read.message.attachments
    assert (pdf.filename, pdf.content_type, pdf.data) == (
        "template.pdf",
        "application/pdf",
        b"%PDF-1.4 template",
    )


def test_pipermail_sender_is_an_address_again() -> None:
    import io

    from bridge.importer.mbox import _split

    first = next(_split(io.BytesIO(PIPERMAIL), "2019-March.txt"))
    read = read_entry(first, "pm-practice", now=NOW)
    assert isinstance(read, ReadMail)
    assert (read.message.sender_address, read.message.sender_name) == ("ana@example.org", "Ana Souza")


def test_empty_message_fails() -> None:
    read = read_entry(MboxEntry("m", 1, b"\n\n"), "pm-practice", now=NOW)
    assert read == NotImported("m#1 (line 1)", "empty message")


def test_no_sender_fails() -> None:
    raw = b"Subject: who wrote this?\nDate: Mon, 04 Mar 2019 09:00:00 +0000\n\nnobody\n"
    read = read_entry(MboxEntry("m", 2, raw), "pm-practice", now=NOW)
    assert read == NotImported("m#2 (line 1)", "no sender address in From or Sender")
