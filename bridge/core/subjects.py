"""Subjects: the key that compares them and the stable forms the list sends.

Mail clients decorate subjects in many languages and stack the decorations on every round trip
(``Re: [pm] AW: Fwd: x``). Threading needs one comparison key per conversation (JWZ's subject
fallback), and the list wants a subject that stays ``Re: [tag] Subject`` however long the thread
grows, so filters and readers' threading keep working.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

NO_SUBJECT = "(no subject)"

# Reply markers in the languages members write in; casefolded. VS is Finnish "vastaus" (a reply); in
# Danish/Norwegian it marks a forward, but treating it as a reply only widens the subject fallback, which
# is still bounded by the time window.
REPLY_WORDS = frozenset(
    {"re", "aw", "sv", "vs", "antw", "antwort", "réf", "rif", "odp", "ynt", "回复", "回覆", "答复", "答覆"}
)
# Forward markers: stripped for comparison but they do not make a subject look like a reply.
FORWARD_WORDS = frozenset({"fwd", "fw", "wg", "tr", "doorst", "enc", "rv", "转发", "轉寄", "轉發"})

# A marker word, an optional counter (Re[2]:, Re^2:, Re(2):) and a colon, ASCII or full-width.
_MARKER = re.compile(r"(?P<word>[^\W\d_]{1,8})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]")
_TAG = re.compile(r"\[(?P<tag>[^\[\]]*)\]")
_FWD_SUFFIX = re.compile(r"\s*\(fwd\)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SubjectParts:
    """A subject taken apart: the words people wrote, and what the decorations said about it.

    ``base`` keeps its case and any tags that are not the list's own (``[OT]``, ``[ANN]`` carry
    meaning); ``reply``/``forward`` say whether a reply or forward marker was stripped.
    """

    base: str
    reply: bool = False
    forward: bool = False


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _tag_key(tag: str) -> str:
    return _collapse(tag.strip().strip("[]")).casefold()


def parse_subject(subject: str | None, prefixes: Iterable[str] = ()) -> SubjectParts:
    """Strip every leading reply/forward marker and list tag, in any order and number.

    ``prefixes`` are the list tags to remove, with or without brackets (``"pm"`` or ``"[pm]"``).
    Markers that follow a foreign tag are stripped too, so ``[OT] Re: x`` and ``Re: [OT] x`` compare
    equal.
    """
    list_tags = {key for key in map(_tag_key, prefixes) if key}
    rest = _collapse(unicodedata.normalize("NFC", subject or ""))
    kept: list[str] = []
    reply = forward = False
    while rest:
        tag = _TAG.match(rest)
        if tag is not None:
            if _tag_key(tag["tag"]) not in list_tags:
                kept.append(tag.group(0))
            rest = rest[tag.end() :].lstrip()
            continue
        marker = _MARKER.match(rest)
        if marker is None:
            break
        word = marker["word"].casefold()
        if word in REPLY_WORDS:
            reply = True
        elif word in FORWARD_WORDS:
            forward = True
        else:
            break  # "Note: x" or "Agenda: x" are words, not decorations
        rest = rest[marker.end() :].lstrip()
    without_suffix = _FWD_SUFFIX.sub("", rest)
    forward = forward or without_suffix != rest
    base = _collapse(" ".join([*kept, without_suffix]))
    return SubjectParts(base=base, reply=reply, forward=forward)


def normalize_subject(subject: str | None, prefixes: Iterable[str] = ()) -> str:
    """The comparison key of a subject: undecorated, whitespace collapsed, NFKC-normalised,
    casefolded.

    Two messages of one conversation give the same key whatever clients and languages did to the
    subject.
    """
    return unicodedata.normalize("NFKC", parse_subject(subject, prefixes).base).casefold()


def is_reply_subject(subject: str | None) -> bool:
    """Whether the subject carries a reply marker, after any tags.

    The subject fallback of threading only applies to messages that say they answer something; a
    fresh message that happens to share a subject starts its own thread.
    """
    return parse_subject(subject).reply


def _display_base(subject: str | None, prefix: str) -> str:
    base = parse_subject(subject, (prefix,)).base
    return base or NO_SUBJECT


def _tag(prefix: str) -> str:
    name = _collapse(prefix.strip().strip("[]"))
    return f"[{name}] " if name else ""


def list_subject(subject: str | None, prefix: str) -> str:
    """The subject of a new thread on the list: ``[prefix] Subject``.

    Any markers are dropped: the message starts a thread here, so its replies can then read
    ``Re: [prefix] Subject`` without stacking.
    """
    return f"{_tag(prefix)}{_display_base(subject, prefix)}"


def reply_subject(root_subject: str | None, prefix: str) -> str:
    """The subject of every reply in a thread: ``Re: [prefix] Subject``, the same at any depth."""
    return f"Re: {_tag(prefix)}{_display_base(root_subject, prefix)}"


_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_EMPHASIS = re.compile(r"(\*\*|__|~~|`+)")
_LINE_LEAD = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+)")


def _plain_line(line: str) -> str:
    line = _LINE_LEAD.sub("", line)
    line = _MARKDOWN_LINK.sub(r"\1", line)
    line = _MARKDOWN_EMPHASIS.sub("", line)
    return _collapse(line)


def subject_from_text(text: str | None, max_len: int = 78) -> str:
    """A subject for a thread started in chat, where messages have none: the first line of the text.

    Quoted lines are skipped when anything else is there, Markdown markup is dropped, and a long
    line is cut at a word boundary with an ellipsis so the whole fits ``max_len`` characters (78:
    RFC 5322's recommended line length).
    """
    if max_len < 2:
        raise ValueError("max_len must leave room for at least one character and the ellipsis")
    lines = [line for line in (text or "").splitlines() if line.strip()]
    unquoted = [line for line in lines if not line.lstrip().startswith(">")]
    candidates = unquoted or [line.lstrip().lstrip(">") for line in lines]
    first = next((plain for plain in map(_plain_line, candidates) if plain), "")
    if not first:
        return NO_SUBJECT
    if len(first) <= max_len:
        return first
    cut = first[: max_len - 1]
    space = cut.rfind(" ")
    if space >= max_len // 2:
        cut = cut[:space]
    return (cut.rstrip(" ,;:.-") or cut) + "…"
