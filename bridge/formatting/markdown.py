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


def markdown_to_html(text: str) -> str:
    """Render CommonMark ``text`` as sanitised HTML; plain text becomes paragraphs."""
    rendered = _RENDERER.render(text)
    tree = parse_fragment(rendered)
    rewrite_text(tree, _link_bare_urls, NOT_LINKIFIED_INSIDE)
    return sanitize_html(serialize(tree)).strip()


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
