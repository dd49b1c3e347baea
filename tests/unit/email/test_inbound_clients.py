"""Replies as real clients send them: the new words reach the room, the quoted history stays behind."""

import base64
import quopri

from tests.unit.email.samples import mail, mime, parse

GMAIL = """MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"

Agreed, let's meet on Thursday.

On Mon, 30 Sept 2024 at 18:02, Bo Li via Project Management Practice <
pm-practice+tok@lists.example.com> wrote:

> Shall we meet this week?
>
> --
> Bo

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Agreed, let&#39;s meet on <b>Thursday</b>.</div><br><div class="gmail_quote"><div \
dir="ltr" class="gmail_attr">On Mon, 30 Sept 2024 at 18:02, Bo Li via Project Management Practice \
&lt;<a href="mailto:pm-practice+tok@lists.example.com">pm-practice+tok@lists.example.com</a>&gt; \
wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">\
<div dir="ltr">Shall we meet this week?</div></blockquote></div>

--000000000000a1b2c3--
"""


def test_gmail_reply_keeps_the_new_words_only() -> None:
    parsed = parse(mime(GMAIL.replace("\\\n", "")))
    message = parsed.message
    assert message.text == "Agreed, let's meet on Thursday."
    assert message.html is not None
    assert "<b>Thursday</b>" in message.html
    assert "Shall we meet" not in message.html
    assert message.full_text is not None
    assert "> Shall we meet this week?" in message.full_text


OUTLOOK_TEXT = (
    "I can do Thursday, 10:00 – see you there.\n"
    "\n"
    "________________________________\n"
    "From: Bo Li <pm-practice@lists.example.com>\n"
    "Sent: Monday, September 30, 2024 6:02 PM\n"
    "To: Project Management Practice <pm-practice@lists.example.com>\n"
    "Subject: [pm] Meeting this week\n"
    "\n"
    "Shall we meet this week?\n"
)
OUTLOOK_HTML = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=Windows-1252"></head>'
    "<body><div>I can do Thursday, 10:00 – see you there.</div>"
    '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" color="#000000">'
    "<b>From:</b> Bo Li &lt;pm-practice@lists.example.com&gt;<br><b>Sent:</b> Monday, September 30, "
    "2024 6:02 PM<br><b>Subject:</b> [pm] Meeting this week</font><div>&nbsp;</div></div>"
    "<div>Shall we meet this week?</div></body></html>"
)


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.encode("cp1252"))


def test_outlook_reply_in_windows_1252_quoted_printable() -> None:
    body = (
        b'Content-Type: multipart/alternative; boundary="_000_DB9P"\n'
        b"MIME-Version: 1.0\n\n"
        b"--_000_DB9P\n"
        b'Content-Type: text/plain; charset="Windows-1252"\n'
        b"Content-Transfer-Encoding: quoted-printable\n\n" + _qp(OUTLOOK_TEXT) + b"\n"
        b"--_000_DB9P\n"
        b'Content-Type: text/html; charset="Windows-1252"\n'
        b"Content-Transfer-Encoding: quoted-printable\n\n" + _qp(OUTLOOK_HTML) + b"\n"
        b"--_000_DB9P--\n"
    )
    parsed = parse(mime(body))
    assert parsed.message.text == "I can do Thursday, 10:00 – see you there."
    assert parsed.message.html is not None
    assert "see you there" in parsed.message.html
    assert "Shall we meet" not in parsed.message.html
    assert "divRplyFwdMsg" not in parsed.message.html


APPLE = """Content-Type: text/plain;
\tcharset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (1.0)

Thursday works for me. I=E2=80=99ll bring the risk register.

Sent from my iPhone

> On 30 Sep 2024, at 18:02, Bo Li <pm-practice@lists.example.com> wrote:
>=20
> =EF=BB=BFShall we meet this week?
"""


def test_apple_mail_reply_from_a_phone() -> None:
    parsed = parse(mime(APPLE))
    assert parsed.message.text == "Thursday works for me. I’ll bring the risk register."
    assert parsed.message.html == "<p>Thursday works for me. I’ll bring the risk register.</p>"


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_apple_mail_text_split_around_an_inline_picture() -> None:
    picture = base64.encodebytes(PNG).decode()
    body = f"""--Apple-Mail=_1
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Here is the board:

--Apple-Mail=_1
Content-Disposition: inline; filename=board.png
Content-Type: image/png; x-unix-mode=0644; name="board.png"
Content-Transfer-Encoding: base64
Content-Id: <B0ARD@apple.example>

{picture}
--Apple-Mail=_1
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

and the notes below.
--Apple-Mail=_1--
"""
    parsed = parse(mail(body, 'Content-Type: multipart/mixed; boundary="Apple-Mail=_1"\nMIME-Version: 1.0\n'))
    message = parsed.message
    assert message.text == "Here is the board:\n\nand the notes below."
    assert [(a.filename, a.content_type, a.data) for a in message.attachments] == [
        ("board.png", "image/png", PNG)
    ]
    assert message.attachments[0].size == len(PNG)
    assert dict(parsed.content_ids) == {"B0ARD@apple.example": 0}


THUNDERBIRD = """Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

Yes, Thursday is fine. This is a long line that Thunderbird wraps with a\x20
trailing space because of format=flowed.

On 30/09/2024 18:02, Bo Li wrote:
> Shall we meet this\x20
> week?

--\x20
Ana Souza
PMO lead
"""


def test_thunderbird_flowed_reply_with_a_signature() -> None:
    parsed = parse(mime(THUNDERBIRD))
    assert parsed.message.text == (
        "Yes, Thursday is fine. This is a long line that Thunderbird wraps with a "
        "trailing space because of format=flowed."
    )
    assert parsed.message.full_text is not None
    assert "> Shall we meet this week?" in parsed.message.full_text
    assert "PMO lead" in parsed.message.full_text


