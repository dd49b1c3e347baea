"""Which list a mail is for, the reply token and bounce recipient it carries, and the loop guard's verdict."""

import hashlib

import pytest

from bridge.core.loop_guard import MailClass
from bridge.core.message_ids import post_message_id
from bridge.core.tokens import reply_address, sign_reply_token
from bridge.email.addresses import verp_address
from tests.unit.email.samples import NOW, PM, RISK, mail, parse

TOKEN = sign_reply_token(b"k" * 32, 7, 42)
PM_REPLY = reply_address(PM.list_address, TOKEN)


@pytest.mark.parametrize(
    "headers",
    [
        "Delivered-To: risk@lists.example.com\n",
        "Delivered-To: RISK@Lists.Example.com\nTo: pm-practice@lists.example.com\n",
        "Delivered-To: lists@example.com\nX-Original-To: risk@lists.example.com\n",
        "Delivered-To: lists@example.com\nTo: Risk Circle <risk@lists.example.com>\n",
        "Delivered-To: lists@example.com\nTo: ana@example.org\nCc: bo@example.org, risk@lists.example.com\n",
        "Delivered-To: risk+whatever@lists.example.com\nTo: ana@example.org\n",
    ],
)
def test_the_list_is_found_in_recipient_headers(headers: str) -> None:
    parsed = parse(mail("Hello", headers))
    assert parsed.community_slug == "risk"
    assert parsed.message.community_slug == "risk"


def test_delivered_to_wins_over_to() -> None:
    parsed = parse(mail("Hello", "Delivered-To: risk@lists.example.com\nTo: pm-practice@lists.example.com\n"))
    assert parsed.community_slug == "risk"
    assert parsed.reason == "delivered-to names risk@lists.example.com"


def test_a_mail_for_no_list_of_ours_says_why() -> None:
    parsed = parse(mail("Hello", "Delivered-To: lists@example.com\nTo: someone@example.net\n"))
    assert parsed.community_slug is None
    assert parsed.message.community_slug == ""
    assert "no list address" in parsed.reason
    assert parsed.message.sender_address == "ana@example.org"


def test_reply_token_from_the_delivered_to_plus_address() -> None:
    parsed = parse(mail("Thanks", f"Delivered-To: {PM_REPLY}\nTo: Project <{PM_REPLY}>\n"))
    assert parsed.community_slug == "pm-practice"
    assert parsed.reply_token == TOKEN
    assert parsed.message.refs.reply_token == TOKEN
    assert parsed.verp_recipient is None


def test_reply_token_found_in_to_when_this_copy_came_to_the_plain_list() -> None:
    parsed = parse(mail("Thanks", f"Delivered-To: {PM.list_address}\nTo: {PM_REPLY}, {PM.list_address}\n"))
    assert parsed.reply_token == TOKEN


def test_the_token_of_another_list_is_not_taken() -> None:
    other = reply_address(RISK.list_address, TOKEN)
    parsed = parse(mail("Thanks", f"Delivered-To: {PM.list_address}\nCc: {other}\n"))
    assert parsed.community_slug == "pm-practice"
    assert parsed.reply_token is None


def test_bounce_to_the_verp_address_names_the_member() -> None:
    verp = verp_address(PM.list_address, "Ana.Souza@Example.org")
    raw = mail(
        "This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you...",
        f"Delivered-To: {verp}\nTo: {verp}\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
        "Return-Path: <>\nSubject: Undelivered Mail Returned to Sender\n",
    )
    parsed = parse(raw)
    assert parsed.community_slug == "pm-practice"
    assert parsed.verp_recipient == "ana.souza@example.org"  # addresses compare lowercased
    assert parsed.reply_token is None
    assert parsed.verdict.verdict is MailClass.BOUNCE


def test_human_looking_mail_to_a_return_path_is_still_a_bounce() -> None:
    verp = verp_address(PM.list_address, "ana@example.org")
    parsed = parse(mail("Your message could not be delivered", f"Delivered-To: {verp}\n"))
    assert parsed.verdict.verdict is MailClass.BOUNCE
    assert "ana@example.org" in parsed.verdict.reason


