"""Plain text shown as HTML in the archive: escaped, bare links made clickable, line breaks kept by CSS.

A chat message without formatting and the quoted history of a mail are plain text; rendering them as
Markdown would cost far more per post than a thread page of hundreds of posts can afford, and would
read meaning into characters the writer did not mean as markup. The quoted history a mail carried
below its new text (``full_text`` minus ``text``) is offered folded, the way mail clients do.
"""

from __future__ import annotations

from html import escape

from bridge.formatting.urls import find_bare_urls

LINK_REL = "noopener noreferrer nofollow ugc"


def plain_text_html(text: str) -> str:
    """``text`` escaped, with each bare http(s) URL as a link; line breaks are left to CSS
    (``white-space: pre-wrap``)."""
    parts: list[str] = []
    position = 0
    for start, end in find_bare_urls(text):
        url = text[start:end]
        parts.append(escape(text[position:start]))
        parts.append(f'<a href="{escape(url)}" rel="{LINK_REL}">{escape(url)}</a>')
        position = end
    parts.append(escape(text[position:]))
    return "".join(parts)


def quoted_history(text: str, full_text: str | None) -> str | None:
    """What the original message held beyond its new ``text`` (the quoted tail, the signature), or the
    whole original when the new text is not simply its beginning; None when nothing was cut."""
    if not full_text:
        return None
    new, full = _lines(text), _lines(full_text)
    if new == full:
        return None
    if full[: len(new)] == new:
        original = full_text.replace("\r\n", "\n").strip("\n").split("\n")
        rest = "\n".join(original[len(new) :]).strip("\n")
        return rest or None
    return full_text.strip("\n")


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip("\n").split("\n")]
    return lines if lines != [""] else []
