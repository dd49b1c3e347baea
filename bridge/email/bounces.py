"""Bounces read: who could not be reached, how badly, and what the receiving server said.

The standard form is a delivery status notification (RFC 3464: ``multipart/report;
report-type=delivery-status`` with a ``message/delivery-status`` part holding one block of fields per
recipient). Much of the internet still sends free text instead, so the common shapes are read too:
Postfix, Exim, qmail, Exchange/Outlook and Gmail notices. Whatever is read, the VERP return path the
bounce came back to names the member; the report only says how bad it was. Pure and total: bytes in,
reports out, never an exception, however broken the mail.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from enum import StrEnum

from bridge.email.header_text import header_text, raw_first, raw_values
from bridge.email.mime_parts import payload_bytes
from bridge.formatting.charset import decode_bytes

__all__ = ["BounceAction", "BounceParse", "BounceReport", "Severity", "parse_bounce"]

MAX_TEXT = 64_000
"""How much of a free-text bounce is read: the explanation is at the top, the returned mail after it."""
MAX_DIAGNOSTIC = 500


class BounceAction(StrEnum):
    """The RFC 3464 ``Action`` of one recipient, or what a free-text notice amounts to."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """What a report means for the member's address: it does not work, it may not work, or no harm."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class BounceReport:
    """One recipient's fate as a bounce reports it.

    ``recipient`` is None when the report does not name one (the VERP address still does);
    ``status`` is the enhanced status code (``5.1.1``) when one was found, else an SMTP reply code
    (``550``); ``diagnostic`` the server's words, shortened.
    """

    recipient: str | None
    action: BounceAction
    status: str | None = None
    diagnostic: str = ""

    @property
    def severity(self) -> Severity:
        """Failed with a 4.x.x status → transient, failed otherwise → permanent; delays and
        successes → none; an unknown action is judged by its status (5 permanent, 4 transient)."""
        klass = self.status[0] if self.status else ""
        if self.action is BounceAction.FAILED:
            return Severity.TRANSIENT if klass == "4" else Severity.PERMANENT
        if self.action is BounceAction.UNKNOWN:
            return {"5": Severity.PERMANENT, "4": Severity.TRANSIENT}.get(klass, Severity.NONE)
        return Severity.NONE

    @property
    def permanent(self) -> bool:
        return self.severity is Severity.PERMANENT


@dataclass(frozen=True, slots=True)
class BounceParse:
    """Every report found and the shape it was read from (``rfc3464``, ``postfix``, ``exim``,
    ``qmail``, ``exchange``, ``gmail``, ``generic`` or ``unparsed``)."""

    reports: tuple[BounceReport, ...]
    format: str

    def for_recipient(self, address: str | None) -> tuple[BounceReport, ...]:
        """The reports naming ``address``; when none does, every report: a forwarding mailbox bounces
        under its final address, and the VERP return path is the stronger evidence of whose it is."""
        if address is None:
            return self.reports
        wanted = address.strip().lower()
        named = [r for r in self.reports if r.recipient and r.recipient.lower() == wanted]
        if named:
            return tuple(named)
        return self.reports

    def worst(self, address: str | None = None) -> BounceReport | None:
        order = {Severity.PERMANENT: 0, Severity.TRANSIENT: 1, Severity.NONE: 2}
        reports = sorted(self.for_recipient(address), key=lambda r: order[r.severity])
        return reports[0] if reports else None


# -- codes and addresses -------------------------------------------------------------------------

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_REPLY = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)", re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_TYPE_PREFIX = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*")
_SPACE = re.compile(r"\s+")


def _status_of(text: str) -> str | None:
    found = _ENHANCED.search(text)
    if found:
        return ".".join(found.groups())
    reply = _SMTP_REPLY.search(text)
    return reply[1] if reply else None


def _short(text: str) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= MAX_DIAGNOSTIC else flat[: MAX_DIAGNOSTIC - 1] + "…"


def _address(value: str | None) -> str | None:
    """``rfc822; <Ana@Example.org>`` → ``Ana@Example.org``."""
    if not value:
        return None
    found = _ADDRESS.search(_TYPE_PREFIX.sub("", value))
    return found[0].strip(".") if found else None


# -- parsing -------------------------------------------------------------------------------------


def parse_bounce(raw: bytes) -> BounceParse:
    """Every recipient report a bounce holds; ``unparsed`` with no reports when none could be read."""
    try:
        message = email.message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # the parser has raised on hostile input before; a bounce is not worth a crash
        return BounceParse((), "unparsed")
    try:
        return _parse(message)
    except Exception:  # total by contract: a report we cannot read is an unparsed bounce
        return BounceParse((), "unparsed")


