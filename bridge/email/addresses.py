"""The addresses of a list: who it is, where replies and bounces go, and how to recognise them coming back.

Every address the bridge hands out for one list lands in the list's own mailbox: the list address
itself, the signed reply address ``list+TOKEN@domain`` and the VERP return path
``list+bounce=ana=example.org@domain``. Dovecot's LMTP strips the ``+detail`` when it picks the mailbox,
and keeps the full address in ``Delivered-To``, which is where inbound parsing reads it back. One
mailbox per list domain is all a deployment has to set up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.core.tokens import token_from_address

SUBADDRESS_SEPARATOR = "+"
BOUNCE_TAG = "bounce="
"""Starts the detail of a VERP return path; reply tokens are base32 and never contain ``=``."""

# RFC 5322 atext without "%": "%" quotes whatever else a recipient's local part holds.
_ATEXT_SAFE = re.compile(r"[A-Za-z0-9!#$&'*+/=?^_`{|}~.-]")
_QUOTED_BYTE = re.compile(r"%([0-9A-Fa-f]{2})")
_LIST_LABEL_JUNK = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class ListIdentity:
    """What tells one community's list apart: its slug, its address and its subject tag.

    ``name`` is the community's name as members know it (used in ``From`` and ``List-Id``);
    ``message_id_domain`` is the domain of the Message-IDs the bridge mints for this list, the list
    domain unless the deployment chose another.
    """

    slug: str
    list_address: str
    subject_prefix: str
    name: str = ""
    message_id_domain: str | None = None

    @property
    def domain(self) -> str:
        return list_domain(self.list_address)

    @property
    def own_message_id_domain(self) -> str:
        return (self.message_id_domain or self.domain).strip().lower()

    @property
    def list_id(self) -> str:
        return list_id(self.slug, self.list_address)


def split_address(address: str) -> tuple[str, str] | None:
    """``(local, domain)`` of a bare address, angle brackets tolerated; None when it is not one."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return None
    return local, domain


def _require(address: str) -> tuple[str, str]:
    parts = split_address(address)
    if parts is None:
        raise ValueError(f"not an email address: {address!r}")
    return parts


def list_domain(list_address: str) -> str:
    """The domain of a list address, lowercased."""
    return _require(list_address)[1].lower()


def list_id(community_slug: str, list_address: str) -> str:
    """The RFC 2919 list identifier ``<slug.domain>``, stable for the life of the list.

    The slug becomes the list label (letters, digits and hyphens), the list domain its namespace.
    """
    label = _LIST_LABEL_JUNK.sub("-", community_slug.strip().lower()).strip("-")
    if not label:
        raise ValueError(f"a list id needs a slug with letters or digits: {community_slug!r}")
    return f"<{label}.{list_domain(list_address)}>"


def is_list_recipient(address: str, list_address: str) -> bool:
    """Whether ``address`` is the list address or one of its subaddresses (``list+anything@``)."""
    got, ours = split_address(address), split_address(list_address)
    if got is None or ours is None or got[1].casefold() != ours[1].casefold():
        return False
    local, list_local = got[0].casefold(), ours[0].casefold()
    return local == list_local or local.startswith(list_local + SUBADDRESS_SEPARATOR)


def _quote_local(local: str) -> str:
    return "".join(char if _ATEXT_SAFE.fullmatch(char) else _quote_char(char) for char in local)


def _quote_char(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _unquote_local(local: str) -> str:
    raw = _QUOTED_BYTE.sub(lambda m: chr(int(m[1], 16)), local)
    # Multi-byte characters were quoted byte by byte: put their UTF-8 back together.
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def verp_address(list_address: str, recipient: str) -> str:
    """The return path of list mail to ``recipient``: ``list+bounce=ana=example.org@domain``.

    A bounce comes back to it and names the member without reading the report. The recipient's
    ``@`` becomes ``=`` (as in qmail/Postfix VERP); characters an unquoted local part cannot hold
    are %-quoted so every address round-trips through :func:`recipient_from_verp`.
    """
    list_local, domain = _require(list_address)
    local, recipient_domain = _require(recipient)
    detail = f"{BOUNCE_TAG}{_quote_local(local)}={_quote_local(recipient_domain.lower())}"
    return f"{list_local}{SUBADDRESS_SEPARATOR}{detail}@{domain.lower()}"


def recipient_from_verp(address: str, list_address: str) -> str | None:
    """The member a VERP return path of ``list_address`` names; None for any other address.

    The list part compares case-insensitively, as MTAs and LMTP may change its case; the recipient
    comes back as it was encoded (its domain lowercased).
    """
    detail = _detail(address, list_address)
    if detail is None or not detail.casefold().startswith(BOUNCE_TAG):
        return None
    local, equals, domain = detail[len(BOUNCE_TAG) :].rpartition("=")
    if not equals or not local or not domain:
        return None
    return f"{_unquote_local(local)}@{_unquote_local(domain).lower()}"


def reply_token_from_address(address: str, list_address: str) -> str | None:
    """The token of a reply address ``list+TOKEN@domain`` (lowercased); None for the list address
    itself, a VERP return path or another list's address."""
    detail = _detail(address, list_address)
    if detail is None or detail.casefold().startswith(BOUNCE_TAG):
        return None
    return token_from_address(address, list_address, separator=SUBADDRESS_SEPARATOR)


def _detail(address: str, list_address: str) -> str | None:
    got, ours = split_address(address), split_address(list_address)
    if got is None or ours is None or got[1].casefold() != ours[1].casefold():
        return None
    head = ours[0].casefold() + SUBADDRESS_SEPARATOR
    if not got[0].casefold().startswith(head):
        return None
    return got[0][len(head) :] or None
