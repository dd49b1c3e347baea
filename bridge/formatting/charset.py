"""Bytes from mail to text, whatever the message claims about its charset.

Mail arrives labelled with charsets that are missing, misspelled, unknown to Python or
simply wrong (UTF-8 sent as "us-ascii" or "iso-8859-1" is common). A relayed message must
never fail on that, and should come out readable: the declared charset first, then the
superset mail clients actually meant (as browsers do: latin-1 means windows-1252,
shift_jis means cp932), then UTF-8, then windows-1252, and only then replacement
characters.
"""

from __future__ import annotations

import codecs
import re

REPLACEMENT_FALLBACK = "utf-8"

_NAME_FIXES = {
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-sjis": "cp932",
    "x-mac-roman": "mac-roman",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "cp949",
}
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "ascii": ("cp1252", "iso8859-1"),
    "iso8859-1": ("cp1252", "iso8859-1"),
    "cp1252": ("cp1252", "iso8859-1"),
    "iso8859-9": ("cp1254", "iso8859-9"),
    "iso8859-11": ("cp874", "iso8859-11"),
    "tis-620": ("cp874", "tis-620"),
    "shift_jis": ("cp932", "shift_jis"),
    "euc_jp": ("euc_jp", "cp932"),
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "euc_kr": ("cp949",),
    "big5": ("big5hkscs", "cp950"),
    "utf-8": ("utf-8-sig",),
}
_LATIN_FAMILY = frozenset({"ascii", "iso8859-1", "cp1252"})
"""Labels that mail software often puts on UTF-8 without looking."""

_NOT_MAIL_CHARSETS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode"})
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode mail bytes; never raises, never loses text to a bad label."""
    data = bytes(data)  # a memoryview or bytearray from a MIME parser reads the same
    if not data:
        return ""
    codec = python_codec(declared)
    if data.startswith(codecs.BOM_UTF8):
        codec = "utf-8"
    elif data.startswith(_UTF16_BOMS) and codec in {None, "utf-16"}:
        codec = "utf-16"
    if codec in _LATIN_FAMILY and not data.isascii():
        as_utf8 = _decode_strictly(data, "utf-8")
        if as_utf8 is not None:
            return as_utf8
    candidates = _SUPERSETS.get(codec, (codec,)) if codec else ()
    for candidate in (*candidates, "utf-8-sig", "cp1252"):
        text = _decode_strictly(data, candidate)
        if text is not None:
            return text
    return data.decode(REPLACEMENT_FALLBACK, errors="replace")


def python_codec(declared: str | None) -> str | None:
    """Python's name for a MIME charset label, or None when there is no usable one."""
    if not declared:
        return None
    label = declared.strip().strip("\"'").strip().lower()
    label = _NAME_FIXES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CHARSETS:
        return None
    return info.name


def _decode_strictly(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def scrub_surrogates(text: str) -> str:
    """Replace lone surrogates by U+FFFD.

    The standard ``email`` package keeps undecodable bytes as lone surrogates
    (``surrogateescape``); they cannot be encoded as UTF-8, so JSON for Matrix, SMTP and
    the sanitiser would all fail on them.
    """
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)
