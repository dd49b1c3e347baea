"""Words as search sees them: where a word starts and ends, and the form in which two words are equal.

Both search engines cut text into words and fold them so that case and diacritics do not matter
(``Accentué`` finds ``accentue``). The query parser, the snippet highlighter and tag names must cut and
fold the same way, or a highlighted word would not be the word that matched. The rules follow SQLite
FTS5's ``unicode61`` tokenizer with ``remove_diacritics 2``: a word is a run of letters and digits;
everything else (spaces, punctuation, symbols) separates words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: where it stands (``start``/``end`` in the original) and its folded form."""

    start: int
    end: int
    folded: str


# Letters and digits of every script: the regex engine's word characters without the underscore (FTS5's
# unicode61 also counts private-use characters, which no one searches for).
_WORD = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics: the form in which words compare."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped).lower()


def fold_in_place(text: str) -> str:
    """``text`` folded character by character, each character into one, so that positions still match
    ``text`` (a character whose folding would change the length is only lowered, or kept)."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    folded = fold(char)
    if len(folded) == 1:
        return folded
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def words(text: str) -> Iterator[Word]:
    """The words of ``text`` in order, with their positions in ``text``."""
    for match in _WORD.finditer(text):
        yield Word(match.start(), match.end(), fold(match.group()))


def split_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as written (unfolded): what a query hands to an engine that folds itself."""
    return tuple(text[w.start : w.end] for w in words(text))


_TAG_SEPARATORS = re.compile(r"[\s_]+")


def fold_tag(name: str) -> str:
    """A tag name as the archive files it: folded, spaces and underscores as hyphens (``Risk Log`` →
    ``risk-log``), without a leading ``#``."""
    return _TAG_SEPARATORS.sub("-", fold(name.strip().lstrip("#").strip())).strip("-")
