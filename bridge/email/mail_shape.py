"""The shape of a mail that tells automatic mail from people's, whatever its From says.

A member's own mail server bounces or auto-replies on her behalf with her address in From, and gateways
wrap standard reports in other containers, so headers alone miss them. The shape is what the loop guard's
structure rules read (``bridge.core.loop_guard.MailShape``): the content types of the mail's own parts
(never looking inside an attached message: a member who forwards a bounce to ask about it wrote a
message of her own) and the opening lines of its first text.
"""

from __future__ import annotations

import re
from email.message import Message

from bridge.core.loop_guard import MailShape
from bridge.email.mime_parts import payload_bytes
from bridge.formatting.charset import decode_bytes

MAX_PARTS = 64
OPENING_CHARS = 2_000
_TAG = re.compile(r"<[^>]*>")
_SPACE_RUN = re.compile(r"[ \t\r\f\v]+")


def mail_shape(message: Message) -> MailShape:
    """The part types and the first text's opening; an empty shape when the tree cannot be read."""
    types: list[str] = []
    opening: str | None = None
    try:
        pending = [message]
        while pending and len(types) < MAX_PARTS:
            part = pending.pop(0)
            content_type = part.get_content_type()
            types.append(content_type)
            if part.is_multipart() and not content_type.startswith("message/"):
                payload = part.get_payload()
                if isinstance(payload, list):
                    pending[0:0] = [p for p in payload if isinstance(p, Message)]
            elif opening is None and content_type in ("text/plain", "text/html"):
                opening = _opening(part, content_type)
    except Exception:  # a shape is evidence, not a requirement: the header rules still apply
        return MailShape(tuple(types), opening or "")
    return MailShape(tuple(types), opening or "")


def _opening(part: Message, content_type: str) -> str:
    raw = payload_bytes(part)[: OPENING_CHARS * 4]
    text = decode_bytes(raw, part.get_content_charset())
    if content_type == "text/html":
        text = _TAG.sub(" ", re.sub(r"(?is)<(style|script|head)\b.*?</\1\s*>", " ", text))
    text = _SPACE_RUN.sub(" ", text.replace("\r\n", "\n"))
    return text[:OPENING_CHARS]
