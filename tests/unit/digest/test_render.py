"""Digest mail: rendered once per issue, personalised per reader, composed as valid MIME under 100 KB."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy

from bridge.core.digest.facts import MeetingFact, PracticeFact, ReaderView
from bridge.core.digest.selection import rank_period
from bridge.core.model import Channel, PracticeState
from bridge.digest.compose import DigestEnvelope, compose_digest, compose_encoded, digest_message_id
from bridge.digest.render import MAX_HTML_BYTES, DigestIssue, DigestRenderer, PersonalLinks
from bridge.email.addresses import ListIdentity
from tests.unit.core.test_digest_selection import END, START, period, thread

COMMUNITY = ListIdentity("pm", "pm@lists.example.com", "pm", "Project Management Practice")
LINKS = PersonalLinks(
    unsubscribe="https://icop.example.com/unsubscribe/abc.def",
    manage="https://icop.example.com/c/pm/subscribe?manage=xyz",
    useful="https://icop.example.com/c/pm/feedback/yes.tok",
    not_useful="https://icop.example.com/c/pm/feedback/no.tok",
)


def issue(zone: str = "Europe/Dublin", **changes: object) -> DigestIssue:
    hostile = thread(3, "eve", ["ana"], tags=("risk",), text="<script>alert(1)</script> & " + "words " * 40)
    community = period(
        thread(1, "ana", ["bo", "cy"], tags=("estimation",), channels=(Channel.EMAIL, Channel.MATRIX)),
        thread(2, "bo", ["cy"], tags=("estimation", "risk")),
        hostile,
        practices=(PracticeFact(1, "Reference classes", "Size by analogy.", PracticeState.CONFIRMED, END),),
        meetings=(MeetingFact("Monthly call", END + timedelta(days=2, hours=7)),),
    )
    fields: dict[str, object] = {
        "slug": "pm",
        "name": "Project Management Practice",
        "subject_prefix": "pm",
        "mission": "Project leads compare how they plan, estimate and run reviews.",
        "base_url": "https://icop.example.com",
        "frequency": "weekly",
        "start": START,
        "end": END,
        "time_zone": zone,
        "content": rank_period(community).for_reader(ReaderView("person:99")),
    }
    fields.update(changes)
    return DigestIssue(**fields)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def test_one_render_serves_every_reader_of_an_issue_and_each_copy_is_personal() -> None:
    renderer = DigestRenderer()
    rendered = renderer.render(issue())
    assert renderer.render(issue()) is rendered  # the same issue: rendered once
    assert renderer.render(issue("Asia/Tokyo")) is not rendered  # dates shown in another zone
    assert renderer.renders == 2
    text, html = rendered.personal(name="Siobhán <O'Neill>", address="s@example.ie", links=LINKS)
    assert "Hello Siobhán <O'Neill>," in text
    assert "Hello Siobhán &lt;O&#x27;Neill&gt;," in html
    assert "ICOPx" not in text
    assert "ICOPx" not in html
    assert LINKS.unsubscribe in html
    assert LINKS.useful in text


def test_the_digest_page_is_mail_client_html_under_100_kb() -> None:
    rendered = DigestRenderer().render(issue())
    text, html = rendered.personal(name="Ana", address="ana@example.org", links=LINKS)
    assert len(html.encode()) < MAX_HTML_BYTES
    assert 'width="600"' in html
    assert 'role="presentation"' in html
    assert 'style="' in html  # CSS inlined
    assert "prefers-color-scheme: dark" in html  # dark-mode rules kept for the clients that read them
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in html  # what people wrote is text, never markup
    assert "<script>" not in html
    assert "display:none" in html.replace(" ", "")  # the preheader
    for section in ("Top discussions", "New practices", "People to know", "Upcoming meetings"):
        assert section in html
        assert section.upper() in text
    assert "Thread 1" in text
    assert "https://icop.example.com/c/pm/t/1" in text
    assert "Project leads compare how they plan" in text  # the mission line
    assert "Wed 11 March, 15:00 (GMT)" in text  # the meeting in the reader's zone
    assert rendered.subject == "[pm] Weekly digest: Thread 1 and 3 more"


def test_a_quiet_period_renders_a_short_note() -> None:
    quiet = issue(content=rank_period(period()).for_reader(ReaderView("x")))
    rendered = DigestRenderer().render(quiet)
    assert rendered.subject == "[pm] Weekly digest: a quiet week in Project Management Practice"
    assert "no new discussions since 2 March 2026" in rendered.text


def test_the_composed_mail_parses_and_carries_list_headers() -> None:
    rendered = DigestRenderer().render(issue())
    text, html = rendered.personal(name="Siobhán Murphy", address="siobhan@example.ie", links=LINKS)
    envelope = DigestEnvelope(
        community=COMMUNITY,
        recipient="siobhan@example.ie",
        recipient_name="Siobhán Murphy",
        subject=rendered.subject + " — ünïcode",
        message_id=digest_message_id(42, COMMUNITY.domain),
        date=datetime(2026, 3, 9, 8, tzinfo=UTC),
        unsubscribe_url=LINKS.unsubscribe,
        subscribe_url="https://icop.example.com/c/pm/subscribe",
        archive_url="https://icop.example.com/c/pm/",
    )
    raw = compose_digest(envelope, text, html)
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    assert str(message["Subject"]) == envelope.subject
    assert str(message["To"]) == "Siobhán Murphy <siobhan@example.ie>"
    assert message["From"].addresses[0].addr_spec == "pm+request@lists.example.com"
    assert message["Message-ID"] == f"<{envelope.message_id}>"
    assert message["List-Id"] == '"Project Management Practice" <pm.lists.example.com>'
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<{LINKS.unsubscribe}>" in message["List-Unsubscribe"]
    assert (message["Precedence"], message["Auto-Submitted"]) == ("bulk", "auto-generated")
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html.rstrip("\n")


def test_the_page_encoded_once_and_filled_per_reader_decodes_to_the_personal_page() -> None:
    """The fast path (``encoded``) and the plain one (``personal``) give the same mail, line for line,
    whatever the reader's name and links hold; every encoded line stays within 76 characters."""
    rendered = DigestRenderer().render(issue())
    for name in ("Ana", "Siobhán Ní Mhurchú-O'Brien <the=best> " * 3, ""):
        links = PersonalLinks(
            unsubscribe=LINKS.unsubscribe + "=" * 3,
            manage=LINKS.manage + "&x=" + "y" * 120,
            useful=LINKS.useful,
            not_useful=LINKS.not_useful,
        )
        text_qp, html_qp = rendered.encoded(name=name, address="s@example.ie", links=links)
        assert all(len(line) <= 76 for line in (text_qp + html_qp).split("\r\n"))
        envelope = DigestEnvelope(
            community=COMMUNITY,
            recipient="s@example.ie",
            recipient_name=name,
            subject=rendered.subject,
            message_id=digest_message_id(1, COMMUNITY.domain),
            date=datetime(2026, 3, 9, 8, tzinfo=UTC),
            unsubscribe_url=links.unsubscribe,
            subscribe_url="https://icop.example.com/c/pm/subscribe",
            archive_url="https://icop.example.com/c/pm/",
        )
        message = parse(compose_encoded(envelope, text_qp, html_qp))
        text, html = rendered.personal(name=" ".join(name.split()), address="s@example.ie", links=links)
        plain, rich = message.get_body(("plain",)), message.get_body(("html",))
        assert plain is not None
        assert rich is not None
        assert plain.get_content().replace("\r\n", "\n") == text
        assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html.rstrip("\n")
