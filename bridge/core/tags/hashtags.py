"""``#hashtags`` in what people wrote, and only there.

A hashtag is read from the author's own words: not from quoted text (``>`` lines; quoted history is
already cut from mail, but people quote by hand), not from code (inline `` `code` `` or fenced blocks;
HTML bodies arrive here with ``code``/``pre`` already left out by ``bridge.formatting.tag_text``), and
not from URLs (``https://example.com/page#section`` is a fragment, ``#room:server`` a Matrix room
alias). Code pasted without fences counts as code too: the lines of a unified diff (a patch mailed to a
developers' list) and C preprocessor lines (``#include <stdio.h>``, ``#define NAME 1``), which would
otherwise file every patch under ``include``. A ``#`` must start a word: ``C#``, ``&#39;`` and
``issue#4`` are not tags, and neither is a name of digits only (``#12``).
"""

from __future__ import annotations

import re
import unicodedata

from bridge.core.tags.names import fold_tag, is_tag_name

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_URL = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.\-]*://|\bwww\.|\bmailto:|\bmatrix:|\bxmpp:)[^\s<>\"']*"
    r"|\S+@[\w.-]+\.\w+"  # an address: user#tag@example.com is not a tag
)
_HASHTAG = re.compile(r"(?<![\w&#/\\])#(\w[\w\-]*)")
_ALIAS_TAIL = re.compile(r":[\w.-]")  # #room:server
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_HUNK_LINE = re.compile(r"^(?:[ +\-\\]|$)")  # context, added, removed, "\ No newline at end of file"
_DIFF_HEADER = re.compile(
    r"^(?:diff --git |index [0-9a-f]+\.\.|--- (?:a/|/dev/null)|\+\+\+ (?:b/|/dev/null))"
)
_C_DIRECTIVE = re.compile(  # case matters: macros are written in capitals
    r"#[ \t]*(?:include[ \t]*[<\"][^>\"\s]*[>\"]?|(?:define|undef|ifdef|ifndef)[ \t]+[A-Z_][A-Z0-9_]*\b"
    r"|(?:if|elif)[ \t]+(?:defined\b|[!(0-9]|[A-Z_][A-Z0-9_]*\b)|(?:endif|else)\b(?=[ \t]*(?:$|/[*/]))"
    r"|pragma[ \t]+once\b)"
)


def hashtags_in_text(text: str) -> list[str]:
    """The hashtags written in ``text``, as written (without ``#``), in order, each tag once."""
    found: list[str] = []
    seen: set[str] = set()
    fence: str | None = None
    in_hunk = False
    for line in unicodedata.normalize("NFC", text).splitlines():
        if in_hunk and _HUNK_LINE.match(line):
            continue
        in_hunk = _HUNK.match(line) is not None
        if in_hunk or _DIFF_HEADER.match(line):
            continue
        opening = _FENCE.match(line)
        if fence is not None:
            if opening is not None and opening[1][0] == fence[0] and len(opening[1]) >= len(fence):
                fence = None
            continue
        if opening is not None:
            fence = opening[1]
            continue
        if line.lstrip().startswith(">"):
            continue
        for written in _hashtags_in_line(line):
            name = fold_tag(written)
            if is_tag_name(name) and name not in seen:
                seen.add(name)
                found.append(written.strip("-"))
    return found


def _hashtags_in_line(line: str) -> list[str]:
    line = _INLINE_CODE.sub(lambda m: " " * len(m[0]), line)
    line = _URL.sub(lambda m: " " * len(m[0]), line)
    line = _C_DIRECTIVE.sub(lambda m: " " * len(m[0]), line)
    names = []
    for match in _HASHTAG.finditer(line):
        if _ALIAS_TAIL.match(line, match.end()):
            continue
        names.append(match[1])
    return names
