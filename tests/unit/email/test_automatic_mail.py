# ruff: noqa: E501  (the samples keep the line lengths real servers write)
"""Automatic mail known by its structure, whatever its From: every sample below carries a member's address
in From (her own server bouncing, answering or reporting on her behalf) and is sent to the plain list
address, with no null Return-Path and no MAILER-DAEMON, so only its structure can tell. Each case says
what it gets; the people's mail at the end is relayed.

The samples are written for these tests in the shapes each server produces (Postfix, Exim, qmail,
Sendmail, Exchange 2010 and Microsoft 365, Gmail, Yahoo, Courier, Lotus Domino; Thunderbird and Outlook
read receipts; an ARF report as mailbox providers send them; vacation responders).
"""

from __future__ import annotations

import pytest

from bridge.core.loop_guard import MailClass
from tests.unit.email.samples import parse

HEAD = """\
Return-Path: <ana@example.org>
Delivered-To: pm-practice@lists.example.com
From: Ana Souza <ana@example.org>
To: pm-practice@lists.example.com
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <auto-{n}@mail.example.org>
MIME-Version: 1.0
"""

RETURNED = """\
From: Ana Souza <ana@example.org>
To: bob@example.net
Subject: Kick-off notes
Message-ID: <orig.1@mail.example.org>

The notes from Tuesday.
"""


def sample(n: int, subject: str, content_type: str, body: str, extra: str = "") -> bytes:
    text = HEAD.format(n=n) + extra + f"Subject: {subject}\nContent-Type: {content_type}\n\n{body}"
    return text.replace("\n", "\r\n").encode()


def report(kind: str, text: str, part_type: str, fields: str) -> str:
    return f"""\
--R
Content-Type: text/plain; charset=us-ascii

{text}
--R
Content-Type: {part_type}

{fields}
--R
Content-Type: message/rfc822

{RETURNED}
--R--
"""


DSN_FIELDS = "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n"

