"""Values from outside made to fit the store's columns, so an insert never fails on what a stranger sent.

Mail and chat carry subjects, Message-IDs, names, addresses, file names and content types of any length
and any bytes: a real 64 KB folded Subject once failed every insert after it on PostgreSQL, which counts
``VARCHAR(n)`` in characters, limits a btree index entry to about 2.7 KB and refuses NUL in text. SQLite
enforces none of this, so each value is fitted here for both engines alike:

- ``clean``: NUL and lone surrogates (left by lenient decoding) become U+FFFD; PostgreSQL and the UTF-8
  codecs of both drivers refuse them.
- ``fit_text``: a value that is only shown (a subject, a name) is shortened with an ellipsis. The whole
  value stays where it matters: the raw message kept beside every mail post.
- ``fit_key``: a value that identifies something (a Message-ID, an event id, a normalised subject, an
  address) and is compared or indexed keeps its form when it fits, else becomes a readable prefix plus
  the SHA-256 of the whole value: distinct values stay distinct, equal values stay equal, and the same
  function applied to a lookup finds the stored row. Values that fitted before are unchanged, so rows
  stored by earlier versions are found as they were.
"""

from __future__ import annotations

import hashlib
import re

KEY_MAX_BYTES = 2000
"""Longest UTF-8 form of a key kept as it is: well inside PostgreSQL's ~2.7 KB btree entry limit, with
the other columns of a composite index."""
KEY_PREFIX_BYTES = 160
"""How much of an oversized key is kept readable in front of its digest."""
DIGEST_MARK = "…sha256:"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
ELLIPSIS = "…"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def clean(value: str) -> str:
    """``value`` without the characters no engine stores (NUL, lone surrogates): each becomes U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value)


def clean_optional(value: str | None) -> str | None:
    return None if value is None else clean(value)


def fit_text(value: str, limit: int) -> str:
    """At most ``limit`` characters of a displayed value; a shortened one ends in an ellipsis."""
    value = clean(value)
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def fit_optional_text(value: str | None, limit: int) -> str | None:
    return None if value is None else fit_text(value, limit)


def fit_key(value: str, limit: int) -> str:
    """``value`` as it is when it fits ``limit`` characters and the index; else a prefix and its digest."""
    value = clean(value)
    encoded = value.encode("utf-8")
    if len(value) <= limit and len(encoded) <= KEY_MAX_BYTES:
        return value
    digest = hashlib.sha256(encoded).hexdigest()
    room = min(KEY_PREFIX_BYTES, limit - len(DIGEST_MARK) - len(digest))
    prefix = encoded[: max(room, 0)].decode("utf-8", "ignore")
    return prefix + DIGEST_MARK + digest


def fit_optional_key(value: str | None, limit: int) -> str | None:
    return None if value is None else fit_key(value, limit)


def fit_filename(value: str, limit: int) -> str:
    """A file name shortened in its middle, so the extension that tells its type survives."""
    value = clean(value)
    if len(value) <= limit:
        return value
    stem, dot, extension = value.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        return fit_text(value, limit)
    keep = limit - len(extension) - 2  # the ellipsis and the dot
    return stem[:keep] + ELLIPSIS + "." + extension


def fit_content_type(value: str, limit: int) -> str:
    """A MIME type as given when it fits; else its ``type/subtype`` without parameters (RFC 6838: each
    at most 127 characters), and ``application/octet-stream`` when even that is not a valid type."""
    value = clean(value).strip()
    if len(value) <= limit:
        return value
    main = value.split(";", 1)[0].strip().lower()
    return main if len(main) <= limit and _CONTENT_TYPE.match(main) else DEFAULT_CONTENT_TYPE