def test_dsn_report_is_a_bounce() -> None:
    body = """--b
Content-Type: text/plain

Delivery failed.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Final-Recipient: rfc822; ana@example.org
Action: failed
Status: 5.1.1
--b--
"""
    raw = mail(body, 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n')
    parsed = parse(raw)
    assert parsed.verdict.verdict is MailClass.BOUNCE
    assert [a.content_type for a in parsed.message.attachments] == ["message/delivery-status"]


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ("Auto-Submitted: auto-replied\n", MailClass.AUTO_REPLY),
        ("Subject: =?utf-8?q?Automatic_reply=3A_Kick-off?=\n", MailClass.AUTO_REPLY),
        ("Precedence: bulk\n", MailClass.AUTO_REPLY),
        ("X-Loop: pm-practice@lists.example.com\n", MailClass.LOOP),
        ("List-Id: Risk Circle <risk.lists.example.com>\n", MailClass.LOOP),
        (f"Message-ID: <{post_message_id(5, 'lists.example.com')}>\n", MailClass.LOOP),
        ("", MailClass.RELAY),
    ],
)
def test_loop_guard_verdicts_are_surfaced(headers: str, verdict: MailClass) -> None:
    assert parse(mail("Hello", headers)).verdict.verdict is verdict


def test_own_message_ids_of_a_separate_message_id_domain() -> None:
    from bridge.email.addresses import ListIdentity
    from bridge.email.inbound import parse_list_mail

    identity = ListIdentity("pm-practice", PM.list_address, "pm", message_id_domain="icop.example.com")
    raw = mail("Hello", f"Message-ID: <{post_message_id(5, 'icop.example.com')}>\n")
    assert parse_list_mail(raw, [identity], now=NOW).verdict.verdict is MailClass.LOOP


def test_origin_key_is_the_message_id() -> None:
    parsed = parse(mail("Hello", "Message-ID:\n  <CAF=abc+def@mail.gmail.com>\n"))
    assert parsed.message.origin_key == "CAF=abc+def@mail.gmail.com"
    assert parsed.message.email_message_id == "CAF=abc+def@mail.gmail.com"


def test_without_message_id_the_origin_key_is_a_stable_hash() -> None:
    raw = mail("Hello", base="From: ana@example.org\nTo: pm-practice@lists.example.com\nSubject: x\n")
    first, again = parse(raw), parse(raw)
    assert first.message.origin_key == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert again.message.origin_key == first.message.origin_key
    assert first.message.email_message_id is None
    assert parse(raw + b"more").message.origin_key != first.message.origin_key


def test_threading_headers() -> None:
    parsed = parse(
        mail(
            "Hello",
            "In-Reply-To: <b@x> (Bo's message of Mon)\n"
            "References: <root@x>\n <a@x>\n\t<b@x>\nReferences: <c@x>\n",
        )
    )
    assert parsed.message.refs.in_reply_to == "b@x"
    assert parsed.message.refs.references == ("root@x", "a@x", "b@x", "c@x")


def test_date_and_its_fallback() -> None:
    parsed = parse(mail("Hello"))
    assert parsed.message.sent_at is not None
    assert parsed.message.sent_at.isoformat() == "2024-10-01T10:00:00+02:00"
    garbled = parse(mail("Hello", "Date: the day after tomorrow\n"))
    assert garbled.message.sent_at == NOW
    assert any("Date" in defect for defect in garbled.defects)
    zoneless = parse(mail("Hello", "Date: Tue, 01 Oct 2024 10:00:00 -0000\n"))
    assert zoneless.message.sent_at is not None
    assert zoneless.message.sent_at.utcoffset() is not None


def test_ten_thousand_recipients() -> None:
    crowd = ",\n ".join(f"Member {n} <member{n}@example.org>" for n in range(10_000))
    raw = mail("Hello", f"Delivered-To: lists@example.com\nTo: {crowd},\n pm-practice@lists.example.com\n")
    parsed = parse(raw)
    assert parsed.community_slug == "pm-practice"
    assert parsed.reason == "to names pm-practice@lists.example.com"
    assert parsed.verdict.verdict is MailClass.RELAY
    assert parsed.message.text == "Hello"


def test_a_missing_subject_is_none_and_an_empty_one_is_empty() -> None:
    assert (
        parse(
            mail("Hello", base="From: ana@example.org\nTo: pm-practice@lists.example.com\n")
        ).message.subject
        is None
    )
    assert parse(mail("Hello", "Subject:\n")).message.subject == ""
