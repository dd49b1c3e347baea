"""Message-IDs and Matrix transaction ids derived from our rows; tolerant parsing of others' ids.

Outbound delivery is at-least-once (DESIGN §3): after a crash a mail may be sent twice. Deriving the
Message-ID from the post id (and the Matrix transaction id from the outbox row) makes the retry the
*same* message to every receiver, so clients, archives and the homeserver deduplicate it. The same
derivation lets the loop guard recognise our own mail coming back and threading map replies to posts
without a lookup.

Parsing is deliberately forgiving: real ``In-Reply-To``/``References`` values are folded, commented,
truncated or decorated with prose (``<id>; from Ana on Tue``), and a missed id costs a broken
thread.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

MESSAGE_ID_PREFIX = "icop"
MAX_REFERENCES = 100

_CHECK_CHARS = 10  # 50 bits of SHA-256: tells our ids from look-alikes, not a secret
_KIND = re.compile(r"[a-z][a-z0-9-]*")
_OWN_LOCAL = re.compile(
    rf"{MESSAGE_ID_PREFIX}\.(?P<serial>\d+)(?:\.(?P<kind>[a-z][a-z0-9-]*)\.(?P<rev>\d+))?\.(?P<check>[a-z2-7]+)"
)


@dataclass(frozen=True, slots=True)
class OwnMessageId:
    """What one of our Message-IDs says: which post, which kind of mail about it, which revision."""

    post_id: int
    kind: str = "post"
    revision: int = 0


def _check(post_id: int, kind: str, revision: int, domain: str) -> str:
    digest = hashlib.sha256(f"{post_id}:{kind}:{revision}@{domain.casefold()}".encode()).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_CHECK_CHARS]


def post_message_id(post_id: int, domain: str, *, kind: str = "post", revision: int = 0) -> str:
    """The Message-ID (without angle brackets) of the mail carrying ``kind`` of post ``post_id``.

    The plain post is ``icop.<post_id>.<check>@domain``; an edit or a notice about the post gets its
    own id (``icop.<post_id>.edit.<revision>.<check>@domain``) so receivers do not drop it as a
    duplicate. Other mail we send (digests, notices) may use ``kind`` with its own serial so the
    loop guard knows it. The check is a plain hash, not a MAC: it only tells our ids from
    similar-looking ones, and nothing is authorised by an id.
    """
    kind = str(kind)
    if post_id < 0 or revision < 0:
        raise ValueError("post ids and revisions are non-negative")
    if not _KIND.fullmatch(kind):
        raise ValueError(f"message kind must be lowercase letters, digits or '-': {kind!r}")
    domain = domain.strip().lower()
    if not domain or "@" in domain or any(c.isspace() for c in domain):
        raise ValueError(f"not a domain: {domain!r}")
    middle = "" if kind == "post" and revision == 0 else f".{kind}.{revision}"
    check = _check(post_id, kind, revision, domain)
    return f"{MESSAGE_ID_PREFIX}.{post_id}{middle}.{check}@{domain}"


def parse_own_message_id(message_id: str | None, domain: str) -> OwnMessageId | None:
    """The parts of one of our Message-IDs for ``domain``; None for anyone else's."""
    if message_id is None:
        return None
    value = parse_message_id(message_id)
    if value is None:
        return None
    local, _, got_domain = value.rpartition("@")
    if got_domain.casefold() != domain.strip().casefold():
        return None
    match = _OWN_LOCAL.fullmatch(local)
    if match is None:
        return None
    parsed = OwnMessageId(
        post_id=int(match["serial"]),
        kind=match["kind"] or "post",
        revision=int(match["rev"] or 0),
    )
    if match["check"] != _check(parsed.post_id, parsed.kind, parsed.revision, got_domain):
        return None
    return parsed


def is_own_message_id(message_id: str | None, domain: str) -> bool:
    """Whether a Message-ID is one we minted for ``domain`` (angle brackets and comments tolerated)."""
    return parse_own_message_id(message_id, domain) is not None


def post_id_from_message_id(message_id: str | None, domain: str) -> int | None:
    """The post a Message-ID of ours belongs to, whatever kind of mail about the post it named."""
    parsed = parse_own_message_id(message_id, domain)
    return None if parsed is None else parsed.post_id


def matrix_txn_id(delivery_id: int) -> str:
    """The Matrix transaction id for an outbox row: a resend of the row is the same PUT to the
    homeserver, which answers with the event it already created instead of posting twice."""
    if delivery_id < 0:
        raise ValueError("delivery ids are non-negative")
    return f"{MESSAGE_ID_PREFIX}.d{delivery_id}"


def _candidates(value: str) -> list[str]:
    """Every ``<...>`` id outside comments and quoted strings; bare ``left@right`` words if there
    are none.

    Whitespace inside brackets is folding damage and is removed.
    """
    found: list[str] = []
    depth = 0
    quoted = False
    pos = 0
    while pos < len(value):
        char = value[pos]
        if char == "\\":
            pos += 2
            continue
        if quoted:
            quoted = char != '"'
        elif depth:
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif char == '"':
            quoted = True
        elif char == "(":
            depth = 1
        elif char == "<":
            end = value.find(">", pos + 1)
            stop = len(value) if end < 0 else end
            inner = "".join(value[pos + 1 : stop].split())
            if inner and (end >= 0 or "@" in inner):
                found.append(inner)
            pos = stop
        pos += 1
    if found:
        return found
    return [
        word.strip("<>.,;:")
        for word in re.split(r"[\s,;]+", re.sub(r"\([^()]*\)", " ", value))
        if _looks_like_bare_id(word.strip("<>.,;:"))
    ]


def _looks_like_bare_id(word: str) -> bool:
    left, at, right = word.rpartition("@")
    return bool(at and left and right and '"' not in word)


def parse_message_id(value: str | None) -> str | None:
    """The first Message-ID in a header value, without angle brackets, comments or whitespace."""
    if not value:
        return None
    found = _candidates(value)
    return found[0] if found else None


def parse_references(value: str | None, *, limit: int = MAX_REFERENCES) -> tuple[str, ...]:
    """The ids of a ``References`` (or multi-id ``In-Reply-To``) value, oldest first, each once.

    Beyond ``limit`` the root and the most recent ids are kept, as RFC 5322 §3.6.4 suggests for
    trimming: the root names the conversation and the recent ones are the likeliest to be known.
    """
    if limit < 0:
        raise ValueError("limit must be non-negative")
    if not value:
        return ()
    ids = tuple(dict.fromkeys(_candidates(value)))
    if len(ids) > limit >= 2:
        ids = (ids[0], *ids[len(ids) - limit + 1 :])
    return ids[:limit]