def _parse(message: Message) -> BounceParse:
    standard = _delivery_status(message)
    if standard:
        return BounceParse(tuple(standard), "rfc3464")
    subject = header_text(raw_first(message, "subject"))
    text = _plain_text(message)
    failed_header = [a for v in raw_values(message, "x-failed-recipients") if (a := _address(v))]
    for name, reader in _FREE_TEXT_READERS:
        reports = reader(text, subject)
        if reports:
            if name == "exim" and failed_header and all(r.recipient is None for r in reports):
                reports = [_with_recipient(reports[0], a) for a in failed_header]
            return BounceParse(tuple(reports), name)
    status = _status_of(text)
    if failed_header:
        return BounceParse(
            tuple(BounceReport(a, BounceAction.FAILED, status, "") for a in failed_header), "generic"
        )
    if status is not None:
        return BounceParse(
            (BounceReport(None, BounceAction.UNKNOWN, status, _around(text, status)),), "generic"
        )
    return BounceParse((), "unparsed")


def _with_recipient(report: BounceReport, address: str) -> BounceReport:
    return BounceReport(address, report.action, report.status, report.diagnostic)


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    return _short(text[line_start : line_end if line_end >= 0 else len(text)])


# -- RFC 3464 ------------------------------------------------------------------------------------


