"""One spelling per tag: what ``#Estimação``, ``#estimacao`` and ``[ESTIMACAO]`` have in common.

People type tags with capitals, accents or none, underscores or hyphens, so the archive folds every
written form to one name before it files anything: case folded, diacritics dropped (NFKD without the
combining marks), runs of separators made one hyphen. Matching against the taxonomy goes one step
further and ignores the separators altogether (``story-points`` = ``storypoints`` = ``Story_Points``).
Letters of every script stay letters: ``#日本語`` is a tag too.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TAG_LENGTH = 64
"""The store's column width; longer names are cut at a character boundary."""

PRACTICE_HASHTAG = "practice"
"""``#practice`` proposes the thread as a practice; it is never filed as a tag."""

STORY_HASHTAG = "story"
"""``#story`` makes the post a value story (how a practice helped); it is never filed as a tag."""

_SEPARATORS = re.compile(r"[\s_\-‐-―.·]+")
_NOT_NAME = re.compile(r"[^\w-]")


def fold_text(text: str) -> str:
    """``text`` case-folded without diacritics (``Estimação`` → ``estimacao``), for comparisons."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


def fold_tag(written: str) -> str:
    """The tag name of a written form: folded, separators as single hyphens, other marks dropped.

    The result may be empty (``#--``) or all digits (``#123``); ``is_tag_name`` says whether it counts.
    """
    name = fold_text(written.strip().lstrip("#"))
    name = _SEPARATORS.sub("-", name)
    name = _NOT_NAME.sub("", name).replace("_", "-")
    name = re.sub("-{2,}", "-", name).strip("-")
    return name[:MAX_TAG_LENGTH].rstrip("-")


def match_key(written: str) -> str:
    """What two spellings of one tag share: the folded name without its hyphens."""
    return fold_tag(written).replace("-", "")


def is_tag_name(name: str) -> bool:
    """A folded name that can be a tag: not empty and not only digits (``#12`` is an issue number)."""
    return bool(name) and any(not c.isdigit() and c != "-" for c in name)