def test_thunderbird_html_reply_drops_the_cite_prefix_and_quote() -> None:
    html = (
        "<html><body><p>Yes, <i>Thursday</i> is fine.</p>"
        '<div class="moz-cite-prefix">On 30/09/2024 18:02, Bo Li wrote:<br></div>'
        '<blockquote type="cite">Shall we meet this week?</blockquote>'
        '<pre class="moz-signature" cols="72">-- \nAna</pre></body></html>'
    )
    parsed = parse(mail(html, "Content-Type: text/html; charset=utf-8\n"))
    assert parsed.message.text == "Yes, Thursday is fine."
    assert parsed.message.html == "<p>Yes, <i>Thursday</i> is fine.</p>"
    assert parsed.message.full_text is not None
    assert "> Shall we meet this week?" in parsed.message.full_text


def test_html_only_mail_gets_a_plain_text_form() -> None:
    html = (
        "<p>Agenda for <b>Thursday</b>:</p><ul><li>scope</li><li>budget</li></ul>"
        '<p>Details: <a href="https://example.org/agenda">agenda</a></p>'
        '<img src="https://tracker.example/p.gif" width="1" height="1">'
        "<script>alert(1)</script>"
    )
    parsed = parse(mail(html, "Content-Type: text/html; charset=utf-8\nMIME-Version: 1.0\n"))
    message = parsed.message
    assert message.text == (
        "Agenda for Thursday:\n\n- scope\n- budget\n\nDetails: agenda <https://example.org/agenda>"
    )
    assert message.html is not None
    assert "<script" not in message.html
    assert "tracker.example" not in message.html
    assert "<li>scope</li>" in message.html


def test_plain_markdown_becomes_html() -> None:
    parsed = parse(mail("Plan:\n\n- **scope** first\n- then `budget`\n\nSee https://example.org\n"))
    html = parsed.message.html
    assert html is not None
    assert "<strong>scope</strong>" in html
    assert "<code>budget</code>" in html
    assert '<a href="https://example.org"' in html
    assert parsed.message.text.startswith("Plan:\n\n- **scope** first")


def test_interleaved_answers_are_kept() -> None:
    body = "> Can you do Thursday?\nYes.\n\n> And bring the register?\nOf course.\n"
    parsed = parse(mail(body))
    assert parsed.message.text == body.strip("\n")


def test_a_quote_only_mail_is_shown_rather_than_lost() -> None:
    body = "On Mon, Bo wrote:\n> Shall we meet?\n"
    parsed = parse(mail(body))
    assert "Shall we meet?" in parsed.message.text


def test_signed_mail_drops_the_signature_part() -> None:
    body = """--sig
Content-Type: text/plain; charset=utf-8

Signed words.
--sig
Content-Type: application/pgp-signature; name="signature.asc"

-----BEGIN PGP SIGNATURE-----
abc
-----END PGP SIGNATURE-----
--sig--
"""
    parsed = parse(
        mail(body, 'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="sig"\n')
    )
    assert parsed.message.text == "Signed words."
    assert parsed.message.attachments == ()


def test_outlook_related_inside_alternative_with_a_calendar() -> None:
    picture = base64.encodebytes(PNG).decode()
    body = f"""--alt
Content-Type: text/plain; charset=utf-8

Invitation with a logo.
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Invitation with a <img src="cid:logo@x" alt="logo">.</p>
--rel
Content-Type: image/png; name="image001.png"
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

{picture}
--rel--
--alt
Content-Type: text/calendar; charset=utf-8; method=REQUEST

BEGIN:VCALENDAR
END:VCALENDAR
--alt--
"""
    parsed = parse(mail(body, 'Content-Type: multipart/alternative; boundary="alt"\n'))
    message = parsed.message
    assert message.text == "Invitation with a logo."
    assert message.html is not None
    assert 'src="cid:logo@x"' in message.html
    assert [a.content_type for a in message.attachments] == ["image/png", "text/calendar"]
    assert [a.filename for a in message.attachments] == ["image001.png", "attachment-2.ics"]
    assert dict(parsed.content_ids) == {"logo@x": 0}


def test_forwarded_message_is_an_attachment() -> None:
    body = """--f
Content-Type: text/plain

See below.
--f
Content-Type: message/rfc822

From: someone@example.net
Subject: The original

Original words.
--f--
"""
    parsed = parse(mail(body, 'Content-Type: multipart/mixed; boundary="f"\n'))
    assert parsed.message.text == "See below."
    (forwarded,) = parsed.message.attachments
    assert forwarded.filename == "The original.eml"
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.data is not None
    assert b"Original words." in forwarded.data


def test_an_empty_plain_alternative_gives_way_to_the_html() -> None:
    body = """--a
Content-Type: text/plain; charset=utf-8


--a
Content-Type: text/html; charset=utf-8

<p>Only the <b>HTML</b> has words.</p>
--a--
"""
    parsed = parse(mail(body, 'Content-Type: multipart/alternative; boundary="a"\n'))
    assert parsed.message.text == "Only the HTML has words."
    assert parsed.message.html == "<p>Only the <b>HTML</b> has words.</p>"


def test_an_html_form_without_words_gives_way_to_the_text() -> None:
    body = """--a
Content-Type: text/plain; charset=utf-8

The words are here.
--a
Content-Type: text/html; charset=utf-8

<html><head><style>p {}</style></head><body><script>x()</script></body></html>
--a--
"""
    parsed = parse(mail(body, 'Content-Type: multipart/alternative; boundary="a"\n'))
    assert parsed.message.text == "The words are here."
    assert parsed.message.html == "<p>The words are here.</p>"
