"""Subscription commands, by mail and in the room, parsed without I/O (DESIGN §6.3).

By mail, to ``LIST+request@domain``, in the Subject or the first lines of the body:
``subscribe [each|digest|both] [daily|weekly|monthly]``, ``unsubscribe``,
``digest daily|weekly|monthly|off``, ``follow TAG…``, ``unfollow TAG…``, ``help``. The shortcuts
``LIST+subscribe@`` and ``LIST+unsubscribe@`` need no text (what ``List-Subscribe`` and
``List-Unsubscribe`` mailto URIs name), and a reply to a confirmation mail confirms it, through its
address ``LIST+confirm-CODE@`` or the ``confirm CODE`` its subject carries. Reading stops at the first
line that is not a command (a signature, a quote, a greeting), as Mailman's command runner does; mail
with no command at all gets the help text.

In the room: ``!icop digest daily|weekly|monthly|off`` (and ``!icop digest`` alone to see one's own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bridge.core.model import DeliveryMode

MAX_BODY_LINES = 10
FREQUENCIES = ("daily", "weekly", "monthly")

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|vs)\s*:\s*)+", re.IGNORECASE)
_CONFIRM_IN_TEXT = re.compile(r"\bconfirm\s+([a-z2-7]{16,64})\b", re.IGNORECASE)
_TAG = re.compile(r"^#?([a-z0-9][a-z0-9-]{0,63})$")


class Verb(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    DIGEST = "digest"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    CONFIRM = "confirm"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Request:
    """One command. ``frequency`` is daily | weekly | monthly, or "off" for ``digest off``."""

    verb: Verb
    delivery: DeliveryMode | None = None
    frequency: str | None = None
    tags: tuple[str, ...] = ()
    code: str | None = None


@dataclass(frozen=True, slots=True)
class RequestError:
    """A line meant as a command that cannot be obeyed; ``message`` says why and how."""

    line: str
    message: str


MAIL_HELP = (
    "Send commands to {request} in the subject or the first lines of the message:",
    "subscribe [each|digest|both] [daily|weekly|monthly]: join (each: every post; digest: a digest; both)",
    "unsubscribe: stop all mail from the list",
    "digest daily|weekly|monthly|off: how often the digest comes, or no digest",
    "follow TAG...: threads under these tags come first in your digest (unfollow TAG... to stop)",
    "help: this text",
)


def parse_mail_requests(detail: str | None, subject: str | None, body: str) -> list[Request | RequestError]:
    """The commands of one mail to ``LIST+<detail>@``: the detail decides first, then the text."""
    detail = (detail or "request").lower()
    if detail.startswith("confirm-"):
        return [Request(Verb.CONFIRM, code=detail.removeprefix("confirm-"))]
    found = _confirmation_in(subject)
    if found is not None:
        return [found]
    lines = [_REPLY_PREFIX.sub("", subject or ""), *body.splitlines()[:MAX_BODY_LINES]]
    parsed: list[Request | RequestError] = []
    for number, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        if text.startswith((">", "--")):
            break
        command = parse_line(text)
        if command is None:
            if number == 0:
                continue  # a subject that is not a command ("Hello") is no reason to stop
            break
        parsed.append(command)
    if detail == "subscribe" and not any(isinstance(c, Request) and c.verb is Verb.SUBSCRIBE for c in parsed):
        parsed.insert(0, Request(Verb.SUBSCRIBE))
    if detail == "unsubscribe":
        return [Request(Verb.UNSUBSCRIBE)]
    return parsed or [Request(Verb.HELP)]


def parse_line(text: str) -> Request | RequestError | None:
    """One command line; None when the line is no command at all."""
    words = text.lower().split()
    if not words:
        return None
    verb, args = words[0].rstrip(":"), words[1:]
    if verb == "subscribe":
        delivery = next((DeliveryMode(a) for a in args if a in ("each", "digest", "both")), None)
        frequency = next((a for a in args if a in FREQUENCIES), None)
        unknown = [a for a in args if a not in ("each", "digest", "both", *FREQUENCIES)]
        if unknown:
            return RequestError(
                text, f"subscribe takes each, digest or both and daily, weekly or monthly, not {unknown[0]!r}"
            )
        return Request(Verb.SUBSCRIBE, delivery=delivery, frequency=frequency)
    if verb in ("unsubscribe", "signoff", "leave"):
        return Request(Verb.UNSUBSCRIBE)
    if verb == "digest":
        if len(args) != 1 or args[0] not in (*FREQUENCIES, "off", "none", "never"):
            return RequestError(text, "digest takes one of daily, weekly, monthly or off")
        return Request(Verb.DIGEST, frequency="off" if args[0] in ("none", "never") else args[0])
    if verb in ("follow", "unfollow"):
        tags = tuple(m[1] for a in args if (m := _TAG.match(a)))
        if not tags or len(tags) != len(args):
            return RequestError(text, f"{verb} takes tags such as estimation or #risk")
        return Request(Verb(verb), tags=tags)
    if verb == "confirm" and len(args) == 1:
        return Request(Verb.CONFIRM, code=args[0])
    if verb in ("help", "?", "info"):
        return Request(Verb.HELP)
    return None


def _confirmation_in(subject: str | None) -> Request | None:
    match = _CONFIRM_IN_TEXT.search(subject or "")
    return Request(Verb.CONFIRM, code=match[1].lower()) if match else None


@dataclass(frozen=True, slots=True)
class RoomDigest:
    """``!icop digest F`` (``frequency`` daily | weekly | monthly | off), or ``!icop digest`` alone to ask
    (``frequency`` None)."""

    frequency: str | None


ROOM_USAGE = "`!icop digest daily|weekly|monthly|off` sets how often you get the digest by mail."
