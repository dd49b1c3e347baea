"""URL facts the converters agree on: which schemes may be linked, and where bare URLs are.

One place, so the sanitiser, the plain-text renderer and the Markdown linkifier never
disagree about what counts as a safe link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LINK_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "magnet"})
"""Schemes the Matrix spec permits on ``a href``."""

EMBEDDED_IMAGE_SCHEMES = frozenset({"mxc", "cid"})
"""Image sources that never reach a third-party server: Matrix media and mail parts."""

REMOTE_IMAGE_SCHEMES = frozenset({"http", "https"})

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_BARE_URL = re.compile(r"https?://[^\s<>\"'`\x00-\x1f\x7f]+", re.IGNORECASE)
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_TRAILING_PUNCTUATION = ".,;:!?'\"*_~"


def url_scheme(url: str) -> str | None:
    """The lower-cased scheme of an absolute URL, or None for relative or odd ones.

    Browsers ignore control characters inside a scheme (``java\\tscript:``); such a URL
    has no scheme here, so callers that allow-list schemes reject it.
    """
    match = _SCHEME.match(url.strip(" \t\n\r\f"))
    return match.group(1).lower() if match else None


def find_bare_urls(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each http(s) URL in running text, without trailing punctuation."""
    for match in _BARE_URL.finditer(text):
        start, end = match.span()
        end = _trim_trailing_punctuation(text, start, end)
        if text[start:end].partition("://")[2]:
            yield start, end


def _trim_trailing_punctuation(text: str, start: int, end: int) -> int:
    while end > start:
        last = text[end - 1]
        if last in _TRAILING_PUNCTUATION:
            end -= 1
        elif last in _CLOSERS:
            url = text[start:end]
            if url.count(_CLOSERS[last]) >= url.count(last):
                break
            end -= 1
        else:
            break
    return end
