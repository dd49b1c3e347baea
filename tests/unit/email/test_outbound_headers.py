"""The headers of list mail: DMARC-safe From, list headers, threading, and a clean wire form."""

import re
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from bridge.core.loop_guard import MailClass
from bridge.email.header_text import header_text
from bridge.email.inbound import parse_list_mail
from bridge.email.outbound import as_smtp_bytes, compose_post_mail, thread_references
from tests.unit.email.compose_samples import (
    ARCHIVE_URL,
    PARENT_ID,
    POST_ID,
    RENDERER,
    REPLY_TO,
    ROOT_ID,
    UNSUBSCRIBE_MAILTO,
    UNSUBSCRIBE_URL,
    post,
)
from tests.unit.email.samples import NOW, PM


def wire(**changes: object) -> EmailMessage:
    """Compose, serialise for SMTP and read back as a receiver would."""
    raw = as_smtp_bytes(compose_post_mail(post(**changes), renderer=RENDERER))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_every_list_header_is_set() -> None:
    mail = wire()
    assert mail["From"] == "Ana Souza via Project Management Practice <pm-practice@lists.example.com>"
    assert mail["Reply-To"] == REPLY_TO
    assert mail["Sender"] == "pm-practice@lists.example.com"
    assert mail["To"] == "Project Management Practice <pm-practice@lists.example.com>"
    assert mail["Subject"] == "Re: [pm] Kick-off notes"
    assert mail["Date"] == "Tue, 01 Oct 2024 12:30:00 +0000"
    assert mail["Message-ID"] == f"<{POST_ID}>"
    assert mail["In-Reply-To"] == f"<{PARENT_ID}>"
    assert mail["References"] == f"<{ROOT_ID}> <{PARENT_ID}>"
    assert mail["List-Id"] == "Project Management Practice <pm-practice.lists.example.com>"
    assert mail["List-Post"] == "<mailto:pm-practice@lists.example.com>"
    assert mail["List-Archive"] == f"<{ARCHIVE_URL}>"
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>, <{UNSUBSCRIBE_MAILTO}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Precedence"] == "list"
    assert mail["X-Loop"] == "pm-practice@lists.example.com"
    assert mail["MIME-Version"] == "1.0"
    assert "Auto-Submitted" not in mail  # a person wrote this; responders may answer it
    assert "bo@example.org" not in str(mail)  # the member is only in the envelope


def test_from_is_the_list_whatever_the_author() -> None:
    mail = wire(author_name='Souza, Ana "PM" <ana@example.org>')
    (address,) = mail["From"].addresses
    assert address.addr_spec == "pm-practice@lists.example.com"
    assert address.display_name == 'Souza, Ana "PM" <ana@example.org> via Project Management Practice'


def test_non_ascii_names_are_rfc_2047_encoded() -> None:
    raw = as_smtp_bytes(compose_post_mail(post(author_name="João Gonçalves 山田"), renderer=RENDERER))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["From"].addresses[0].display_name == "João Gonçalves 山田 via Project Management Practice"


def test_new_thread_subject_and_no_threading_headers() -> None:
    mail = wire(is_reply=False, in_reply_to=None, references=(), subject="Re: [pm]  Kick-off   notes")
    assert mail["Subject"] == "[pm] Kick-off notes"
    assert "In-Reply-To" not in mail
    assert "References" not in mail


def test_reply_subject_is_stable_at_any_depth() -> None:
    assert wire(subject="Re: AW: [pm] Re: Kick-off notes")["Subject"] == "Re: [pm] Kick-off notes"


def test_references_keep_the_root_and_the_last_twenty() -> None:
    chain = tuple(f"id{n}.{'x' * 60}@mail.example.org" for n in range(40))
    mail = wire(references=chain, in_reply_to="parent@mail.example.org")
    ids = re.findall(r"<([^<>]+)>", mail["References"])
    assert len(ids) == 20
    assert ids[0] == chain[0]
    assert ids[-1] == "parent@mail.example.org"
    assert ids[1:-1] == list(chain[-18:])


