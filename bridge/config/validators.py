"""Checks for the identifiers a convener types into config: addresses, Matrix ids, rooms, time zones.

Each returns the normalised value or raises ``ValueError`` with a message meant for a person, so the
config loader can report it as ``FILE:LINE: field: message``.
"""

from __future__ import annotations

import ipaddress
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_SERVER_NAME = re.compile(rf"^(?:{_HOSTNAME}|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_EMAIL_DOMAIN = re.compile(rf"^{_HOSTNAME}$")
_MATRIX_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
_ROOM_ID_OPAQUE = re.compile(r"^[A-Za-z0-9_\-+/=.]+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def email_address(value: str) -> str:
    """A plain ``local@domain`` address (no display name), domain lowercased."""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{value!r} is not an email address (expected local@domain)")
    if len(value) > 254 or len(local) > 64:
        raise ValueError(f"{value!r} is too long for an email address")
    if not _EMAIL_LOCAL.match(local):
        raise ValueError(f"{value!r} is not an email address: invalid characters before '@'")
    if not _EMAIL_DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not an email address: {domain!r} is not a valid domain")
    return f"{local}@{domain.lower()}"


def matrix_user_id(value: str) -> str:
    """A Matrix user id ``@localpart:server``."""
    if not value.startswith("@") or ":" not in value:
        raise ValueError(f"{value!r} is not a Matrix user id (expected @name:server)")
    localpart, _, server = value[1:].partition(":")
    if not localpart or not _MATRIX_LOCALPART.match(localpart):
        raise ValueError(
            f"{value!r} is not a Matrix user id: the name part may hold only a-z, 0-9 and ._=-/+"
        )
    _check_server(value, server)
    return value


def matrix_room(value: str) -> str:
    """A room alias ``#alias:server`` or a room id ``!opaque:server`` (or ``!opaque`` in room v12)."""
    if value.startswith("#"):
        alias, sep, server = value[1:].partition(":")
        if not alias or not sep or any(char.isspace() for char in alias):
            raise ValueError(f"{value!r} is not a room alias (expected #name:server)")
        _check_server(value, server)
        return value
    if value.startswith("!"):
        opaque, sep, server = value[1:].partition(":")
        if not opaque or not _ROOM_ID_OPAQUE.match(opaque):
            raise ValueError(f"{value!r} is not a room id (expected !id:server)")
        if sep:
            _check_server(value, server)
        return value
    raise ValueError(f"{value!r} is not a room: use an alias (#name:server) or a room id (!id:server)")


def _check_server(whole: str, server: str) -> None:
    if not _SERVER_NAME.match(server):
        raise ValueError(f"{whole!r}: {server!r} is not a valid Matrix server name")


def time_zone(value: str) -> str:
    """An IANA time zone name such as ``Europe/Dublin``."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known time zone (use an IANA name such as 'Europe/Dublin')"
        ) from None
    return value


def slug(value: str) -> str:
    """A community slug: lowercase letters, digits and inner hyphens, used in URLs and List-Id."""
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid slug: use 1-64 lowercase letters, digits and inner hyphens"
        )
    return value


def http_url(value: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def network(value: str) -> str:
    """An IP network (``10.0.0.0/8``, ``::1/128``) or a single address, in its normal form."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP network (e.g. 10.0.0.0/8 or 192.0.2.7)") from None


def bind_address(value: str) -> str:
    """``host:port`` for the web server."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8080)")
    return value
