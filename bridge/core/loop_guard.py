"""The loop guard: what must never be relayed, decided from headers alone (DESIGN §3).

A bridge that relays its own mail, a vacation notice or a bounce into the room, or back out to the
list, multiplies it with every round trip. Each check below is one small named rule, in order of the
strength of its evidence: our own traces (LOOP), a standard delivery report (BOUNCE), the signs of
automatic mail (AUTO_REPLY, RFC 3834 and the de-facto headers), and last the weaker signs of a
bounce (null sender, MAILER-DAEMON), which vacation responders also show. Bounce subjects ("Delivery
failure") are not used: people write them too, and real bounces carry one of the signs above.

Headers are not always enough: a member's own server bounces or answers on her behalf with her address
in From, and gateways wrap standard reports in other containers. So the adapter also hands over the
mail's *shape* (``MailShape``: the content types of its own parts and the opening of its first text;
no MIME is parsed here), and the structure rules read it right after our own traces: a delivery status
(RFC 3464), disposition notification (RFC 8098) or feedback report (RFC 5965) part anywhere in the
mail, or a text that opens the way mail servers open their failure notices. The bounce handler reads
the reports themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from email.utils import getaddresses
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bridge.core.message_ids import is_own_message_id, parse_message_id

ORIGIN_MARKER_KEY = "org.icop.origin"
"""Content key the bridge puts on every Matrix event it sends, so its own events are recognised even
when they arrive through another of its devices or a second process."""


class MailClass(StrEnum):
    RELAY = "relay"
    LOOP = "loop"  # our own mail coming back
    AUTO_REPLY = "auto_reply"  # vacation notices, read receipts, list and bulk mail
    BOUNCE = "bounce"  # delivery failures: feed bounce handling


@dataclass(frozen=True, slots=True)
class MailVerdict:
    """What to do with an inbound mail and why, in words a convener can read in a log."""

    verdict: MailClass
    reason: str

    @property
    def relay(self) -> bool:
        return self.verdict is MailClass.RELAY


@dataclass(frozen=True, slots=True)
class MailShape:
    """What a mail is made of, as the adapter read it: the content types of its own parts (the mail's
    and its containers', never those inside an attached message) and the first lines of its first text
    part, decoded, markup removed."""

    part_types: tuple[str, ...] = ()
    opening: str = ""


@runtime_checkable
class HeaderItems(Protocol):
    """Anything with ``items()`` yielding (name, value): a Mapping, or an ``email.message.Message``,
    whose ``items()`` keeps duplicate headers."""

    def items(self) -> Iterable[tuple[str, object]]: ...


Headers = HeaderItems | Iterable[tuple[str, object]]


class HeaderView:
    """Headers by lowercased name, every occurrence kept in order, values unfolded and stripped."""

    def __init__(self, headers: Headers) -> None:
        pairs = headers.items() if isinstance(headers, HeaderItems) else headers
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            unfolded = " ".join(str(value).split())
            self._values.setdefault(name.strip().lower(), []).append(unfolded)

    def all(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return name.lower() in self._values


@dataclass(frozen=True, slots=True)
class _Identity:
    """Who "we" are: the list domain (X-Loop, List-Post), our List-Ids and our Message-ID domain."""

    own_domain: str
    list_ids: frozenset[str]
    message_id_domain: str


MailRule = Callable[[HeaderView, _Identity], MailVerdict | None]


def _addresses(values: Iterable[str]) -> list[str]:
    return [address.casefold() for _, address in getaddresses(list(values)) if address]


def _main_token(value: str) -> str:
    """The first word of a structured value, before parameters and comments: ``auto-replied; x=y``."""
    value = re.sub(r"\([^()]*\)", " ", value)
    return value.split(";", 1)[0].strip().strip('"').casefold()


def _list_id_key(value: str) -> str:
    match = re.search(r"<([^<>]+)>", value)
    return (match[1] if match else value).strip().casefold()


def _own_message_id(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """A Message-ID we minted: our own relayed mail came back in."""
    for value in headers.all("message-id"):
        if is_own_message_id(value, me.message_id_domain):
            return MailVerdict(MailClass.LOOP, f"Message-ID {parse_message_id(value)} is our own")
    return None


def _own_x_loop(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """X-Loop naming our domain: we stamped this mail on its way out."""
    domain = me.own_domain.casefold()
    for value in headers.all("x-loop"):
        for word in re.split(r"[\s,<>]+", value.casefold()):
            if word == domain or word.endswith("@" + domain):
                return MailVerdict(MailClass.LOOP, f"X-Loop {value!r} names our domain")
    return None


def _own_list_headers(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """Our List-Id (RFC 2919), or a List-Post (RFC 2369) to an address of our domain: a list mail of
    ours forwarded or resent whole (Mailman's loop rule looks at List-Post the same way)."""
    for value in headers.all("list-id"):
        if _list_id_key(value) in me.list_ids:
            return MailVerdict(MailClass.LOOP, f"List-Id {value!r} is ours")
    domain = "@" + me.own_domain.casefold()
    for value in headers.all("list-post"):
        for target in re.findall(r"<mailto:([^>?]+)", value, flags=re.IGNORECASE):
            if target.strip().casefold().endswith(domain):
                return MailVerdict(MailClass.LOOP, f"List-Post {value!r} is one of our lists")
    return None


def _content_type_report(headers: HeaderView) -> str | None:
    """The report-type of a ``multipart/report`` (RFC 6522), '' if it has none, None if not a
    report."""
    content_type = headers.first("content-type")
    if content_type is None or _main_token(content_type) != "multipart/report":
        return None
    match = re.search(r"report-type\s*=\s*\"?([\w.-]+)", content_type, flags=re.IGNORECASE)
    return match[1].casefold() if match else ""


def _delivery_status_report(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """A delivery status notification (RFC 3464): the standard form of a bounce."""
    if _content_type_report(headers) == "delivery-status":
        return MailVerdict(MailClass.BOUNCE, "delivery status report (multipart/report)")
    return None


def _failed_recipients(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """X-Failed-Recipients: Exim's bounces, often in plain text rather than RFC 3464 form."""
    if headers.has("x-failed-recipients"):
        return MailVerdict(MailClass.BOUNCE, "X-Failed-Recipients present")
    return None


def _auto_submitted(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """RFC 3834: any Auto-Submitted value but ``no`` marks automatic mail."""
    for value in headers.all("auto-submitted"):
        keyword = _main_token(value)
        if keyword and keyword != "no":
            return MailVerdict(MailClass.AUTO_REPLY, f"Auto-Submitted: {keyword}")
    return None


# Headers whose mere presence marks a responder (Gmail, cPanel/BoxTrapper, Communigate, DTC, FirstClass).
# X-Auto-Response-Suppress is *not* among them: it asks others not to auto-reply, and people's mail from
# Outlook carries it too.
_RESPONDER_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autogenerated",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-fc-machinegenerated",
)


def _responder_headers(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """De-facto headers that responders add where they do not speak RFC 3834."""
    for name in _RESPONDER_HEADERS:
        for value in headers.all(name):
            if _main_token(value) not in {"no", "false", "0"}:
                return MailVerdict(MailClass.AUTO_REPLY, f"{name} present")
    return None


_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


def _precedence(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """Precedence bulk/junk/list (RFC 2076, discouraged but common): newsletters, lists and
    responders."""
    for name in ("precedence", "x-precedence"):
        for value in headers.all(name):
            token = _main_token(value)
            if token in _AUTOMATIC_PRECEDENCE:
                return MailVerdict(MailClass.AUTO_REPLY, f"Precedence: {token}")
    return None


def _other_report(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """Any other multipart/report: read receipts (RFC 8098), feedback reports; machine-written."""
    report = _content_type_report(headers)
    if report is None:
        return None
    return MailVerdict(MailClass.AUTO_REPLY, f"{report or 'untyped'} report (multipart/report)")


# Subjects that responders write without any header. Anchored, and the bare phrases need a colon or the
# end of the subject, so "Out of office etiquette" written by a person is still relayed.
_AUTO_SUBJECT = re.compile(
    r"^(?:"
    r"(?:automatic reply|auto[- ]?reply|auto[- ]?response|autosvar|automatisk svar|abwesenheitsnotiz"
    r"|automatische antwort|réponse automatique|respuesta automática|risposta automatica"
    r"|automatisch antwoord|resposta automática|out of (?:the )?office(?: autoreply| alert| reply)?"
    r"|absence du bureau|fuera de la oficina)\s*(?::|$)"
    r"|.*\bis out of (?:the )?office\.?$)",
)


def _auto_subject(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """Out-of-office subjects from responders that set no header at all (older Exchange, Lotus
    Notes)."""
    subject = " ".join((headers.first("subject") or "").split()).casefold()
    if _AUTO_SUBJECT.match(subject):
        return MailVerdict(MailClass.AUTO_REPLY, f"automatic-reply subject {subject!r}")
    return None


def _null_sender(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """An empty Return-Path (``<>``): mail sent with the null envelope sender, as MTAs send bounces."""
    for value in headers.all("return-path"):
        if value.strip().strip("<>").strip() == "":
            return MailVerdict(MailClass.BOUNCE, "empty Return-Path <>")
    return None


_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})


def _daemon_sender(headers: HeaderView, me: _Identity) -> MailVerdict | None:
    """Mail from MAILER-DAEMON or postmaster: the authors of bounces that carry no report."""
    for name in ("return-path", "sender", "from"):
        values = headers.all(name)
        if not any(local in value.casefold() for value in values for local in _DAEMON_LOCAL_PARTS):
            continue  # parsing addresses is slow, and neither name appears anywhere in these values
        for address in _addresses(values):
            local = address.rpartition("@")[0] or address
            if local in _DAEMON_LOCAL_PARTS:
                return MailVerdict(MailClass.BOUNCE, f"{name} is {address}")
    return None


ShapeRule = Callable[[MailShape], MailVerdict | None]

_DELIVERY_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_DISPOSITION_TYPES = frozenset(
    {"message/disposition-notification", "message/global-disposition-notification"}
)
_FEEDBACK_TYPES = frozenset({"message/feedback-report"})


def _delivery_status_part(shape: MailShape) -> MailVerdict | None:
    """A delivery status part (RFC 3464, RFC 6533) anywhere: a bounce, however it is wrapped."""
    found = next((t for t in shape.part_types if t in _DELIVERY_STATUS_TYPES), None)
    return MailVerdict(MailClass.BOUNCE, f"{found} part (delivery status report)") if found else None


def _feedback_part(shape: MailShape) -> MailVerdict | None:
    """An ARF feedback report (RFC 5965): a mailbox provider telling that someone marked mail as spam."""
    if any(t in _FEEDBACK_TYPES for t in shape.part_types):
        return MailVerdict(MailClass.AUTO_REPLY, "message/feedback-report part (abuse feedback report)")
    return None


def _disposition_part(shape: MailShape) -> MailVerdict | None:
    """A disposition notification (RFC 8098): a read receipt."""
    if any(t in _DISPOSITION_TYPES for t in shape.part_types):
        return MailVerdict(MailClass.AUTO_REPLY, "disposition notification part (read receipt)")
    return None


# How mail servers open their failure notices: Postfix, Exim, qmail, Sendmail, Exchange (2003 to
# Microsoft 365), Gmail, Yahoo, Courier, Lotus Domino, GroupWise. Only the very start of the text counts,
# so a member who pastes a bounce under a line of her own to ask about it is still relayed.
_BOUNCE_OPENINGS = re.compile(
    r"^(?:"
    r"this is the mail system at host"
    r"|this message was created automatically by mail delivery software"
    r"|hi\. this is the qmail-send program"
    r"|the original message was received at .{0,120}\bfrom\b"
    r"|delivery has failed to these recipients or groups"
    r"|delivery is delayed to these recipients or groups"
    r"|your message to \S+ couldn't be delivered"
    r"|your message did not reach some or all of the intended recipients"
    r"|this is an automatically generated delivery status notification"
    r"|delivery to the following recipients? (?:failed|has been delayed)"
    r"|\*\* (?:address not found|message not delivered|message blocked|delivery incomplete) \*\*"
    r"|sorry, we were unable to deliver your message"
    r"|this is a delivery status notification from"
    r"|the message that you sent was undeliverable"
    r"|your message\s+subject: .{0,300}was not delivered to"
    r"|i'm sorry to have to inform you that your message could not be delivered"
    r")",
    re.DOTALL,
)


def _bounce_opening(shape: MailShape) -> MailVerdict | None:
    """A text whose first line opens the way a mail server's failure notice does."""
    lines = [line.strip() for line in shape.opening.splitlines() if line.strip()]
    if lines and _BOUNCE_OPENINGS.match(" ".join(lines).casefold()):
        return MailVerdict(MailClass.BOUNCE, f"opens like a failure notice: {lines[0][:60]!r}")
    return None


SHAPE_RULES: tuple[ShapeRule, ...] = (
    _delivery_status_part,
    _feedback_part,
    _disposition_part,
    _bounce_opening,
)


MAIL_RULES: tuple[MailRule, ...] = (
    _own_message_id,
    _own_x_loop,
    _own_list_headers,
    _delivery_status_report,
    _failed_recipients,
    _auto_submitted,
    _responder_headers,
    _precedence,
    _other_report,
    _auto_subject,
    _null_sender,
    _daemon_sender,
)


_SHAPE_AFTER = 4
"""The shape rules run after our own traces and the standard report header (``MAIL_RULES[:4]``)."""


def classify_mail(
    headers: Headers,
    *,
    own_domain: str,
    list_ids: Collection[str],
    own_message_id_domain: str,
    shape: MailShape | None = None,
) -> MailVerdict:
    """Classify an inbound mail from its headers; the first matching rule decides, else it is
    relayed.

    ``headers`` may be a Mapping, an ``email.message.Message`` or (name, value) pairs; names compare
    case-insensitively and every occurrence of a repeated header is considered. ``list_ids`` may be
    given with or without angle brackets.
    """
    view = HeaderView(headers)
    me = _Identity(
        own_domain=own_domain.strip().casefold(),
        list_ids=frozenset(_list_id_key(list_id) for list_id in list_ids),
        message_id_domain=own_message_id_domain,
    )
    for rule in MAIL_RULES[:_SHAPE_AFTER]:
        verdict = rule(view, me)
        if verdict is not None:
            return verdict
    if shape is not None:
        for shape_rule in SHAPE_RULES:
            verdict = shape_rule(shape)
            if verdict is not None:
                return verdict
    for rule in MAIL_RULES[_SHAPE_AFTER:]:
        verdict = rule(view, me)
        if verdict is not None:
            return verdict
    return MailVerdict(MailClass.RELAY, "no automatic or looping signs")


ARCHIVE_RULES: tuple[MailRule, ...] = tuple(
    rule for rule in MAIL_RULES if rule not in (_own_message_id, _own_x_loop, _own_list_headers, _precedence)
)
"""The rules that still mean something for a mail in a list's archive: the signs of bounces and
automatic replies. Our own traces do not (a list's archive carries its own List-Id and List-Post, and
a mail we sent is recognised as already stored by its Message-ID), nor does ``Precedence: list``, which
list servers add to every copy they distribute."""


ARCHIVE_HEADERS = frozenset(
    {"content-type", "x-failed-recipients", "auto-submitted", *_RESPONDER_HEADERS, "subject"}
    | {"return-path", "sender", "from"}
)
"""The headers ``ARCHIVE_RULES`` read: decoding only these keeps classifying cheap for an import."""


def classify_archived_mail(headers: Headers) -> MailVerdict:
    """Whether a mail from an archive is a bounce or an automatic reply (never imported as a post)."""
    view = HeaderView(headers)
    me = _Identity(own_domain="", list_ids=frozenset(), message_id_domain="")
    for rule in ARCHIVE_RULES:
        verdict = rule(view, me)
        if verdict is not None:
            return verdict
    return MailVerdict(MailClass.RELAY, "no automatic signs")


def is_own_matrix_event(sender: str, bot_user_id: str, content: Mapping[str, object]) -> bool:
    """Whether an event is the bridge's own: sent by the bot, or carrying our origin marker (also
    inside the ``m.new_content`` of an edit), so it is never relayed back out."""
    if sender == bot_user_id or ORIGIN_MARKER_KEY in content:
        return True
    new_content = content.get("m.new_content")
    return isinstance(new_content, Mapping) and ORIGIN_MARKER_KEY in new_content
