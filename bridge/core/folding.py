"""Words as search sees them: where a word starts and ends, and the form in which two words are equal.

Both search engines cut text into words and fold them so that case and diacritics do not matter
(``Accentué`` finds ``accentue``). The query parser, the snippet highlighter and tag names must cut and
fold the same way, or a highlighted word would not be the word that matched. The rules follow SQLite
FTS5's ``unicode61`` tokenizer with ``remove_diacritics 2``: a word is a run of letters, digits and
private-use characters; everything else (spaces, punctuation, symbols) separates words.
"""

from __future__ import annotations

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


def is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def fold(text: str) -> str:
    """Lower case without diacritics: the form in which words compare."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped).lower()


def words(text: str) -> Iterator[Word]:
    """The words of ``text`` in order, with their positions in ``text``."""
    start = -1
    for index, char in enumerate(text):
        if is_word_char(char):
            if start < 0:
                start = index
        elif start >= 0:
            yield Word(start, index, fold(text[start:index]))
            start = -1
    if start >= 0:
        yield Word(start, len(text), fold(text[start:]))


def split_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as written (unfolded): what a query hands to an engine that folds itself."""
    return tuple(text[w.start : w.end] for w in words(text))


_TAG_SEPARATORS = re.compile(r"[\s_]+")


def fold_tag(name: str) -> str:
    """A tag name as the archive files it: folded, spaces and underscores as hyphens (``Risk Log`` →
    ``risk-log``), without a leading ``#``."""
    return _TAG_SEPARATORS.sub("-", fold(name.strip().lstrip("#").strip())).strip("-")
