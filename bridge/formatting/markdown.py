"""Markdown typed in chat or mail to the HTML the other side shows.

People write ``**bold**``, lists and code fences in both places. CommonMark (with
strikethrough and tables) renders them; raw HTML in the source is shown as text, never
interpreted, and the result still goes through the one sanitiser. Line breaks are kept as
``<br>`` because in chat a new line is meant as one. Bare URLs become links here, since
markdown-it's own linkifier needs a package the project does not carry.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from bridge.formatting.html_tree import (
    Element,
    Node,
    Text,
    parse_fragment,
    rewrite_text,
    serialize,
    splice_text,
)
from bridge.formatting.sanitize import sanitize_html
from bridge.formatting.urls import find_bare_urls

NOT_LINKIFIED_INSIDE = frozenset({"a", "code", "pre"})
_PLAIN_BLOCK_TOKENS = frozenset({"paragraph_open", "paragraph_close", "inline"})
_PLAIN_INLINE_TOKENS = frozenset({"text", "softbreak", "hardbreak"})
_WHITESPACE = re.compile(r"\s+")

_RENDERER = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["strikethrough", "table"])


# Anything that could make Markdown, the linkifier or the sanitiser do more than wrap lines in paragraphs:
# inline and block syntax characters, entities, control characters and every space but the plain one
# (Markdown trims Unicode spaces), URLs, indented code,
# and the line starts of lists, setext headings and thematic breaks.
_NOT_PLAIN = re.compile(
    r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\xa0\u2028\u2029\ud800-\udfff`*_\[\]<>&\\~|#!]"
    r"|[^\S \n]|https?://|^ {4}|^ *(?:[-+=]|\d{1,9}[.)])",
    re.IGNORECASE | re.MULTILINE,
)


def markdown_to_html(text: str) -> str:
    """Render CommonMark ``text`` as sanitised HTML; plain text becomes paragraphs."""
    plain = _plain_paragraphs(text)
    if plain is not None:
        return plain
    rendered = _RENDERER.render(text)
    tree = parse_fragment(rendered)
    rewrite_text(tree, _link_bare_urls, NOT_LINKIFIED_INSIDE)
    return sanitize_html(serialize(tree)).strip()


def _plain_paragraphs(text: str) -> str | None:
    """The HTML the full path gives for text with no Markdown in it, without running it; None when the
    text has anything the full path might treat differently.

    Most mail is such text, and rendering it through markdown-it, the HTML tree and the sanitiser costs
    a millisecond or more per mail: too much for an archive import of a million. A test compares both
    paths on many texts, so they cannot drift apart.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _NOT_PLAIN.search(text):
        return None
    paragraphs: list[list[str]] = [[]]
    for line in text.split("\n"):
        words = line.strip(" ")
        if words:
            paragraphs[-1].append(words)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n".join("<p>" + "<br>\n".join(lines) + "</p>" for lines in paragraphs if lines)


def looks_like_markdown(text: str) -> bool:
    """True when rendering ``text`` as Markdown would change more than line breaks.

    Lets a sender pass plain messages on as plain text and keep HTML for real formatting.
    """
    for token in _RENDERER.parse(text):
        if token.type not in _PLAIN_BLOCK_TOKENS:
            return True
        if token.type != "inline":
            continue
        children = token.children or []
        if any(child.type not in _PLAIN_INLINE_TOKENS for child in children):
            return True
        shown = "".join(child.content for child in children if child.type == "text")
        if _WHITESPACE.sub("", shown) != _WHITESPACE.sub("", token.content):
            return True  # escapes or entities were interpreted
    return False


def _link_bare_urls(text: str) -> list[Node] | None:
    return splice_text(text, ((start, end, _link(text[start:end])) for start, end in find_bare_urls(text)))


def _link(url: str) -> Element:
    link = Element("a", {"href": url})
    link.append(Text(url))
    return link
