"""Quoted history and signatures trimmed from mail replies, in text and in HTML."""

import time

import pytest

from bridge.formatting.html_text import html_to_text
from bridge.formatting.quotes import strip_quoted_html, strip_quoted_text
from tests.unit.formatting import reply_samples as samples


@pytest.mark.parametrize("reply", samples.TEXT_REPLIES, ids=lambda r: r.client)
def test_text_replies_keep_only_the_new_text(reply: samples.Reply) -> None:
    assert strip_quoted_text(reply.body) == reply.new_text


@pytest.mark.parametrize("reply", samples.UNQUOTED_HISTORY_REPLIES, ids=lambda r: r.client)
def test_history_without_quote_marks_is_cut_at_its_attribution(reply: samples.Reply) -> None:
    assert strip_quoted_text(reply.body) == reply.new_text


def test_a_sentence_that_only_sounds_like_an_attribution_stays() -> None:
    body = "On Monday the team wrote:\nthree ideas, all good.\n"
    assert strip_quoted_text(body) == body.strip("\n")


def test_many_worn_separators_are_handled_in_linear_time() -> None:
    started = time.perf_counter()
    stripped = strip_quoted_text("Reply\n" + "--\n" * 5_000)
    assert time.perf_counter() - started < 1.0
    assert stripped.startswith("Reply\n--")


def test_interleaved_text_reply_keeps_quotes_followed_by_answers() -> None:
    assert strip_quoted_text(samples.INTERLEAVED_TEXT) == samples.INTERLEAVED_TEXT_NEW


@pytest.mark.parametrize(
    "body",
    [
        "> only a quote\n> nothing new\n",
        "On Tue, 3 Mar 2026 at 10:00, Ana <ana@example.org> wrote:\n> forwarded as is\n",
        "-----Original Message-----\nFrom: Ana\nSent: today\nSubject: x\n\ntext",
        "-- \nJust a signature",
        "",
        "\n\n",
    ],
)
def test_a_reply_with_nothing_new_is_returned_unchanged(body: str) -> None:
    assert strip_quoted_text(body) == body


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        (
            "Line one\n-- not a signature, a dash in text\nLine three",
            "Line one\n-- not a signature, a dash in text\nLine three",
        ),
        ("Reply\n--\nAna\n+353 1 234 5678", "Reply"),
        (
            "Reply\n--\n" + "\n".join(f"line {n}" for n in range(12)),
            "Reply\n--\n" + "\n".join(f"line {n}" for n in range(12)),
        ),
        ("From: the team, with thanks\nSee you", "From: the team, with thanks\nSee you"),
        ("Sent from my iPhone is a phrase\nin the middle", "Sent from my iPhone is a phrase\nin the middle"),
        ("Von meinem iPhone gesendet? No, typed here.", "Von meinem iPhone gesendet? No, typed here."),
        ("Answer\n\nVon meinem iPhone gesendet", "Answer"),
        ("Answer\n\nEnvoyé de mon iPad", "Answer"),
        ("Answer\n\nSent with Proton Mail secure email.", "Answer"),
    ],
)
def test_signatures_and_look_alikes(body: str, kept: str) -> None:
    assert strip_quoted_text(body) == kept


def test_forwarded_message_headers_are_not_trimmed() -> None:
    body = (
        "FYI, see below.\n\n---------- Forwarded message ---------\n"
        "From: Ana Souza <ana@example.org>\nDate: Tue, 3 Mar 2026 at 10:00\n"
        "Subject: Budget\nTo: Bo <bo@example.org>\n\nThe budget is approved.\n"
    )
    assert strip_quoted_text(body) == body.strip("\n")


def test_quote_at_the_end_after_own_words_is_dropped_with_its_attribution_only() -> None:
    body = "First point.\n\nSecond point.\n\nAna Souza <ana@example.org> wrote:\n> old\n"
    assert strip_quoted_text(body) == "First point.\n\nSecond point."


def test_windows_line_endings_come_back_as_newlines() -> None:
    assert strip_quoted_text("a\r\nb\r\n\r\n> q\r\n") == "a\nb"


# -- HTML ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "new_text"),
    [
        (samples.GMAIL_HTML, "Thursday works for me."),
        (samples.OUTLOOK_WEB_HTML, "Approved, go ahead."),
        (samples.OUTLOOK_DESKTOP_HTML, "Approved.\n\nChris"),
        (samples.APPLE_MAIL_HTML, "Sounds good, see you there."),
        (samples.APPLE_IOS_HTML, "Sounds good"),
        (samples.THUNDERBIRD_HTML, "I agree with the plan."),
    ],
    ids=["gmail", "outlook web", "outlook desktop", "apple mail", "apple ios", "thunderbird"],
)
def test_html_replies_keep_only_the_new_part(html: str, new_text: str) -> None:
    assert html_to_text(strip_quoted_html(html)) == new_text


def test_gmail_interleaved_reply_keeps_the_answers_and_drops_the_trailing_quote() -> None:
    stripped = html_to_text(strip_quoted_html(samples.GMAIL_INTERLEAVED_HTML))
    assert stripped == (
        "See inline.\n\nOn Tue, 3 Mar 2026 at 10:00, Ana Souza wrote:\n\n"
        "> Can you bring the slides?\n\nYes, both decks.\n\n"
        "> And the projector?\n\nNo, the room has one."
    )


def test_html_attribution_as_bare_text_goes_with_its_quote() -> None:
    html = "Reply<br><br>On Tue, 3 Mar 2026, Ana &lt;a@b.org&gt; wrote:<br><blockquote>old</blockquote>"
    assert strip_quoted_html(html) == "Reply"


def test_html_signature_separator_line_cuts_the_rest() -> None:
    html = "<div>Reply</div><div>--&nbsp;<br>Bo Chen<br>PMO</div>"
    assert html_to_text(strip_quoted_html(html)) == "Reply"


def test_html_outlook_signature_block_is_removed() -> None:
    html = '<div>Reply</div><div id="Signature"><p>Chris | PMO</p></div>'
    assert strip_quoted_html(html) == "<div>Reply</div>"


def test_quoted_signature_markers_inside_an_interleaved_quote_do_not_cut_answers() -> None:
    html = (
        '<blockquote type="cite">question<div class="gmail_signature">Ana</div></blockquote><p>my answer</p>'
    )
    assert html_to_text(strip_quoted_html(html)) == "> question\n> Ana\n\nmy answer"


@pytest.mark.parametrize(
    "html",
    [
        '<blockquote type="cite">only quoted</blockquote>',
        '<div id="divRplyFwdMsg"><b>From:</b> Ana</div><div>old</div>',
        "",
        "<div><br></div>",
    ],
)
def test_html_with_nothing_new_is_returned_unchanged(html: str) -> None:
    assert strip_quoted_html(html) == html


def test_html_forward_keeps_the_forwarded_message() -> None:
    html = (
        '<div>FYI</div><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <b>Ana</b><br>"
        "Date: Tue, 3 Mar 2026<br>Subject: Budget<br>To: Bo<br></div><br><br>"
        "<div>The budget is approved.</div></div>"
    )
    assert "The budget is approved." in html_to_text(strip_quoted_html(html))


def test_html_trimming_never_raises_on_garbage() -> None:
    for garbage in ["<blockquote>" * 500 + "x", "<div id=appendonsend>", "</blockquote>text", "<<>>"]:
        assert isinstance(strip_quoted_html(garbage), str)
