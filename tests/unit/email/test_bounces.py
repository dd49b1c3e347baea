# ruff: noqa: E501  (the samples keep the line lengths real servers write)
"""Bounce reports read from every common shape; what each sample gets is said beside it.

The samples are written for these tests in the shapes each mail server produces (standard delivery
status notifications, Postfix, Exim, qmail, Exchange/Outlook and Gmail notices), addressed to the VERP
return path of the list mail they answer.
"""

from __future__ import annotations

import pytest

from bridge.email.bounces import BounceAction, BounceReport, Severity, parse_bounce

VERP = "pm-practice+bounce=ana=example.org@lists.example.com"

RETURNED = """\
From: Project Management Practice <pm-practice@lists.example.com>
To: ana@example.org
Subject: [pm] Kick-off notes
Message-ID: <post.42@lists.example.com>

The notes from Tuesday.
"""


def dsn(recipients: str, *, subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    return f"""\
Return-Path: <>
Delivered-To: {VERP}
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {VERP}
Subject: {subject}
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <dsn.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 4Zf0aB1cDz
Arrival-Date: Tue, 24 Nov 2026 09:59:58 +0000

{recipients}
--B1
Content-Type: message/rfc822

{RETURNED}
--B1--
""".replace("\n", "\r\n").encode()


def plain(body: str, *, subject: str, extra: str = "") -> bytes:
    return f"""\
Return-Path: <>
Delivered-To: {VERP}
From: Mail Delivery Subsystem <mailer-daemon@mx.example.net>
To: {VERP}
Subject: {subject}
Date: Tue, 24 Nov 2026 10:00:00 +0000
{extra}Content-Type: text/plain; charset=utf-8

{body}""".encode()


def only(raw: bytes) -> tuple[str, BounceReport]:
    parsed = parse_bounce(raw)
    assert len(parsed.reports) == 1, parsed
    return parsed.format, parsed.reports[0]


# -- RFC 3464 ------------------------------------------------------------------------------------


def test_standard_permanent_failure() -> None:
    """Action failed, Status 5.1.1: permanent, with the server's words."""
    fmt, report = only(
        dsn(
            "Final-Recipient: rfc822; ana@example.org\n"
            "Original-Recipient: rfc822;ana@example.org\n"
            "Action: failed\n"
            "Status: 5.1.1\n"
            "Remote-MTA: dns; mx.example.org\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <ana@example.org>: Recipient address\n"
            "    rejected: User unknown in virtual mailbox table\n"
        )
    )
    assert fmt == "rfc3464"
    assert report.recipient == "ana@example.org"
    assert report.action is BounceAction.FAILED
    assert report.status == "5.1.1"
    assert report.severity is Severity.PERMANENT
    assert report.permanent
    assert report.diagnostic == (
        "550 5.1.1 <ana@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    )


def test_standard_failure_with_a_4xx_status_is_transient() -> None:
    """Action failed but Status 4.2.2 (mailbox full, given up after retries): transient."""
    _, report = only(
        dsn(
            "Final-Recipient: rfc822; ana@example.org\nAction: failed\nStatus: 4.2.2\n"
            "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n"
        )
    )
    assert report.severity is Severity.TRANSIENT


def test_standard_delay_counts_nothing() -> None:
    """Action delayed: a warning only; severity none."""
    _, report = only(
        dsn(
            "Final-Recipient: rfc822; ana@example.org\nAction: delayed\nStatus: 4.4.1\n"
            "Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.7]:25: Connection timed out\n",
            subject="Delayed Mail (still being retried)",
        )
    )
    assert report.action is BounceAction.DELAYED
    assert report.status == "4.4.1"
    assert report.severity is Severity.NONE


def test_standard_several_recipients_and_original_recipient_only() -> None:
    """Two recipient blocks; one names only Original-Recipient: both read, each its own fate."""
    parsed = parse_bounce(
        dsn(
            "Final-Recipient: rfc822; ana@example.org\nAction: failed\nStatus: 5.2.1\n\n"
            "Original-Recipient: rfc822; kenji@example.net\nAction: delayed\nStatus: 4.7.0\n"
        )
    )
    assert [(r.recipient, r.severity) for r in parsed.reports] == [
        ("ana@example.org", Severity.PERMANENT),
        ("kenji@example.net", Severity.NONE),
    ]
    assert parsed.worst("kenji@example.net") == parsed.reports[1]
    assert parsed.worst("nobody@example.com") == parsed.reports[0]  # unnamed: every report counts


def test_standard_status_missing_taken_from_the_diagnostic() -> None:
    """No Status field: the enhanced code inside Diagnostic-Code is used."""
    _, report = only(
        dsn(
            "Final-Recipient: rfc822; ana@example.org\nAction: failed\n"
            "Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; client host blocked\n"
        )
    )
    assert report.status == "5.7.1"


# -- free-text shapes ----------------------------------------------------------------------------

POSTFIX = """\
This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<ana@example.org>: host mx.example.org[192.0.2.7] said: 550 5.1.1
    <ana@example.org>: Recipient address rejected: User unknown (in reply to
    RCPT TO command)

--- original message follows ---
"""


def test_postfix_plain_text() -> None:
    """A Postfix notice without the report part: recipient and 5.1.1 from its text; permanent."""
    fmt, report = only(plain(POSTFIX, subject="Undelivered Mail Returned to Sender"))
    assert fmt == "postfix"
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.1"
    assert report.permanent
    assert "Recipient address rejected" in report.diagnostic


def test_postfix_delay_warning() -> None:
    """Postfix's "THIS IS A WARNING ONLY" notice: delayed, counts nothing."""
    body = POSTFIX.replace(
        "I'm sorry to have to inform you that your message could not\nbe delivered",
        "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #######\n\n"
        "Your message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5"
        " day(s) old.\n\nMessage could not\nbe delivered to one or more recipients",
    ).replace("said: 550 5.1.1", "said: 451 4.3.0")
    _, report = only(plain(body, subject="Delayed Mail (still being retried)"))
    assert report.action is BounceAction.DELAYED
    assert report.severity is Severity.NONE


EXIM = """\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  ana@example.org
    host mx.example.org [192.0.2.7]
    SMTP error from remote mail server after RCPT TO:<ana@example.org>:
    550 5.1.1 <ana@example.org>: no mailbox by that name

------ This is a copy of the message, including all the headers. ------
"""


def test_exim_permanent() -> None:
    """Exim's failure notice: the address line, then the remote server's 550 5.1.1; permanent."""
    fmt, report = only(
        plain(
            EXIM,
            subject="Mail delivery failed: returning message to sender",
            extra="X-Failed-Recipients: ana@example.org\n",
        )
    )
    assert fmt == "exim"
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.1"
    assert report.permanent


def test_exim_delay() -> None:
    """Exim's "has not yet been delivered" warning: delayed, counts nothing."""
    body = """\
This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.net.

The address to which the message has not yet been delivered is:

  ana@example.org
    host mx.example.org [192.0.2.7]: Connection timed out

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered.
"""
    parsed = parse_bounce(plain(body, subject="Warning: message 1tXyZa-000Abc-Q1 delayed 24 hours"))
    assert parsed.format == "exim"
    assert all(r.severity is Severity.NONE for r in parsed.reports)


def test_qmail() -> None:
    """qmail's "Hi. This is the qmail-send program": the <address>: entry and its 5.1.1; permanent."""
    body = """\
Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<ana@example.org>:
192.0.2.7 does not like recipient.
Remote host said: 550 5.1.1 <ana@example.org>... User unknown
Giving up on 192.0.2.7.

--- Below this line is a copy of the message.

Return-Path: <pm-practice+bounce=ana=example.org@lists.example.com>
"""
    fmt, report = only(plain(body, subject="failure notice"))
    assert fmt == "qmail"
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.1"
    assert report.permanent


def test_exchange_ndr() -> None:
    """An Exchange non-delivery report: recipient from the first block, code from "Remote Server
    returned"; permanent."""
    body = """\
Delivery has failed to these recipients or groups:

ana@example.org (ana@example.org)
The email address you entered couldn't be found. Please check the recipient's email address and
try to resend the message. If the problem continues, please contact your helpdesk.

Diagnostic information for administrators:

Generating server: EX01.corp.example.org

ana@example.org
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'

Original message headers:
"""
    fmt, report = only(plain(body, subject="Undeliverable: [pm] Kick-off notes"))
    assert fmt == "exchange"
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.10"
    assert report.permanent
    assert report.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")


def test_office365_short_form() -> None:
    """Outlook.com's "Your message to X couldn't be delivered.": the named recipient; permanent."""
    body = """\
Your message to ana@example.org couldn't be delivered.

ana wasn't found at example.org.

Remote Server returned '550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found'
"""
    _, report = only(plain(body, subject="Undeliverable: [pm] Kick-off notes"))
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.1"


def test_exchange_delay() -> None:
    """Exchange's "Delivery is delayed": delayed, counts nothing."""
    body = "Delivery is delayed to these recipients or groups:\n\nana@example.org\n\nSubject: Kick-off\n"
    _, report = only(plain(body, subject="Delivery delayed: [pm] Kick-off notes"))
    assert report.action is BounceAction.DELAYED
    assert report.severity is Severity.NONE


def test_gmail_failure() -> None:
    """Gmail's "Delivery Status Notification (Failure)": recipient and 5.1.1 from the response; permanent."""
    body = """\

** Address not found **

Your message wasn't delivered to ana@example.org because the address couldn't be found, or is unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response was:

550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.
"""
    fmt, report = only(plain(body, subject="Delivery Status Notification (Failure)"))
    assert fmt == "gmail"
    assert report.recipient == "ana@example.org"
    assert report.status == "5.1.1"
    assert report.permanent


def test_gmail_delay() -> None:
    """Gmail's "(Delay)" notice: delayed, counts nothing."""
    body = """\

** Message not delivered yet **

There was a temporary problem delivering your message to ana@example.org. Gmail will retry for 45 more hours.

The response was:

451 4.3.0 Mail server temporarily rejected message.
"""
    _, report = only(plain(body, subject="Delivery Status Notification (Delay)"))
    assert report.recipient == "ana@example.org"
    assert report.severity is Severity.NONE


# -- what is left ---------------------------------------------------------------------------------


def test_unknown_shape_with_a_code_is_judged_by_the_code() -> None:
    """An unfamiliar notice holding "550 5.7.1": generic, no recipient, permanent by its code."""
    fmt, report = only(plain("Sorry.\nReason: 550 5.7.1 Relaying denied\n", subject="Returned mail"))
    assert fmt == "generic"
    assert report.recipient is None
    assert report.status == "5.7.1"
    assert report.permanent


def test_x_failed_recipients_alone() -> None:
    """No readable text but an X-Failed-Recipients header: a failure for that address."""
    parsed = parse_bounce(
        plain("(nothing useful)\n", subject="bounce", extra="X-Failed-Recipients: ana@example.org\n")
    )
    assert [(r.recipient, r.severity) for r in parsed.reports] == [("ana@example.org", Severity.PERMANENT)]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b'Content-Type: multipart/report; boundary="x"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n',
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary at all",
        b"Subject: hello\r\n\r\nJust a note, nothing failed.\r\n",
        b"Content-Type: text/plain; charset=nonsense-8\r\n\r\n\xe9\xe8 Hi. This is the qmail-send program\r\n",
    ],
)
def test_junk_never_raises(raw: bytes) -> None:
    """Junk gets a parse (maybe with no reports), never an exception."""
    parsed = parse_bounce(raw)
    assert parsed.format in {"rfc3464", "generic", "unparsed", "qmail"}
    assert all(isinstance(r, BounceReport) for r in parsed.reports)


def test_nothing_readable_is_unparsed() -> None:
    """A mail with no code, no address and no known shape: unparsed, no reports."""
    parsed = parse_bounce(plain("We could not help you today.\n", subject="Notice"))
    assert parsed.format == "unparsed"
    assert parsed.reports == ()
    assert parsed.worst("ana@example.org") is None
