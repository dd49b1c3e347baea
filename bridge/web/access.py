"""Who is reading, and whether they may read a community's archive.

A signed-in visitor carries a session cookie: a random token whose SHA-256 names a row in the store
(``bridge.store.web_sessions``). The cookie is HttpOnly (no script reads it), SameSite=Lax (another
site's form cannot post with it) and Secure with the ``__Host-`` prefix when ``base_url`` is https.

A community's archive is ``public`` (anyone reads it) or ``members`` (the default): then only a
signed-in member of that community reads it. Everyone else gets the same answer whether the
community exists or not, so the answer names no community and no thread: a visitor who is not signed
in is sent to the sign-in page, a signed-in one who is no member gets 403.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

from bridge.core.model import Role
from bridge.store import CommunityRecord, Store
from bridge.store.archive import Reader

ArchiveMode = Literal["members", "public"]
TEAM_ROLES = frozenset({Role.CONVENER, Role.CORE})
"""The roles that read a community's report: its conveners and core team."""
READER: web.RequestKey[Reader | None] = web.RequestKey("icop_reader", object)  # type: ignore[arg-type]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A secret for a cookie or a link: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class CommunitySite:
    """A configured community as the archive serves it."""

    record: CommunityRecord
    name: str
    description: str
    archive: ArchiveMode

    @property
    def slug(self) -> str:
        return self.record.slug

    @property
    def public(self) -> bool:
        return self.archive == "public"

    def readable_by(self, reader: Reader | None) -> bool:
        return self.public or (reader is not None and reader.member_of(self.record.id))

    def led_by(self, reader: Reader | None) -> bool:
        """Whether the signed-in reader convenes this community or is on its core team (the report)."""
        return reader is not None and reader.memberships.get(self.record.id) in TEAM_ROLES


class Sessions:
    """Reads and writes the session cookie; finds the reader behind it once per request."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        *,
        lifetime: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.secure = urlsplit(str(base_url)).scheme == "https"
        self.cookie_name = "__Host-icop_session" if self.secure else "icop_session"
        self.lifetime = lifetime
        self.clock = clock

    async def reader(self, request: web.Request) -> Reader | None:
        """The signed-in reader, or None (no cookie, an unknown or expired session)."""
        if READER in request:
            return request[READER]
        reader = None
        token = request.cookies.get(self.cookie_name)
        if token and len(token) < 200:
            person = await self.store.web_sessions.person_of(token_hash(token), self.clock())
            reader = await self.store.archive.reader(person) if person is not None else None
        request[READER] = reader
        return reader

    async def open(self, response: web.StreamResponse, person_id: int) -> None:
        """Start a session for ``person_id`` and hand its cookie to the browser."""
        token = new_token()
        now = self.clock()
        await self.store.web_sessions.open(token_hash(token), person_id, now, now + self.lifetime)
        response.set_cookie(
            self.cookie_name,
            token,
            max_age=int(self.lifetime.total_seconds()),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="Lax",
        )

    async def close(self, request: web.Request, response: web.StreamResponse) -> None:
        """Sign out: the stored session is deleted, so a copied cookie stops working too."""
        token = request.cookies.get(self.cookie_name)
        if token:
            await self.store.web_sessions.close(token_hash(token))
        response.del_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Lax")


def see_other(location: str, *, status: int = 303) -> web.Response:
    """A redirect as a plain response, so a cookie set on it is sent with it."""
    return web.Response(status=status, headers={"Location": location})


def safe_next(value: str | None) -> str:
    """A path on this site to return to after signing in; ``/`` for anything else (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return "/"
    return value[:2000]


def same_origin(request: web.Request, base_url: str) -> bool:
    """A state-changing POST must come from our own pages: its Origin (when the browser sends one) is
    ``base_url``'s or the address the request came to."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # older browsers and non-browser clients; SameSite=Lax guards the session anyway
    ours = urlsplit(str(base_url))
    allowed = {f"{ours.scheme}://{ours.netloc}", f"{request.scheme}://{request.host}"}
    return origin in allowed