AUTOMATIC: list[tuple[str, bytes, MailClass]] = [
    ("postfix DSN", sample(1, "Undelivered Mail Returned to Sender", 'multipart/report; report-type=delivery-status; boundary="R"',
        report("dsn", "This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.", "message/delivery-status", DSN_FIELDS)), MailClass.BOUNCE),
    ("Exchange 2010 Undeliverable", sample(2, "Undeliverable: Kick-off notes", 'multipart/report; report-type=delivery-status; boundary="R"',
        report("dsn", "Delivery has failed to these recipients or groups:\n\nbob@example.net\nThe e-mail address you entered couldn't be found.", "message/delivery-status", DSN_FIELDS)), MailClass.BOUNCE),
    ("DSN wrapped in multipart/mixed by a gateway", sample(3, "Delivery failure", 'multipart/mixed; boundary="W"',
        "--W\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n\n" + report("dsn", "Delivery failure.", "message/delivery-status", DSN_FIELDS) + "--W--\n"), MailClass.BOUNCE),
    ("RFC 6533 global DSN", sample(4, "Undeliverable: Kick-off notes", 'multipart/mixed; boundary="R"',
        report("dsn", "Your message could not be delivered.", "message/global-delivery-status", DSN_FIELDS)), MailClass.BOUNCE),
    ("qmail failure notice", sample(5, "failure notice", "text/plain",
        "Hi. This is the qmail-send program at mail.example.org.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<bob@example.net>:\n192.0.2.7 does not like recipient.\nRemote host said: 550 5.1.1 <bob@example.net>: Recipient address rejected\n\n--- Below this line is a copy of the message.\n\n" + RETURNED), MailClass.BOUNCE),
    ("Exim plain text", sample(6, "Mail delivery failed: returning message to sender", "text/plain",
        "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  bob@example.net\n    SMTP error from remote mail server after RCPT TO:<bob@example.net>:\n    550 5.1.1 User unknown\n"), MailClass.BOUNCE),
    ("Sendmail", sample(7, "Returned mail: see transcript for details", "text/plain",
        "The original message was received at Tue, 24 Nov 2026 09:59:58 GMT\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<bob@example.net>\n"), MailClass.BOUNCE),
    ("Microsoft 365 NDR, HTML only", sample(8, "Undeliverable: Kick-off notes", "text/html; charset=utf-8",
        "<html><head><style>p{margin:0}</style></head><body><p><b>Your message to bob@example.net couldn't be delivered.</b></p><p>bob wasn't found at example.net.</p></body></html>"), MailClass.BOUNCE),
    ("Gmail address not found", sample(9, "Delivery Status Notification (Failure)", 'multipart/alternative; boundary="A"',
        "--A\nContent-Type: text/plain; charset=UTF-8\n\n\n** Address not found **\n\nYour message wasn't delivered to bob@example.net because the address couldn't be found.\n--A--\n"), MailClass.BOUNCE),
    ("Yahoo", sample(10, "Failure Notice", "text/plain",
        "Sorry, we were unable to deliver your message to the following address.\n\n<bob@example.net>:\n554: delivery error: dd This user doesn't have a yahoo.com account\n"), MailClass.BOUNCE),
    ("Lotus Domino", sample(11, "DELIVERY FAILURE: User bob not listed", "text/plain",
        "Your message\n\n  Subject: Kick-off notes\n\nwas not delivered to:\n\n  bob@example.net\n\nbecause:\n\n  User bob (bob@example.net) not listed in Domino Directory\n"), MailClass.BOUNCE),
    ("Thunderbird read receipt", sample(12, "Return Receipt (displayed) - Kick-off notes", 'multipart/report; report-type=disposition-notification; boundary="R"',
        report("mdn", "This is a Return Receipt for the mail that you sent to bob@example.net.", "message/disposition-notification",
               "Reporting-UA: mail.example.org; Thunderbird\nFinal-Recipient: rfc822;bob@example.net\nOriginal-Message-ID: <orig.1@mail.example.org>\nDisposition: manual-action/MDN-sent-manually; displayed\n")), MailClass.AUTO_REPLY),
    ("Outlook read receipt wrapped", sample(13, "Read: Kick-off notes", 'multipart/mixed; boundary="R"',
        report("mdn", "Your message was read on Tuesday.", "message/disposition-notification", "Final-Recipient: rfc822;bob@example.net\nDisposition: automatic-action/MDN-sent-automatically; displayed\n")), MailClass.AUTO_REPLY),
    ("ARF report from a mailbox provider", sample(14, "FW: Kick-off notes", 'multipart/report; report-type=feedback-report; boundary="R"',
        report("arf", "This is an email abuse report for an email message received from IP 192.0.2.1.", "message/feedback-report",
               "Feedback-Type: abuse\nUser-Agent: ExampleFBL/1.0\nVersion: 1\nOriginal-Mail-From: <pm-practice+bounce=bob=example.net@lists.example.com>\nArrival-Date: Tue, 24 Nov 2026 09:00:00 +0000\n")), MailClass.AUTO_REPLY),
    ("ARF wrapped in multipart/mixed", sample(15, "Complaint", 'multipart/mixed; boundary="R"',
        report("arf", "A user reported this message as spam.", "message/feedback-report", "Feedback-Type: abuse\nVersion: 1\n")), MailClass.AUTO_REPLY),
    ("Gmail vacation responder", sample(16, "Re: Kick-off notes", "text/plain; charset=UTF-8",
        "I am away until Monday with limited access to mail.\n", "Auto-Submitted: auto-replied\nPrecedence: bulk\n"), MailClass.AUTO_REPLY),
    ("Exchange automatic reply", sample(17, "Automatic reply: Kick-off notes", "text/plain",
        "I'm out of the office until 1 December.\n", "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: ana@example.org\n"), MailClass.AUTO_REPLY),
    ("Sieve vacation", sample(18, "Away: Kick-off notes", "text/plain",
        "Back next week.\n", "Auto-Submitted: auto-replied (vacation)\n"), MailClass.AUTO_REPLY),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "verdict"), [(raw, verdict) for _, raw, verdict in AUTOMATIC], ids=[c[0] for c in AUTOMATIC]
)
def test_automatic_mail_from_a_member_is_never_relayed(raw: bytes, verdict: MailClass) -> None:
    parsed = parse(raw)
    assert parsed.message.sender_address == "ana@example.org"
    assert parsed.verdict.verdict is verdict, parsed.verdict


PEOPLE: list[tuple[str, bytes]] = [
    ("asks about a bounce she pasted", sample(30, "Why did this bounce?", "text/plain",
        "Hi all, does anyone know what this means?\n\nDelivery has failed to these recipients or groups:\nbob@example.net\n")),
    ("forwards a bounce as an attachment", sample(31, "Fwd: Undeliverable: Kick-off notes", 'multipart/mixed; boundary="F"',
        "--F\nContent-Type: text/plain\n\nBob's address seems to be gone.\n--F\nContent-Type: message/rfc822\n\nFrom: postmaster@example.net\nSubject: Undeliverable\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n\n" + report("dsn", "Delivery has failed", "message/delivery-status", DSN_FIELDS) + "--F--\n")),
    ("writes about out-of-office etiquette", sample(32, "Out of office etiquette", "text/plain", "How do you all handle holidays?\n")),
    ("writes 'Delivery failure' as a subject", sample(33, "Delivery failure of the Q3 project", "text/plain", "We missed the deadline; lessons learned below.\n")),
]  # fmt: skip


@pytest.mark.parametrize("raw", [raw for _, raw in PEOPLE], ids=[c[0] for c in PEOPLE])
def test_peoples_mail_about_bounces_is_relayed(raw: bytes) -> None:
    assert parse(raw).verdict.verdict is MailClass.RELAY
