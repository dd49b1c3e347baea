"""Value stories: a member's own account of how a practice or a thread helped their work.

Counts show activity; they cannot show that a practice changed how someone works (applied value) or
that results improved (realized value). Wenger, Trayner and de Laat ask for stories there, so a member
tells one by writing ``#story`` in a post (by mail or in the room) or with ``!icop story TEXT`` in a
thread. Either way the story is an ordinary post that reaches both channels, and the archive keeps a
story record beside it, cited to a thread: the thread it was told in, unless its words link to another
thread of the community's archive (``/c/SLUG/t/ID``), which is then the one it speaks of. The practice
a story is counted for is the practice of that thread.

Pure: the words of a story and the thread it cites, from the post's text.
"""

from __future__ import annotations

import re

from bridge.core.indicators import cited_threads

STORY_MARKER = "#story"
"""What a post carries to be a story; the room command adds it to the text it relays."""

_MARKER = re.compile(r"(?<![\w&#/\\])#story(?![\w-])", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")
EXCERPT_CHARS = 160


def story_words(text: str) -> str:
    """The story as its author told it: the post's text without the ``#story`` marker."""
    without = _MARKER.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in without.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def story_post_text(words: str) -> str:
    """The post a ``!icop story`` command relays: the story, then the marker that makes it one."""
    return f"{words.strip()}\n\n{STORY_MARKER}"


def cited_thread(text: str, slug: str, own_thread: int) -> int:
    """The thread a story speaks of: the first other thread of the community it links to, else its own."""
    return next((t for t in cited_threads(text, slug) if t != own_thread), own_thread)


def excerpt(words: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of a story for a listing, cut at a word boundary."""
    line = " ".join(words.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if line[limit - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]  # a word cut in two is left out
    return f"{cut.rstrip()}…"