def test_long_ids_and_urls_are_never_folded_inside() -> None:
    long_id = "CAH" + "a1b2c3" * 30 + "@mail.gmail.com"
    long_url = "https://icop.example.com/unsubscribe/" + "t" * 300
    raw = as_smtp_bytes(
        compose_post_mail(
            post(in_reply_to=long_id, references=(ROOT_ID, long_id), unsubscribe_url=long_url),
            renderer=RENDERER,
        )
    )
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert f"<{long_id}>" in head
    assert f"<{long_url}>" in head
    assert "=?" not in head
    assert all(len(line) <= 998 for line in head.split("\r\n"))


def test_unusable_reference_ids_are_dropped() -> None:
    assert thread_references(("<root@x>", "no-at-sign", "ünïcode@x", "root@x"), "<p@x> (comment)") == (
        "root@x",
        "p@x",
    )


def test_a_bad_message_id_is_refused() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        compose_post_mail(post(message_id="not an id"), renderer=RENDERER)


def test_wire_form_is_crlf_with_short_lines() -> None:
    text = "A" * 5000 + "\n" + "ação " * 600
    raw = as_smtp_bytes(compose_post_mail(post(text=text), renderer=RENDERER))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()


def test_serialising_with_policy_smtp_directly_gives_the_same_bytes() -> None:
    message = compose_post_mail(post(), renderer=RENDERER)
    assert message.as_bytes(policy=policy.SMTP) == as_smtp_bytes(message)


def test_archive_link_is_optional() -> None:
    mail = wire(archive_url=None)
    assert "List-Archive" not in mail
    assert "Archived-At" not in mail
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Thread:" not in body.get_content()


def test_archive_headers_name_the_community_page_and_the_thread_page() -> None:
    """RFC 2369 List-Archive is the list's archive; RFC 5064 Archived-At is this message's thread."""
    mail = wire(
        archive_url="https://icop.example.com/c/pm-practice/",
        archived_at="https://icop.example.com/c/pm-practice/t/7",
    )
    assert mail["List-Archive"] == "<https://icop.example.com/c/pm-practice/>"
    assert mail["Archived-At"] == "<https://icop.example.com/c/pm-practice/t/7>"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Thread: https://icop.example.com/c/pm-practice/t/7" in body.get_content()


def test_non_ascii_urls_are_percent_encoded() -> None:
    mail = wire(archive_url="https://icop.example.com/gestão/threads/7")
    assert mail["List-Archive"] == "<https://icop.example.com/gest%C3%A3o/threads/7>"


@pytest.mark.parametrize(
    ("name", "list_id"),
    [
        ("Gestão de Projetos", "Gestão de Projetos <pm-practice.lists.example.com>"),
        ("Risk, Issues & Co.", '"Risk, Issues & Co." <pm-practice.lists.example.com>'),
        ("", "pm-practice <pm-practice.lists.example.com>"),
    ],
)
def test_community_names_in_from_and_list_id(name: str, list_id: str) -> None:
    raw = as_smtp_bytes(compose_post_mail(post(community=replace(PM, name=name)), renderer=RENDERER))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    mail = message_from_bytes(raw, policy=policy.default)
    assert header_text(str(mail["List-Id"])) == list_id
    shown = name or "pm-practice"
    assert mail["From"].addresses[0].display_name == f"Ana Souza via {shown}"
    parsed = parse_list_mail(raw, [replace(PM, name=name)], now=NOW)
    assert parsed.verdict.verdict is MailClass.LOOP


def test_list_mail_names_the_request_addresses_for_subscribing_and_help() -> None:
    """RFC 2369: List-Subscribe and List-Help point at the list's request addresses."""
    message = compose_post_mail(post())
    assert message["List-Subscribe"] == "<mailto:pm-practice+subscribe@lists.example.com>"
    assert message["List-Help"] == "<mailto:pm-practice+request@lists.example.com?subject=help>"
