"""The snippet of a search result: the stretch of a post that best shows why it matched.

Made here rather than by the engines (FTS5's ``snippet()``, PostgreSQL's ``ts_headline``) so that both
engines show the same snippet and its safety does not depend on either: the post's text is escaped here,
piece by piece, and the only markup in the result is ``<mark>…</mark>`` around matched words. Words are
compared as the engines compare them (``bridge.core.folding``), phrases as runs of words, a prefix term
against the start of a word.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bridge.core.folding import fold_in_place
from bridge.core.query import Field, Term

SNIPPET_CHARS = 200
_LEAD = 40  # characters of context shown before the first match
_SPACE = re.compile(r"\s+")
ELLIPSIS = "…"


def make_snippet(text: str, terms: Sequence[Term], max_chars: int = SNIPPET_CHARS) -> str:
    """HTML: about ``max_chars`` characters of ``text`` around its best matches, matches marked."""
    spans = _matches(text, [t for t in terms if t.field is not Field.AUTHOR])
    start, end = _window(text, spans, max_chars)
    pieces: list[str] = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        pieces.append(_escaped(text[cursor:span_start]))
        pieces.append(f"<mark>{_escaped(text[span_start:span_end])}</mark>")
        cursor = span_end
    pieces.append(_escaped(text[cursor:end]))
    if end < len(text.rstrip()):
        pieces.append(ELLIPSIS)
    return "".join(pieces).strip()


def _escaped(piece: str) -> str:
    return html.escape(_SPACE.sub(" ", piece), quote=True)


def _matches(text: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Character spans of every match, in order, overlapping ones merged. The text is folded character
    by character (so a position in it is a position in ``text``) and searched with one expression: a
    term's words in order, separated by anything that is not a letter or digit, whole words except for
    a prefix's last."""
    if not terms:
        return []
    alternatives = sorted(
        {
            _NOT_AFTER_WORD
            + _BETWEEN_WORDS.join(re.escape(word) for word in term.folded)
            + (_WORD_TAIL if term.prefix else _NOT_BEFORE_WORD)
            for term in terms
        },
        key=len,
        reverse=True,
    )
    merged: list[tuple[int, int]] = []
    for match in re.finditer("|".join(alternatives), fold_in_place(text)):
        if merged and match.start() <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], match.end()))
        else:
            merged.append(match.span())
    return merged


_NOT_AFTER_WORD = r"(?<![^\W_])"
_NOT_BEFORE_WORD = r"(?![^\W_])"
_BETWEEN_WORDS = r"[\W_]+"
_WORD_TAIL = r"[^\W_]*"


def _window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """The stretch of ``text`` to show: the one holding the most matches, starting a little before them
    and cut at spaces."""
    if len(text) <= max_chars:
        return 0, len(text)
    anchor = 0
    if spans:
        best = max(
            range(len(spans)),
            key=lambda i: (sum(1 for s in spans[i:] if s[1] <= spans[i][0] + max_chars - _LEAD), -i),
        )
        anchor = max(0, spans[best][0] - _LEAD)
    start = _cut(text, anchor, backwards=False) if anchor > 0 else 0
    end = min(len(text), start + max_chars)
    if end < len(text):
        end = _cut(text, end, backwards=True)
    if end <= start:  # one enormous word: cut it
        end = min(len(text), start + max_chars)
    return start, end


def _cut(text: str, index: int, *, backwards: bool) -> int:
    """The nearest space at or around ``index`` (within 20 characters), else ``index`` itself."""
    step = -1 if backwards else 1
    for offset in range(20):
        position = index + step * offset
        if 0 <= position < len(text) and text[position].isspace():
            return position if backwards else position + 1
    return index
