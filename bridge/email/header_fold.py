"""A message policy whose id and URL headers fold only between words.

The standard library folds a header by turning any token longer than the line into RFC 2047 encoded
words, so a long ``References`` or an unsubscribe URL comes out as ``=?utf-8?q?=3Cicop...?=``: the ids
no longer match and threading breaks in every client. Message-IDs, ``References`` and the ``List-*``
URLs are words that must never be split or encoded; this policy folds them at the spaces between words
and lets a single long word stand on its own line (well under the 998-octet limit of RFC 5322).

The header objects carry their folding with them, so a message built with ``COMPOSE_POLICY`` folds
correctly when serialised with ``email.policy.SMTP`` or any other ``EmailPolicy``.
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.policy import SMTP, Policy
from typing import cast

WORD_FOLDED_HEADERS = (
    "message-id",
    "in-reply-to",
    "references",
    "list-id",
    "list-post",
    "list-archive",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-help",
    "x-loop",
)
MAX_WORD = 900
"""Longer words are refused when set: with the header name and folding they would pass 998 octets."""


class WordFoldedHeader(UnstructuredHeader):
    """An ASCII header folded only at whitespace; its words are never encoded (nor decoded)."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, object]) -> None:
        if not value.isascii():
            raise ValueError(f"header value must be ASCII: {value!r}")
        if any(len(word) > MAX_WORD for word in value.split()):
            raise ValueError("header word longer than a mail line allows")
        super().parse(value, kwds)
        kwds["decoded"] = value  # as given: an encoded phrase (List-Id) must stay encoded on the wire

    def fold(self, *, policy: Policy) -> str:
        header = cast(BaseHeader, self)
        limit = policy.max_line_length or 78
        lines: list[str] = []
        line = f"{header.name}:"
        for word in str(self).split():
            if len(line) + 1 + len(word) > limit and line != f"{header.name}:":
                lines.append(line)
                line = ""
            line = f"{line} {word}"
        lines.append(line)
        return policy.linesep.join(lines) + policy.linesep


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in WORD_FOLDED_HEADERS:
        # typeshed wants a BaseHeader subclass; the registry mixes BaseHeader in itself.
        registry.map_to_type(name, cast(type[BaseHeader], WordFoldedHeader))
    return registry


COMPOSE_POLICY = SMTP.clone(header_factory=_registry())
"""``email.policy.SMTP`` (CRLF, 78-column folding, RFC 2047 for non-ASCII) with word-folded ids."""
