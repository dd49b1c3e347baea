"""Signing in to the archive with a link sent by mail or by Matrix direct message.

``/login`` asks for an email address or a Matrix id. Whatever is typed, the answer is the same page
("if that is a member's address, a link is on its way"), given at once: the request is queued and a
supervised loop looks the address up and sends the link, so neither the words nor the time of the
answer tell a member from a stranger. A client address may ask ten times the hourly limit per hour
(then it gets 429); a person is sent at most ``sign_in_requests_per_hour`` links an hour, silently.

The link is ``/login/TOKEN``: a link token (purpose ``sign-in``, valid one hour) around a random nonce
that the store knows by its hash and accepts once. Following it shows a button; only the POST of that
button signs in, so a mail scanner that fetches every link does not use it up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from html import escape
from typing import Any, Protocol
from urllib.parse import urlencode

from aiohttp import web

from bridge.core import links
from bridge.core.model import Channel
from bridge.core.rate_limit import SlidingWindow
from bridge.core.tokens import sign_link_token, verify_link_token
from bridge.email.addresses import ListIdentity, verp_address
from bridge.email.outbound import OutgoingNotice, as_smtp_bytes, compose_notice_mail
from bridge.email.smtp import SmtpError
from bridge.matrix.session import MatrixError
from bridge.rendering import Renderer
from bridge.store import Store
from bridge.store.communities import normalise_email, normalise_matrix_id
from bridge.store.models import IdentityKind
from bridge.web.access import (
    CommunitySite,
    Sessions,
    new_token,
    safe_next,
    same_origin,
    see_other,
    token_hash,
)

log = logging.getLogger(__name__)

PURPOSE = "sign-in"
LINK_VALIDITY = timedelta(hours=1)
QUEUE_SIZE = 1000
MAX_ADDRESS = 320


class MailSender(Protocol):
    async def send(self, message_bytes: bytes, *, envelope_from: str, recipients: list[str]) -> Any: ...


class DirectSender(Protocol):
    async def send(self, user_id: str, body: str, html: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class SignInRequest:
    address: str
    next_path: str


def is_matrix_id(address: str) -> bool:
    return address.startswith("@") and ":" in address


class SignInCourier:
    """Looks up queued sign-in requests and sends each member a link; strangers get nothing."""

    def __init__(
        self,
        store: Store,
        signing_key: bytes,
        base_url: str,
        sites: Callable[[], Mapping[str, CommunitySite]],
        *,
        mail: MailSender | None,
        direct: DirectSender | None,
        per_hour: int,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.signing_key = signing_key
        self.base_url = str(base_url).rstrip("/")
        self.sites = sites
        self.mail = mail
        self.direct = direct
        self.per_hour = per_hour
        self.renderer = renderer or Renderer()
        self.clock = clock
        self.queue: asyncio.Queue[SignInRequest] = asyncio.Queue(QUEUE_SIZE)

    def submit(self, request: SignInRequest) -> None:
        try:
            self.queue.put_nowait(request)
        except asyncio.QueueFull:
            log.warning("sign-in queue full: a request was not served")

    async def run(self) -> None:
        """The supervised loop: one request at a time; a failure is logged and the next is served."""
        while True:
            request = await self.queue.get()
            try:
                await self.handle(request)
            except (SmtpError, MatrixError) as error:
                log.warning("could not send a sign-in link: %s", error)
            except Exception:
                log.exception("sign-in request failed")

    async def handle(self, request: SignInRequest) -> bool:
        """Send a link when the address is a reader's; True when one was sent."""
        matrix = is_matrix_id(request.address)
        kind = IdentityKind.MATRIX if matrix else IdentityKind.EMAIL
        address = normalise_matrix_id(request.address) if matrix else normalise_email(request.address)
        person = await self.store.archive.person_by_address(kind, address)
        reader = await self.store.archive.reader(person) if person is not None else None
        sites = {s.record.id: s for s in self.sites().values()}
        readable = [sites[c] for c in (reader.memberships if reader else {}) if c in sites]
        if reader is None or not readable:
            log.info("sign-in asked for an address that reads no archive here")
            return False
        now = self.clock()
        if (
            await self.store.web_sessions.links_since(reader.person_id, now - timedelta(hours=1))
            >= self.per_hour
        ):
            log.warning("sign-in links for person %d held back: hourly limit reached", reader.person_id)
            return False
        url = await self.link_for(
            reader.person_id, Channel.MATRIX if matrix else Channel.EMAIL, request.next_path
        )
        site = next((s for s in readable if request.next_path.startswith(f"/c/{s.slug}/")), readable[0])
        if matrix:
            if self.direct is None:
                return False
            await self.direct.send(address, _direct_text(url), _direct_html(url))
        else:
            if self.mail is None:
                return False
            await self._mail(site, address, url)
        log.info("sign-in link sent", extra={"person": reader.person_id, "channel": kind.value})
        return True

    async def link_for(self, person_id: int, channel: Channel, next_path: str) -> str:
        nonce = new_token()
        now = self.clock()
        expires = (now + LINK_VALIDITY).replace(microsecond=0)
        await self.store.web_sessions.issue_link(token_hash(nonce), person_id, channel, now, expires)
        token = sign_link_token(self.signing_key, PURPOSE, nonce, expires)
        query = f"?{urlencode({'next': next_path})}" if next_path != "/" else ""
        return f"{links.login_url(self.base_url)}/{token}{query}"

    async def _mail(self, site: CommunitySite, address: str, url: str) -> None:
        assert self.mail is not None
        record = site.record
        identity = ListIdentity(
            slug=record.slug, list_address=record.list_address, subject_prefix="", name=site.name
        )
        notice = OutgoingNotice(
            community=identity,
            recipient=address,
            subject="Your sign-in link",
            title="Sign in to the archive",
            message_id=make_msgid("sign-in", identity.domain).strip("<>"),
            paragraphs=(
                f"Someone (we hope you) asked to sign in to the archive of {site.name} with this address.",
                "The link works once, within one hour. If you did not ask for it, ignore this mail.",
            ),
            actions=(("Sign in", url),),
            date=self.clock(),
        )
        message = compose_notice_mail(notice, renderer=self.renderer)
        await self.mail.send(
            as_smtp_bytes(message),
            envelope_from=verp_address(record.list_address, address),
            recipients=[address],
        )


