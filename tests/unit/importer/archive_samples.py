"""A real-shaped list archive for the import tests: charsets, threads with lost and late parents,
files, broken messages and automatic mail, each message with what importing it must give.

Dates are in 2019, years before any test runs, so a rule that used the day of the import instead of
the archive's own timeline (the subject window) would give other threads than the ones expected here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import EmailMessage

LIST = "pm-practice@lists.example.com"


@dataclass(frozen=True, slots=True)
class Sample:
    """One message of the archive: its envelope line, its bytes, and what the import must make of it.

    ``outcome`` is ``imported``, ``already`` (a repeat within the archive), ``failed`` or ``skipped``
    (automatic mail); ``thread`` names the expected thread (samples with the same name share one).
    """

    key: str
    envelope: bytes
    raw: bytes
    outcome: str
    thread: str | None = None
    reason: str = ""


def _mail(
    sender: str,
    subject: str | None,
    date: str | None,
    message_id: str | None,
    text: str,
    *,
    charset: str = "utf-8",
    cte: str | None = None,
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = LIST
    if subject is not None:
        message["Subject"] = subject
    if date is not None:
        message["Date"] = date
    if message_id is not None:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text, charset=charset, cte=cte)
    return message


def _envelope(sender: str, when: str) -> bytes:
    return f"From {sender} {when}".encode()


def samples() -> list[Sample]:
    ana = "Ana Souza <ana@example.org>"
    bo = "Bo Lind <bo@example.org>"
    out: list[Sample] = []

    def add(
        key: str, message: EmailMessage | bytes, outcome: str, thread: str | None = None, **kw: str
    ) -> None:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        when = kw.pop("when", "Mon Mar  4 09:00:00 2019")
        out.append(
            Sample(key, _envelope(kw.pop("sender", "ana@example.org"), when), raw, outcome, thread, **kw)
        )

    root = _mail(
        ana,
        "[pm] Estimação de projetos",
        "Mon, 04 Mar 2019 09:00:00 +0000",
        "<root@example.org>",
        "Como vocês estimam projetos grandes? Ação e reação.",
    )
    add("root", root, "imported", "estimation")
    reply = _mail(
        bo,
        "Re: [pm] Estimação de projetos",
        "Mon, 04 Mar 2019 11:30:00 +0100",
        "<reply@example.org>",
        "We use reference classes.\n\nOn Mon, 4 Mar 2019 at 09:00, Ana Souza <ana@example.org> wrote:\n"
        "> Como vocês estimam projetos grandes?\n",
        In_Reply_To="<root@example.org>",
        References="<root@example.org>",
    )
    reply.add_alternative(
        "<p>We use <b>reference classes</b>.</p><blockquote>Como vocês estimam?</blockquote>", subtype="html"
    )
    add("reply", reply, "imported", "estimation")
    add(
        "latin1",
        _mail(
            "=?iso-8859-1?q?Jos=E9_Garc=EDa?= <jose@example.net>",
            "=?iso-8859-1?q?R=E9union_mensuelle?=",
            "Tue, 05 Mar 2019 08:00:00 -0300",
            "<latin1@example.net>",
            "La réunion est déplacée à jeudi. À bientôt.",
            charset="iso-8859-1",
            cte="quoted-printable",
        ),
        "imported",
        "meeting",
    )
    add(
        "koi8",
        _mail(
            "Ivan <ivan@example.ru>",
            "Оценка сроков",
            "Wed, 06 Mar 2019 10:00:00 +0300",
            "<koi8@example.ru>",
            "Мы оцениваем задачи в идеальных днях.",
            charset="koi8-r",
            cte="base64",
        ),
        "imported",
        "koi8",
    )
    add(
        "cp1252-undeclared",
        b"From: Zoe <zoe@example.com>\nTo: " + LIST.encode() + b"\nSubject: Caf\xe9 notes\n"
        b"Date: Thu, 07 Mar 2019 12:00:00 +0000\nMessage-ID: <cp1252@example.com>\n\n"
        b"Notes from the caf\xe9 \x96 \x93quoted\x94.\n",
        "imported",
        "cafe",
    )
    add(
        "orphan",
        _mail(
            bo,
            "Re: Lost parent",
            "Fri, 08 Mar 2019 09:00:00 +0000",
            "<orphan@example.org>",
            "Answering a mail this archive never had.",
            In_Reply_To="<lost@example.org>",
            References="<lost@example.org>",
        ),
        "imported",
        "ghost",
    )
    add(
        "sibling",
        _mail(
            ana,
            "Re: Lost parent",
            "Fri, 08 Mar 2019 10:00:00 +0000",
            "<sibling@example.org>",
            "Me too.",
            References="<lost@example.org>",
        ),
        "imported",
        "ghost",
    )
    add(
        "early-child",
        _mail(
            bo,
            "Re: Out of order",
            "Sat, 09 Mar 2019 09:00:00 +0000",
            "<early-child@example.org>",
            "A reply filed before its parent.",
            In_Reply_To="<late-parent@example.org>",
            References="<late-parent@example.org>",
        ),
        "imported",
        "late",
    )
    add(
        "late-parent",
        _mail(
            ana,
            "Out of order",
            "Sat, 09 Mar 2019 08:00:00 +0000",
            "<late-parent@example.org>",
            "The parent, filed after its reply.",
        ),
        "imported",
        "late",
    )
    add(
        "no-headers",
        b"just some words without any header\nand a second line\n",
        "failed",
        reason="no headers",
    )
    bad_base64 = (
        b"From: Ana Souza <ana@example.org>\nTo: " + LIST.encode() + b"\nSubject: Broken encoding\n"
        b"Date: Sun, 10 Mar 2019 09:00:00 +0000\nMessage-ID: <bad64@example.org>\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"Readable start of a broken body.")[:-4]
        + b"!!!not*base64@@@\n"
    )
    add("bad-base64", bad_base64, "imported", "broken")
    add(
        "nul-bytes",
        b"From: Bo Lind <bo@example.org>\nTo: " + LIST.encode() + b"\nSubject: Binary junk\n"
        b"Date: Sun, 10 Mar 2019 10:00:00 +0000\nMessage-ID: <nul@example.org>\n\n"
        b"before\x00\x00after\n",
        "imported",
        "nul",
    )
    add(
        "future-date",
        _mail(
            ana,
            "Clock from the future",
            "Tue, 01 Jan 2999 00:00:00 +0000",
            "<future@example.org>",
            "My clock was wrong.",
        ),
        "imported",
        "future",
        when="Mon Mar 11 09:00:00 2019",
    )
    add(
        "no-date-anywhere",
        _mail(ana, "No date", "Thu, 01 Jan 1903 00:00:00 +0000", "<nodate@example.org>", "When was this?"),
        "failed",
        when="Thu Jan  1 00:00:00 1903",
        reason="no usable date",
    )
    add(
        "long-subject",
        b"From: Ana Souza <ana@example.org>\nTo: "
        + LIST.encode()
        + b"\nSubject: "
        + b"\n ".join([b"long" * 16] * 1024)
        + b"\nDate: Mon, 11 Mar 2019 10:00:00 +0000\nMessage-ID: <long-subject@example.org>\n\nbody\n",
        "imported",  # its subject shortened to the store's 998 characters, as the relay stores it
        "long-subject",
    )
    with_file = _mail(
        bo,
        "Estimation template",
        "Mon, 11 Mar 2019 11:00:00 +0000",
        "<file@example.org>",
        "The template we use is attached.",
    )
    with_file.add_attachment(
        b"%PDF-1.4 template", maintype="application", subtype="pdf", filename="template.pdf"
    )
    add("attachment", with_file, "imported", "file")
    add(
        "vacation",
        _mail(
            "Ana Souza <ana@example.org>",
            "Out of office: Re: Estimation template",
            "Mon, 11 Mar 2019 11:05:00 +0000",
            "<vacation@example.org>",
            "I am away until April.",
            Auto_Submitted="auto-replied",
        ),
        "skipped",
        reason="automatic mail",
    )
    add("repeat", root, "already")  # the same mail filed twice
    add(
        "no-message-id",
        _mail(bo, "No Message-ID here", "Tue, 12 Mar 2019 09:00:00 +0000", None, "Sent by an old client."),
        "imported",
        "no-id",
    )
    add(
        "subject-reply",
        _mail(
            ana,
            "Re: Réunion mensuelle",
            "Sun, 17 Mar 2019 09:00:00 +0000",
            "<subject-reply@example.org>",
            "Jeudi me convient.",
        ),
        "imported",
        "meeting",
    )
    add(
        "subject-reply-too-late",
        _mail(
            bo,
            "Re: Réunion mensuelle",
            "Fri, 31 May 2019 09:00:00 +0000",
            "<too-late@example.org>",
            "Is this still on?",
        ),
        "imported",
        "meeting-later",
    )
    return out


def mbox_bytes(items: list[Sample], *, crlf: bool = False) -> bytes:
    """The samples as one mbox: envelope line, message, blank line."""
    parts = []
    for sample in items:
        raw = sample.raw if sample.raw.endswith(b"\n") else sample.raw + b"\n"
        parts.append(sample.envelope + b"\n" + raw + b"\n")
    data = b"".join(parts)
    return data.replace(b"\n", b"\r\n") if crlf else data


PIPERMAIL = b"""From ana at example.org  Mon Mar  4 09:00:00 2019
From: ana at example.org (Ana Souza)
Date: Mon, 04 Mar 2019 09:00:00 +0000
Subject: [pm] Retrospective formats
Message-ID: <pm-retro@example.org>

Which retrospective formats work for remote teams?

From the last one we learned a lot.

-------------- next part --------------
An HTML attachment was scrubbed...
URL: <http://lists.example.com/pipermail/pm/attachments/20190304/a.html>

From bo at example.org  Mon Mar  4 10:15:00 2019
From: bo at example.org (Bo Lind)
Date: Mon, 04 Mar 2019 10:15:00 +0000
Subject: [pm] Retrospective formats
In-Reply-To: <pm-retro@example.org>
References: <pm-retro@example.org>
Message-ID: <pm-retro-2@example.org>

Start, stop, continue works for us.

"""
