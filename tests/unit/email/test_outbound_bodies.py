"""Bodies of list mail: both forms from the templates, files attached or linked, hostile HTML neutralised,
and what a member receives parses back into the same message."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from bridge.core.loop_guard import MailClass
from bridge.core.message_ids import post_message_id
from bridge.core.model import Attachment, Channel
from bridge.email.inbound import parse_list_mail
from bridge.email.outbound import (
    BatchEntry,
    OutgoingBatch,
    OutgoingEdit,
    OutgoingNotice,
    as_smtp_bytes,
    compose_batch_mail,
    compose_edit_mail,
    compose_notice_mail,
    compose_post_mail,
)
from tests.unit.email.compose_samples import (
    ARCHIVE_URL,
    DOMAIN,
    PARENT_ID,
    PDF,
    POST_ID,
    RENDERER,
    REPLY_TO,
    ROOT_ID,
    UNSUBSCRIBE_MAILTO,
    UNSUBSCRIBE_URL,
    WHEN,
    post,
)
from tests.unit.email.samples import NOW, PM


def read(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(as_smtp_bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    mail = read(message)
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    return _lf(plain.get_content()), _lf(html.get_content())


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_post_is_multipart_alternative_with_author_line_and_footer() -> None:
    message = compose_post_mail(post(), renderer=RENDERER)
    assert message.get_content_type() == "multipart/alternative"
    text, html = bodies(message)
    assert text.startswith("Ana Souza wrote in the room:\n\nThursday at **10:00** works.\n")
    assert "Reply to this email to answer in the room." in text
    assert f"Thread: {ARCHIVE_URL}" in text
    assert f"Unsubscribe: {UNSUBSCRIBE_URL}" in text
    assert "\n-- \n" in text
    assert "<strong>Ana Souza</strong> wrote in the room:" in html
    assert "<p>Thursday at <strong>10:00</strong> works.</p>" in html  # Markdown made HTML
    assert "Reply to this email to answer in the room." in html
    assert f'href="{ARCHIVE_URL}"' in html
    assert 'href="https://icop.example.com/unsubscribe/pm-practice?t=AAAAAGcAAAA.sig"' in html


def test_mail_authors_are_not_said_to_be_in_the_room() -> None:
    text, html = bodies(compose_post_mail(post(author_channel=Channel.EMAIL), renderer=RENDERER))
    assert text.startswith("Ana Souza wrote:\n")
    assert "in the room:" not in html


def test_footer_lines_are_added() -> None:
    text, html = bodies(compose_post_mail(post(footer_lines=("Next meeting: 3 Oct",)), renderer=RENDERER))
    assert "Next meeting: 3 Oct" in text
    assert "Next meeting: 3 Oct" in html


def test_given_html_is_used_for_the_html_part() -> None:
    _, html = bodies(compose_post_mail(post(html="<p>Given <em>HTML</em></p>"), renderer=RENDERER))
    assert "<p>Given <em>HTML</em></p>" in html


def test_hostile_html_stays_neutralised() -> None:
    hostile = (
        '<p onclick="steal()">Hi</p><script>alert(1)</script><style>body{display:none}</style>'
        '<a href="javascript:alert(1)">click</a><img src="https://tracker.example/p.gif">'
        '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input></form>'
    )
    _, html = bodies(
        compose_post_mail(post(html=hostile, author_name="<script>alert(2)</script>"), renderer=RENDERER)
    )
    lowered = html.lower()
    for needle in ("<script", "onclick", "javascript:", "<iframe", "<form", "<input", "<style", "<img"):
        assert needle not in lowered
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<p>Hi</p>" in html


def test_attachments_make_it_mixed_and_large_files_become_links() -> None:
    video = Attachment("talk.mp4", "video/mp4", 48_000_000, url="https://media.example.com/talk.mp4")
    photo = Attachment("Relatório 📷.png", "image/png", 4, b"\x89PNG")
    message = compose_post_mail(post(attachments=(PDF, video, photo)), renderer=RENDERER)
    assert message.get_content_type() == "multipart/mixed"
    mail = read(message)
    files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in mail.iter_attachments()]
    assert files == [
        ("plan.pdf", "application/pdf", b"%PDF-1.4\n"),
        ("Relatório 📷.png", "image/png", b"\x89PNG"),
    ]
    text, html = bodies(message)
    assert (
        "[attached: plan.pdf]\n[attached: Relatório 📷.png]\n[file: talk.mp4, 48 MB] https://media.example.com/talk.mp4"
        in text
    )
    assert '<a href="https://media.example.com/talk.mp4">talk.mp4</a> (48 MB)' in html


def test_a_post_of_files_only() -> None:
    text, html = bodies(compose_post_mail(post(text="", attachments=(PDF,)), renderer=RENDERER))
    assert text.startswith("Ana Souza shared in the room:\n\n[attached: plan.pdf]\n\n-- \n")
    assert "icop-message" not in html


def test_round_trip_through_the_inbound_parser() -> None:
    original = post(attachments=(PDF,), text="Thursday at **10:00** works.\n\nSee the plan.")
    raw = as_smtp_bytes(compose_post_mail(original, renderer=RENDERER))
    parsed = parse_list_mail(raw, [PM], now=NOW)
    message = parsed.message
    assert parsed.community_slug == "pm-practice"
    assert parsed.verdict.verdict is MailClass.LOOP  # our own mail coming back is never relayed again
    assert message.email_message_id == POST_ID
    assert message.origin_key == POST_ID
    assert message.refs.in_reply_to == PARENT_ID
    assert message.refs.references == (ROOT_ID, PARENT_ID)
    assert message.subject == "Re: [pm] Kick-off notes"
    assert message.sender_address == "pm-practice@lists.example.com"
    assert message.sender_name == "Ana Souza via Project Management Practice"
    assert message.sent_at == WHEN
    # The footer is a signature and goes; the author line the template added stays.
    assert message.text == (
        "Ana Souza wrote in the room:\n\nThursday at **10:00** works.\n\nSee the plan."
        "\n\n[attached: plan.pdf]"
    )
    assert message.full_text is not None
    assert UNSUBSCRIBE_URL in message.full_text
    assert [(a.filename, a.content_type, a.data) for a in message.attachments] == [
        ("plan.pdf", "application/pdf", b"%PDF-1.4\n")
    ]


def test_edit_is_a_correction_in_the_same_thread() -> None:
    edit = OutgoingEdit(
        community=PM,
        recipient="bo@example.org",
        subject="Kick-off notes",
        is_reply=True,
        message_id=post_message_id(42, DOMAIN, kind="edit", revision=1),
        reply_to=REPLY_TO,
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        in_reply_to=POST_ID,
        references=(ROOT_ID, PARENT_ID),
        author_name="Ana Souza",
        author_channel=Channel.MATRIX,
        text="Thursday at **11:00** works.",
        date=WHEN,
    )
    mail = read(compose_edit_mail(edit, renderer=RENDERER))
    original = read(compose_post_mail(post(), renderer=RENDERER))
    assert mail["Subject"] == original["Subject"]
    assert mail["In-Reply-To"] == f"<{POST_ID}>"
    assert mail["References"] == f"<{ROOT_ID}> <{PARENT_ID}> <{POST_ID}>"
    assert mail["Message-ID"] != original["Message-ID"]
    assert mail["List-Id"] == original["List-Id"]
    plain = mail.get_body(("plain",))
    assert plain is not None
    assert _lf(plain.get_content()).startswith(
        "Ana Souza corrected their message in the room. It now reads:\n\nThursday at **11:00** works.\n"
    )


def _batch(**changes: Any) -> OutgoingBatch:
    start = datetime(2024, 10, 1, 13, 5, tzinfo=UTC)
    batch = OutgoingBatch(
        community=PM,
        recipient="bo@example.org",
        subject="Kick-off notes",
        is_reply=True,
        message_id=post_message_id(50, DOMAIN, kind="batch"),
        reply_to=REPLY_TO,
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        in_reply_to=PARENT_ID,
        references=(ROOT_ID,),
        archive_url=ARCHIVE_URL,
        time_zone="Europe/Dublin",
        entries=(
            BatchEntry("Ana Souza", start, "Shall we start?"),
            BatchEntry("Bo Li", start + timedelta(minutes=2), "Yes, **now**.", attachments=(PDF,)),
            BatchEntry(
                "Ana Souza",
                start + timedelta(minutes=3),
                "<b>Great</b>",
                html="<b>Great</b><script>x</script>",
            ),
        ),
    )
    return replace(batch, **changes)


def test_batch_folds_messages_with_author_and_local_time() -> None:
    message = compose_batch_mail(_batch(), renderer=RENDERER)
    mail = read(message)
    assert mail["From"].addresses[0].display_name == "Ana Souza and Bo Li via Project Management Practice"
    assert mail["Subject"] == "Re: [pm] Kick-off notes"
    text, html = bodies(message)
    assert text.startswith(
        "3 messages in the room:\n\nAna Souza, 14:05:\nShall we start?\n\nBo Li, 14:07:\nYes, **now**.\n"
    )
    assert "Ana Souza, 14:08:\n<b>Great</b>" in text
    assert "<strong>Bo Li</strong>, 14:07" in html
    assert "<p>Yes, <strong>now</strong>.</p>" in html
    assert "<b>Great</b>" in html
    assert "<script" not in html
    assert [part.get_filename() for part in mail.iter_attachments()] == ["plan.pdf"]


def test_batch_over_several_days_names_the_day() -> None:
    start = datetime(2024, 10, 1, 22, 0, tzinfo=UTC)
    entries = (BatchEntry("Ana", start, "late"), BatchEntry("Ana", start + timedelta(hours=3), "early"))
    text, _ = bodies(compose_batch_mail(_batch(entries=entries, time_zone="UTC"), renderer=RENDERER))
    assert "Ana, 22:00:\nlate" in text
    assert "Ana, Wed 2 Oct 01:00:\nearly" in text


def test_batch_with_many_authors() -> None:
    start = datetime(2024, 10, 1, 9, 0, tzinfo=UTC)
    entries = tuple(BatchEntry(name, start, "hi") for name in ("Ana", "Bo", "Cy", "Di"))
    mail = read(compose_batch_mail(_batch(entries=entries), renderer=RENDERER))
    assert mail["From"].addresses[0].display_name == "Ana and 3 others via Project Management Practice"


def test_notice_is_automatic_personal_mail() -> None:
    notice = OutgoingNotice(
        community=PM,
        recipient="convener@example.org",
        subject="2 messages held",
        title="Two messages wait for your decision",
        message_id=post_message_id(7, DOMAIN, kind="notice"),
        paragraphs=("People outside the roster wrote to the list.",),
        items=("stranger@example.net: Job offer", "newcomer@example.org: Hello <all>"),
        actions=(("Review them", "https://icop.example.com/pm-practice/held"),),
        date=WHEN,
    )
    message = compose_notice_mail(notice, renderer=RENDERER)
    mail = read(message)
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["To"] == "convener@example.org"
    assert mail["From"] == "Project Management Practice <pm-practice@lists.example.com>"
    assert mail["Subject"] == "[pm] 2 messages held"
    assert mail["X-Loop"] == "pm-practice@lists.example.com"
    assert "List-Unsubscribe" not in mail
    assert "Precedence" not in mail
    text, html = bodies(message)
    assert text.startswith(
        "Two messages wait for your decision\n\nPeople outside the roster wrote to the list.\n"
    )
    assert "- newcomer@example.org: Hello <all>" in text
    assert "Review them: https://icop.example.com/pm-practice/held" in text
    assert "Reply to this email" not in text
    assert "Hello &lt;all&gt;" in html
    assert '<a href="https://icop.example.com/pm-practice/held">Review them</a>' in html
