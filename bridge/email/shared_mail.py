"""One post's list mail composed once, each member's copy made from it by changing only what is theirs.

Every member gets their own mail of a post (a reply address signed for them, their unsubscribe link,
the time it was sent), yet rendering the templates, sanitising the HTML, building the MIME tree and
folding two dozen headers is the same work for each of them and costs more than sending the mail. So
the post's mail is composed and serialised once with unguessable placeholders in the personal places;
a member's copy is those bytes with each personal line swapped for the member's line, folded and
encoded exactly as a mail composed for that member alone would be:

- a header whose value differs (``Reply-To``, ``List-Unsubscribe``, ``Date``) is folded anew;
- a body line holding the unsubscribe link is quoted-printable encoded anew. Quoted-printable encodes
  each line on its own, so the other lines' bytes are the same whoever the mail is for.

Whatever does not fit this (a member whose copy would differ in a shared field, a placeholder not found
exactly once) is composed in full instead: the shortcut never changes what a member receives.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from email import quoprimime
from email.headerregistry import Address
from email.policy import SMTP
from functools import lru_cache

from markupsafe import escape

from bridge.email.header_fold import COMPOSE_POLICY
from bridge.email.outbound import (
    OutgoingPost,
    as_smtp_bytes,
    ascii_url,
    compose_post_body,
    compose_post_mail,
    list_headers,
    via,
)
from bridge.rendering import Renderer

CRLF = b"\r\n"


class SharedPostMail:
    """The list mail of one post for every member; ``for_member`` gives one member's copy as the bytes
    ``as_smtp_bytes(compose_post_mail(mail))`` would be (up to the MIME boundary, chosen once)."""

    def __init__(self, mail: OutgoingPost, *, renderer: Renderer | None = None) -> None:
        self.renderer = renderer
        mark = secrets.token_hex(12)
        self._link = f"https://unsubscribe.invalid/{mark}"  # survives URL quoting and HTML escaping
        self._template = replace(
            mail, reply_to=f"reply-{mark}@placeholder.invalid", unsubscribe_url=self._link
        )
        self._shared = _shared_part(self._template)
        self._from = via(mail.author_name, mail.community)
        self._headers = list_headers(self._template, self._from)
        # The list headers, then the MIME headers and body: the order the serialiser writes them in.
        body, text, html = compose_post_body(self._template, renderer=renderer)
        head = b"".join(_folded(name, value) for name, value in self._headers)
        self._bytes = head + as_smtp_bytes(body)
        self._text_lines = _lines_with(text, self._link)
        self._html_lines = _lines_with(html, self._link)

    def shares(self, mail: OutgoingPost) -> bool:
        """Whether ``mail`` differs from this post's mail only in what is personal."""
        return _shared_part(mail) == self._shared

    def for_member(self, mail: OutgoingPost) -> bytes:
        """``mail`` (this post, to one member) as it goes on the wire."""
        if not self.shares(mail):
            return as_smtp_bytes(compose_post_mail(mail, renderer=self.renderer))
        swaps: list[tuple[bytes, bytes]] = []
        for (name, ours), (_, theirs) in zip(self._headers, list_headers(mail, self._from), strict=True):
            if ours != theirs:
                swaps.append((CRLF + _folded(name, ours), CRLF + _folded(name, theirs)))
        link = ascii_url(mail.unsubscribe_url)
        for line in self._text_lines:
            swaps.append((_encoded(line), _encoded(line.replace(self._link, link))))
        html_link = str(escape(link))  # as the template's autoescape writes it
        for line in self._html_lines:
            swaps.append((_encoded(line), _encoded(line.replace(self._link, html_link))))
        result = self._bytes
        for old, new in swaps:
            if self._bytes.count(old) != 1:  # not where it must be: compose this one in full
                return as_smtp_bytes(compose_post_mail(mail, renderer=self.renderer))
            result = result.replace(old, new, 1)
        return result


def _shared_part(mail: OutgoingPost) -> OutgoingPost:
    return replace(mail, recipient="", reply_to="", unsubscribe_url="", date=None)


def _lines_with(content: str, needle: str) -> tuple[str, ...]:
    """The lines of a body that hold ``needle``, split where ``set_content`` splits them."""
    lines = (line.decode("utf-8") for line in content.encode("utf-8").splitlines())
    return tuple(line for line in lines if needle in line)


@lru_cache(maxsize=2048)
def _folded_value(name: str, value: str | tuple[str, str]) -> bytes:
    header_value = value if isinstance(value, str) else Address(value[0], addr_spec=value[1])
    return SMTP.fold_binary(name, COMPOSE_POLICY.header_factory(name, header_value))


def _folded(name: str, value: str | Address) -> bytes:
    """A header as the serialiser writes it. Most are the same in many mails (the list's own headers,
    ``From`` for each author), so a folded value is remembered."""
    if isinstance(value, str):
        return _folded_value(name, value)
    return _folded_value(name, (value.display_name, value.addr_spec))


def _encoded(line: str) -> bytes:
    """One UTF-8 body line quoted-printable encoded as ``set_content`` does, anchored between line ends."""
    wire = quoprimime.body_encode(
        line.encode("utf-8").decode("latin-1"), COMPOSE_POLICY.max_line_length or 78, eol="\r\n"
    )
    return CRLF + wire.encode("ascii") + CRLF
