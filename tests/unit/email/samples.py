"""Raw mail as clients really send it, and the list identities the tests parse it against."""

from datetime import UTC, datetime

from bridge.email.addresses import ListIdentity
from bridge.email.inbound import ParsedMail, parse_list_mail

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
PM = ListIdentity("pm-practice", "pm-practice@lists.example.com", "pm", "Project Management Practice")
RISK = ListIdentity("risk", "risk@lists.example.com", "risk", "Risk Circle")
COMMUNITIES = (PM, RISK)

BASE_HEADERS = (
    "Delivered-To: pm-practice@lists.example.com\n"
    "Return-Path: <ana@example.org>\n"
    "From: Ana Souza <ana@example.org>\n"
    "To: pm-practice@lists.example.com\n"
    "Subject: Kick-off\n"
    "Date: Tue, 01 Oct 2024 10:00:00 +0200\n"
    "Message-ID: <m1@mail.example.org>\n"
)


def crlf(text: str | bytes) -> bytes:
    """Mail on the wire: CRLF line ends."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mail(body: str | bytes, headers: str = "", *, base: str = BASE_HEADERS) -> bytes:
    """A raw mail: ``headers`` replace the same-named base headers; ``body`` follows a blank line."""
    replaced = {line.split(":", 1)[0].lower() for line in headers.splitlines() if ":" in line}
    kept = "".join(line + "\n" for line in base.splitlines() if line.split(":", 1)[0].lower() not in replaced)
    head = (kept + headers).encode("utf-8")
    data = body.encode("utf-8") if isinstance(body, str) else body
    return crlf(head + b"\n" + data)


def parse(raw: bytes) -> ParsedMail:
    return parse_list_mail(raw, COMMUNITIES, now=NOW)


def mime(text: str | bytes) -> bytes:
    """A raw mail from MIME headers and body written together (blank line between)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    head, _, body = data.partition(b"\n\n")
    return mail(body, head.decode("utf-8") + "\n")