def _direct_text(url: str) -> str:
    return f"Your sign-in link for the archive (it works once, within one hour): {url}"


def _direct_html(url: str) -> str:
    link = escape(url)
    return f'Your sign-in link for the archive (it works once, within one hour): <a href="{link}">{link}</a>'


class SignInPages:
    """``/login`` (ask for a link), ``/login/TOKEN`` (use it), ``/logout``."""

    def __init__(
        self,
        sessions: Sessions,
        courier: SignInCourier,
        page: Callable[..., web.Response],
        base_url: str,
        *,
        per_hour: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.courier = courier
        self.page = page
        self.base_url = base_url
        self.clock = clock
        self.monotonic = monotonic
        self.per_client = SlidingWindow(limit=per_hour * 10, seconds=3600)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/login", self.form),
            web.post("/login", self.request_link),
            web.get("/login/{token}", self.confirm),
            web.post("/login/{token}", self.sign_in),
            web.post("/logout", self.sign_out),
        ]

    async def form(self, request: web.Request) -> web.Response:
        reader = await self.sessions.reader(request)
        return self.page(
            request,
            "login",
            "Sign in",
            reader=reader,
            state="form",
            next_path=safe_next(request.query.get("next")),
        )

    async def request_link(self, request: web.Request) -> web.Response:
        if not same_origin(request, self.base_url):
            return self.page(request, "refused", "Not allowed", status=403, reason="origin")
        form = await request.post()
        address = str(form.get("address", "")).strip()
        next_path = safe_next(str(form.get("next", "/")))
        if not address or len(address) > MAX_ADDRESS or ("@" not in address):
            return self.page(
                request,
                "login",
                "Sign in",
                status=400,
                state="form",
                next_path=next_path,
                error="Type the email address or the Matrix id (@name:server) you are a member with.",
            )
        if not self.per_client.allow(request.remote or "unknown", self.monotonic()):
            return self.page(request, "login", "Sign in", status=429, state="busy", next_path=next_path)
        self.courier.submit(SignInRequest(address, next_path))
        return self.page(
            request,
            "login",
            "Check your inbox",
            state="sent",
            next_path=next_path,
            by_chat=is_matrix_id(address),
        )

    async def confirm(self, request: web.Request) -> web.Response:
        nonce = self._nonce(request)
        store = self.sessions.store.web_sessions
        if nonce is None or not await store.link_usable(token_hash(nonce), self.clock()):
            return self.page(request, "login", "Sign in", status=400, state="invalid", next_path="/")
        return self.page(
            request, "login", "Sign in", state="confirm", next_path=safe_next(request.query.get("next"))
        )

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request, self.base_url):
            return self.page(request, "refused", "Not allowed", status=403, reason="origin")
        nonce = self._nonce(request)
        person = (
            await self.sessions.store.web_sessions.consume_link(token_hash(nonce), self.clock())
            if nonce
            else None
        )
        if person is None:
            return self.page(request, "login", "Sign in", status=400, state="invalid", next_path="/")
        form = await request.post()
        response = see_other(safe_next(str(form.get("next", request.query.get("next", "/")))))
        await self.sessions.open(response, person)
        log.info("signed in to the archive", extra={"person": person})
        return response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request, self.base_url):
            return self.page(request, "refused", "Not allowed", status=403, reason="origin")
        response = see_other("/")
        await self.sessions.close(request, response)
        return response

    def _nonce(self, request: web.Request) -> str | None:
        token = request.match_info["token"]
        return (
            verify_link_token(self.courier.signing_key, PURPOSE, token, self.clock())
            if len(token) < 300
            else None
        )
