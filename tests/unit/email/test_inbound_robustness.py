"""Whatever arrives, parsing returns a best-effort message and a list of what was wrong: it never raises."""

import base64
import os
import random

import pytest

from bridge.email.inbound import ParsedMail
from tests.unit.email.samples import NOW, crlf, mail, mime, parse


def test_a_message_that_is_not_mime_at_all() -> None:
    raw = crlf(
        "From: ana@example.org\nTo: pm-practice@lists.example.com\nSubject: old style\n\n"
        "Plain words in UTF-8: ação.\n"
    )
    parsed = parse(raw)
    assert parsed.community_slug == "pm-practice"
    assert parsed.message.text == "Plain words in UTF-8: ação."
    assert parsed.message.html == "<p>Plain words in UTF-8: ação.</p>"
    assert parsed.message.sent_at == NOW


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"just some words, no headers at all",
        os.urandom(2048),
        b"\x00\x01\x02From: \xff\xfe\r\n\r\n\x80\x81",
        b"From: <<<>>>@@@\r\nTo: ,,,;;;\r\nSubject: =?=?=?\r\nDate: 99 Foo 99999 99:99\r\n\r\nx",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary here",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n--x\r\n--x--',
        b'Content-Type: multipart/alternative; boundary="never"\r\n\r\n--other\r\n\r\nunterminated',
        b"Content-Type: text/plain; charset=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
        b"Content-Type: text/plain; charset*=utf-8''%FF%FE\r\n\r\nbody",
        b"Content-Type: ;;;===\r\nContent-Disposition: attachment; filename*0*=x''%ZZ\r\n\r\nbody",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=4",
        b"Message-ID: <<<>>>\r\nIn-Reply-To: ((((\r\nReferences: <a@b> <unterminated\r\n\r\nx",
        b'From: "unterminated <ana@example.org>\r\n\r\nx',
        b"Subject: =?utf-8?b?!!!!?= =?utf-8?q?=ZZ?=\r\n\r\nx",
        b"Content-Type: text/html\r\n\r\n<div><div><div><b><i><table><tr><td>" * 200,
        b"Content-Type: message/rfc822\r\n\r\nnot really a message",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse(raw)
    assert isinstance(parsed, ParsedMail)
    assert parsed.message.origin_key
    assert isinstance(parsed.message.text, str)


def test_header_problems_become_defects_not_errors() -> None:
    parsed = parse(b"From ana Tue Oct 1\r\nthis line is not a header\r\nSubject: x\r\n\r\nbody")
    assert parsed.defects
    assert isinstance(parsed.defects[0], str)


def test_deep_nesting_is_cut_off() -> None:
    depth = 60
    head = "".join(
        f'--b{n}\r\nContent-Type: multipart/mixed; boundary="b{n + 1}"\r\n\r\n' for n in range(depth)
    )
    tail = "".join(f"\r\n--b{n}--" for n in reversed(range(depth)))
    raw = (
        crlf('Content-Type: multipart/mixed; boundary="b0"\n\n')
        + (head + f"--b{depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--b{depth}--" + tail).encode()
    )
    parsed = parse(raw)
    assert any("nesting" in defect for defect in parsed.defects)


def test_missing_from_is_tolerated() -> None:
    parsed = parse(mail("Hello", base="To: pm-practice@lists.example.com\n"))
    assert parsed.message.sender_address == ""
    assert any("sender" in defect for defect in parsed.defects)


def test_a_twenty_megabyte_attachment() -> None:
    blob = os.urandom(20 * 1024 * 1024)
    body = (
        b"--b\nContent-Type: text/plain\n\nSee the file.\n"
        b'--b\nContent-Type: application/octet-stream; name="big.bin"\n'
        b'Content-Disposition: attachment; filename="big.bin"\nContent-Transfer-Encoding: base64\n\n'
        + base64.encodebytes(blob)
        + b"--b--\n"
    )
    parsed = parse(mail(body, 'Content-Type: multipart/mixed; boundary="b"\n'))
    (attachment,) = parsed.message.attachments
    assert attachment.filename == "big.bin"
    assert attachment.size == len(blob)
    assert attachment.data == blob
    assert parsed.message.text == "See the file."


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=UTF-8''Relat%C3%B3rio%20final.pdf", "Relatório final.pdf"),
        ("attachment; filename*0*=UTF-8''Relat%C3%B3rio%20; filename*1=final.pdf", "Relatório final.pdf"),
        ("attachment; filename*=iso-8859-1'pt'Relat%F3rio.pdf", "Relatório.pdf"),
        ('attachment; filename="=?UTF-8?B?UmVsYXTDs3Jpby5wZGY=?="', "Relatório.pdf"),
        ('attachment; filename="=?iso-8859-1?Q?Relat=F3rio?= final.pdf"', "Relatório final.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="C:\\\\Users\\\\ana\\\\plan.xlsx"', "plan.xlsx"),
        ('attachment; filename="notes\ttab\x01.txt"', "notes tab_.txt"),
        ('attachment; filename=".."', "attachment-1.pdf"),
        ("attachment", "attachment-1.pdf"),
    ],
)
def test_attachment_filenames(disposition: str, expected: str) -> None:
    body = f"""--b
Content-Type: text/plain

Attached.
--b
Content-Type: application/pdf
Content-Disposition: {disposition}
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b--
"""
    parsed = parse(mime(f'Content-Type: multipart/mixed; boundary="b"\n\n{body}'))
    (attachment,) = parsed.message.attachments
    assert attachment.filename == expected
    assert attachment.data == b"%PDF-1.4\n"
    assert attachment.content_type == "application/pdf"


def test_filename_from_the_content_type_name_and_raw_8bit() -> None:
    body = (
        b"--b\nContent-Type: text/plain\n\nAttached.\n"
        b'--b\nContent-Type: application/pdf; name="Relat\xc3\xb3rio.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    )
    parsed = parse(mail(body, 'Content-Type: multipart/mixed; boundary="b"\n'))
    assert [a.filename for a in parsed.message.attachments] == ["Relatório.pdf"]


def test_damaged_copies_of_a_real_mail_never_raise() -> None:
    """Seeded byte damage (flips, cuts, duplicated spans) of a multipart mail with attachments."""
    body = (
        b'--b\nContent-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain; charset=utf-8; format=flowed\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"Ol=C3=A1 a todos,=20\nsegue o plano.\n\nOn Mon, Bo wrote:\n> old\n"
        b"--a\nContent-Type: text/html; charset=iso-8859-1\n\n"
        b"<p>Ol\xe1 <b>a todos</b></p><blockquote>old</blockquote>\n"
        b"--a--\n"
        b"--b\nContent-Type: application/pdf; name*=UTF-8''Plano%20%C3%BAnico.pdf\n"
        b"Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    )
    original = mail(
        body,
        'Content-Type: multipart/mixed; boundary="b"\nSubject: =?utf-8?q?Plano_=C3=BAnico?=\n'
        "References: <a@x> <b@x>\nIn-Reply-To: <b@x>\n",
    )
    assert parse(original).message.text == "Olá a todos, segue o plano."
    rng = random.Random(2919)
    for _ in range(120):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            position = rng.randrange(len(damaged))
            action = rng.random()
            if action < 0.6:
                damaged[position] = rng.randrange(256)
            elif action < 0.8:
                del damaged[position : position + rng.randint(1, 40)]
            else:
                damaged[position:position] = damaged[position : position + rng.randint(1, 40)]
        parsed = parse(bytes(damaged))
        assert isinstance(parsed.message.text, str)
        assert parsed.message.origin_key