def _delivery_status(message: Message) -> list[BounceReport]:
    reports: list[BounceReport] = []
    for part in message.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = _field_blocks(part)
        for fields in blocks[1:] if len(blocks) > 1 else blocks:
            report = _recipient_report(fields)
            if report is not None:
                reports.append(report)
    return reports


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message block then one block per recipient, as lowercase field → unfolded value."""
    payload = part.get_payload()
    if isinstance(payload, list):  # compat32 parses each block as a headers-only message
        parts = [block for block in payload if isinstance(block, Message)]
        return [{k.lower(): unfold_value(v) for k, v in block.items()} for block in parts]
    text = decode_bytes(payload_bytes(part), part.get_content_charset())
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text.strip()):
        fields: dict[str, str] = {}
        name = ""
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
                continue
            key, colon, value = line.partition(":")
            if colon:
                name = key.strip().lower()
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def unfold_value(value: str) -> str:
    return _SPACE.sub(" ", header_text(str(value))).strip()


def _recipient_report(fields: dict[str, str]) -> BounceReport | None:
    recipient = _address(fields.get("final-recipient")) or _address(fields.get("original-recipient"))
    action_text = fields.get("action", "").strip().lower()
    if recipient is None and not action_text and "status" not in fields:
        return None  # the per-message block, or noise
    try:
        action = BounceAction(action_text.split()[0] if action_text else "unknown")
    except ValueError:
        action = BounceAction.UNKNOWN
    diagnostic = _TYPE_PREFIX.sub("", fields.get("diagnostic-code", ""))
    status = _status_of(fields.get("status", "")) or _status_of(diagnostic)
    return BounceReport(recipient, action, status, _short(diagnostic))


# -- free text -----------------------------------------------------------------------------------


def _plain_text(message: Message) -> str:
    """The first text/plain part (or the whole body of a one-part mail), decoded leniently."""
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() in ("text/plain", "text/html") or not message.is_multipart():
            text = decode_bytes(payload_bytes(part)[:MAX_TEXT], part.get_content_charset())
            if part.get_content_type() == "text/html":
                text = re.sub(r"<[^>]+>", " ", text)
            return text.replace("\r\n", "\n")
    return ""


_POSTFIX_INTRO = re.compile(
    r"This is the mail system at host|could not be delivered to one or more recipients"
)
_POSTFIX_DELAY = re.compile(r"THIS IS A WARNING ONLY|Delayed Mail \(still being retried\)", re.IGNORECASE)
_ANGLE_ENTRY = re.compile(
    r"^<([^<>\s]+@[^<>\s]+)>:[ \t]*(.*?)(?=\n\s*\n|\n<[^<>\s]+@|\Z)", re.MULTILINE | re.DOTALL
)


def _postfix(text: str, subject: str) -> list[BounceReport]:
    if not _POSTFIX_INTRO.search(text):
        return []
    delayed = bool(_POSTFIX_DELAY.search(text) or _POSTFIX_DELAY.search(subject))
    head = re.split(r"^-- ?$|^--- ", text, maxsplit=1, flags=re.MULTILINE)[0]
    return _angle_entries(head, BounceAction.DELAYED if delayed else BounceAction.FAILED)


def _angle_entries(text: str, action: BounceAction) -> list[BounceReport]:
    reports = []
    for match in _ANGLE_ENTRY.finditer(text):
        diagnostic = match[2]
        reports.append(BounceReport(match[1], action, _status_of(diagnostic), _short(diagnostic)))
    return reports


_EXIM_INTRO = re.compile(r"This message was created automatically by mail delivery software")
_EXIM_DELAY = re.compile(
    r"has not yet been delivered|not yet been delivered|Warning: message .* delayed", re.I
)
_EXIM_FAILED = re.compile(
    r"(?:following address(?:\(es\))? failed|could not be delivered)[^\n]*:\s*\n"
    r"(.*?)(?:\n-{3,}|\n\s*Reporting-MTA|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_EXIM_ADDRESS_LINE = re.compile(r"^[ \t]*<?([^<>\s]+@[^<>\s:]+?)>?:?[ \t]*$", re.MULTILINE)


def _exim(text: str, subject: str) -> list[BounceReport]:
    if not _EXIM_INTRO.search(text):
        return []
    delayed = bool(_EXIM_DELAY.search(text)) and not re.search(r"permanent error", text, re.I)
    action = BounceAction.DELAYED if delayed else BounceAction.FAILED
    section = _EXIM_FAILED.search(text)
    body = section[1] if section else text
    starts = list(_EXIM_ADDRESS_LINE.finditer(body))
    if not starts:
        status = _status_of(body)
        return [BounceReport(None, action, status, _short(body[:MAX_DIAGNOSTIC]))]
    reports = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(body)
        diagnostic = body[start.end() : end]
        transient = re.search(r"temporary error|retry time not reached", diagnostic, re.I)
        status = _status_of(diagnostic)
        if transient and status is None:
            status = "4.0.0"
        reports.append(BounceReport(start[1], action, status, _short(diagnostic)))
    return reports


_QMAIL_INTRO = re.compile(r"Hi\. This is the qmail-send program")


def _qmail(text: str, subject: str) -> list[BounceReport]:
    if not _QMAIL_INTRO.search(text):
        return []
    head = text.split("--- Below this line is a copy of the message.", 1)[0]
    return _angle_entries(head, BounceAction.FAILED)


_EXCHANGE_FAILED = re.compile(
    r"Delivery has failed to these recipients or groups:|Your message to (\S+@\S+?) couldn't be delivered"
)
_EXCHANGE_DELAYED = re.compile(r"Delivery is delayed to these recipients or groups:")
_EXCHANGE_REMOTE = re.compile(r"Remote Server returned '([^']*)'|Remote server returned '([^']*)'", re.I)


def _exchange(text: str, subject: str) -> list[BounceReport]:
    failed, delayed = _EXCHANGE_FAILED.search(text), _EXCHANGE_DELAYED.search(text)
    if not (failed or delayed):
        return []
    action = BounceAction.FAILED if failed else BounceAction.DELAYED
    start = (failed or delayed).end()  # type: ignore[union-attr]
    recipients = [failed[1].rstrip(".")] if failed and failed[1] else []
    if not recipients:
        first_block = text[start:].strip().split("\n\n", 1)[0]
        recipients = list(dict.fromkeys(_ADDRESS.findall(first_block)))
    remote = _EXCHANGE_REMOTE.search(text)
    diagnostic = (remote[1] or remote[2]) if remote else ""
    status = _status_of(diagnostic) or _status_of(text[start:])
    return [BounceReport(r, action, status, _short(diagnostic)) for r in recipients] or [
        BounceReport(None, action, status, _short(diagnostic))
    ]


_GMAIL_SUBJECT = re.compile(r"Delivery Status Notification \((Failure|Delay)\)", re.I)
_GMAIL_DELAY_TEXT = re.compile(r"Message not delivered yet|Delivery incomplete|will retry", re.I)
_GMAIL_RECIPIENT = re.compile(
    r"(?:wasn't delivered to|Delivery to the following recipient failed permanently:|"
    r"Delivery to the following recipient has been delayed:|There was a temporary problem delivering"
    r" your message to)\s+<?(" + _ADDRESS.pattern + ")"
)
_GMAIL_RESPONSE = re.compile(
    r"(?:The response (?:from the remote server )?was:|Technical details of [a-z ]+:)"
    r"\s*\n+(.*?)(?:\n\s*\n|\Z)",
    re.DOTALL | re.I,
)


def _gmail(text: str, subject: str) -> list[BounceReport]:
    by_subject = _GMAIL_SUBJECT.search(subject)
    recipient = _GMAIL_RECIPIENT.search(text)
    if by_subject is None and recipient is None:
        return []
    delayed = (by_subject is not None and by_subject[1].lower() == "delay") or bool(
        _GMAIL_DELAY_TEXT.search(text)
    )
    response = _GMAIL_RESPONSE.search(text)
    diagnostic = response[1] if response else ""
    action = BounceAction.DELAYED if delayed else BounceAction.FAILED
    status = _status_of(diagnostic) or _status_of(text)
    return [BounceReport(recipient[1] if recipient else None, action, status, _short(diagnostic))]


_FREE_TEXT_READERS = (
    ("qmail", _qmail),
    ("exim", _exim),
    ("postfix", _postfix),
    ("exchange", _exchange),
    ("gmail", _gmail),
)
