"""A linear-time HTML tokenizer for markup written by strangers.

The standard library's ``html.parser`` needs quadratic time on some malformed input (a
90 kB mail of ``<a <a <a …`` keeps it busy for minutes), which would let one message stall
the bridge. This tokenizer follows the HTML5 tokenization rules that decide what a reader
sees (tags end at ``>`` outside quotes, unclosed comments and tags run to the end, script
and style are raw text) and never looks at a character twice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from bridge.formatting.charset import scrub_surrogates

RAW_TEXT_TAGS = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "title", "textarea"}
)
"""Elements whose content is not markup: it runs to the matching end tag."""


@dataclass(frozen=True)
class StartTag:
    name: str
    attrs: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class EndTag:
    name: str


@dataclass(frozen=True)
class Characters:
    data: str


Token = StartTag | EndTag | Characters

_SPACES = re.compile(r"[\t\n\f\r /]*")
_TAG_NAME = re.compile(r"[^\t\n\f\r />]+")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_EQUALS = re.compile(r"[\t\n\f\r ]*=[\t\n\f\r ]*")
_UNQUOTED_VALUE = re.compile(r"[^\t\n\f\r >]*")
_COMMENT_END = re.compile(r"--!?>")
_ATTRIBUTE_REFERENCE = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;)")


def tokenize(markup: str) -> Iterator[Token]:
    """Tokens of ``markup`` in order; malformed input yields text, never an error."""
    text = scrub_surrogates(markup).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    size = len(text)
    text_start = position = 0
    while position < size:
        opening = text.find("<", position)
        if opening < 0:
            break
        token, position = _markup_at(text, opening)
        if isinstance(token, Characters):
            continue  # a "<" that starts nothing stays part of the text run
        if opening > text_start:
            yield Characters(html.unescape(text[text_start:opening]))
        if token is not None:
            yield token
        if isinstance(token, StartTag) and token.name in RAW_TEXT_TAGS:
            end = _raw_text_end(token.name).search(text, position)
            stop = end.start() if end else size
            if stop > position:
                yield Characters(text[position:stop])
            position = stop
        text_start = position
    if text_start < size:
        yield Characters(html.unescape(text[text_start:]))


def _markup_at(text: str, opening: int) -> tuple[Token | None, int]:
    """The token starting with the ``<`` at ``opening``, and where the next one starts."""
    after = opening + 1
    following = text[after : after + 1]
    if following.isascii() and following.isalpha():
        return _tag(text, after, StartTag)
    if following == "/":
        closing = text[after + 1 : after + 2]
        if closing.isascii() and closing.isalpha():
            return _tag(text, after + 1, EndTag)
        if closing == ">":
            return None, after + 2
        if not closing:
            return Characters("</"), len(text)
        return None, _after_bogus_comment(text, after)
    if text.startswith("!--", after):
        return None, _after_comment(text, after + 3)
    if following in {"!", "?"}:
        return None, _after_bogus_comment(text, after)
    return Characters("<"), after


def _tag(text: str, start: int, kind: type[StartTag] | type[EndTag]) -> tuple[Token | None, int]:
    name, position = _matched(_TAG_NAME, text, start)
    attrs: list[tuple[str, str]] = []
    size = len(text)
    while True:
        position = _matched(_SPACES, text, position)[1]
        if position >= size:
            return None, size  # end of input inside a tag: the tag is dropped
        if text[position] == ">":
            break
        attribute, position = _matched(_ATTRIBUTE_NAME, text, position)
        value = ""
        if _EQUALS.match(text, position):
            position = _matched(_EQUALS, text, position)[1]
            quote = text[position : position + 1]
            if quote in {'"', "'"}:
                closing = text.find(quote, position + 1)
                if closing < 0:
                    return None, size
                value = text[position + 1 : closing]
                position = closing + 1
            else:
                value, position = _matched(_UNQUOTED_VALUE, text, position)
        attrs.append((attribute.lower(), _unescape_attribute(value)))
    if kind is EndTag:
        return EndTag(name.lower()), position + 1
    return StartTag(name.lower(), attrs), position + 1


def _matched(pattern: re.Pattern[str], text: str, position: int) -> tuple[str, int]:
    """What ``pattern`` matches at ``position`` (maybe nothing) and where that ends."""
    match = pattern.match(text, position)
    return (match.group(), match.end()) if match else ("", position)


def _unescape_attribute(value: str) -> str:
    """Entities in attribute values; ``&sect=2`` in a URL stays as written, as in browsers."""
    if "&" not in value:
        return value
    return _ATTRIBUTE_REFERENCE.sub(lambda m: html.unescape(m.group()), value)


def _after_comment(text: str, body: int) -> int:
    if text.startswith(">", body):
        return body + 1
    if text.startswith("->", body):
        return body + 2
    end = _COMMENT_END.search(text, body)
    return end.end() if end else len(text)


def _after_bogus_comment(text: str, start: int) -> int:
    end = text.find(">", start)
    return end + 1 if end >= 0 else len(text)


@lru_cache(maxsize=len(RAW_TEXT_TAGS))
def _raw_text_end(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}[\t\n\f\r />]", re.IGNORECASE)
