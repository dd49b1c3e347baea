"""The bridge's Matrix account: logging in, the rooms it sits in, and one error model for every call.

matrix-nio returns errors as values and retries some failures by itself; the rest of the bridge wants
neither. Every request here goes through ``call`` (nio methods) or ``request_json`` (raw endpoints nio
parses too strictly or not at all: ``/sync``, ``/messages``, authenticated media), which return a
result or raise: ``MatrixTemporaryError`` (server down, 5xx, rate limited: try again later, with
``MatrixUnavailableError`` and ``MatrixAuthError`` as its kinds) or ``MatrixPermanentError`` (the
request itself is refused: park it). nio is configured never to retry on its own, so the callers'
backoff is the only one.

A password is used once: the token it earns is kept through a ``TokenStore`` (the store, in the
daemon) and reused as long as the homeserver accepts it, so restarts do not pile up devices.
Tokens never reach the config, the logs or an exception message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import nio

from bridge.config.schema import MatrixConfig
from bridge.matrix.probe import client_config
from bridge.probe import describe_network_error

log = logging.getLogger(__name__)

CLIENT_API = "/_matrix/client/v3"
MEDIA_DOWNLOAD_API = "/_matrix/client/v1/media/download"
LEGACY_MEDIA_DOWNLOAD_API = "/_matrix/media/v3/download"
AUTH_ERRCODES = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"})
TEMPORARY_ERRCODES = frozenset({"M_LIMIT_EXCEEDED", "M_RESOURCE_LIMIT_EXCEEDED"})

R = TypeVar("R")


class MatrixError(Exception):
    """A Matrix request failed; the message is one line naming what was attempted and why."""

    def __init__(self, message: str, *, errcode: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.http_status = http_status


class MatrixTemporaryError(MatrixError):
    """Worth retrying later: the homeserver is down, overloaded (5xx) or rate limiting (429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MatrixUnavailableError(MatrixTemporaryError):
    """The homeserver could not be reached at all (refused, reset, timed out)."""


class MatrixAuthError(MatrixTemporaryError):
    """The homeserver refused our credential. Nothing a delivery did wrong, so deliveries wait (it is
    temporary for them), but the daemon cannot go on until the credential is fixed."""


class MatrixPermanentError(MatrixError):
    """The request itself is refused (403 not in the room, 400 bad event, 404): retrying will not help."""


@dataclass(frozen=True, slots=True)
class StoredLogin:
    """A login earned with the password, kept so the next start reuses the token and the device."""

    homeserver: str
    user_id: str
    device_id: str
    access_token: str

    def __repr__(self) -> str:  # never print the token
        return f"StoredLogin({self.user_id} on {self.homeserver}, device {self.device_id})"


class TokenStore(Protocol):
    """Where the login earned with a password lives between starts (the daemon's key-value store)."""

    async def load(self) -> StoredLogin | None: ...

    async def save(self, login: StoredLogin) -> None: ...


class MatrixSession:
    """One logged-in ``nio.AsyncClient`` for the bridge account, configured from ``MatrixConfig``.

    The caller reads the secret references and passes the token or the password as a string.
    """

    def __init__(
        self,
        config: MatrixConfig,
        *,
        access_token: str | None = None,
        password: str | None = None,
        request_timeout: float = 60.0,
    ) -> None:
        if (access_token is None) == (password is None):
            raise ValueError("give exactly one of access_token or password")
        self.config = config
        self.homeserver = config.homeserver.rstrip("/")
        self.client = nio.AsyncClient(
            self.homeserver,
            config.user_id,
            config=client_config(request_timeout=request_timeout, max_timeouts=0),
        )
        self._access_token = access_token
        self._password = password
        self._profile_names: dict[str, str | None] = {}

    @property
    def user_id(self) -> str:
        return self.config.user_id

    @property
    def device_id(self) -> str | None:
        device: str | None = self.client.device_id or None
        return device

    # -- login -------------------------------------------------------------------------------------

    async def login(self, token_store: TokenStore) -> None:
        """Log in: check a configured token with ``whoami``; with a password, reuse the stored token
        while it works, else log in once and store the new token."""
        if self._access_token is not None:
            self.client.access_token = self._access_token
            await self._verify_token("the configured access token")
            return
        stored = await token_store.load()
        if stored is not None and stored.user_id == self.user_id and stored.homeserver == self.homeserver:
            self.client.restore_login(stored.user_id, stored.device_id, stored.access_token)
            try:
                await self._verify_token("the stored access token")
                log.info("matrix: reusing the stored login of %s (device %s)", self.user_id, stored.device_id)
                return
            except MatrixAuthError:
                log.info("matrix: the stored access token of %s expired; logging in again", self.user_id)
                self.client.access_token = ""
        assert self._password is not None
        device_id = stored.device_id if stored is not None and stored.user_id == self.user_id else None
        if device_id:
            self.client.device_id = device_id
        what = f"log in as {self.user_id}"
        try:
            request = self.client.login(self._password, device_name=self.config.device_name)
            response = await self.call(what, request)
        except MatrixPermanentError as error:  # 403 M_FORBIDDEN: wrong password
            raise MatrixAuthError(str(error), errcode=error.errcode, http_status=error.http_status) from None
        login = StoredLogin(self.homeserver, response.user_id, response.device_id, response.access_token)
        await token_store.save(login)
        log.info("matrix: logged in as %s (device %s); token stored", login.user_id, login.device_id)

    async def _verify_token(self, what: str) -> None:
        try:
            whoami = await self.call(f"check {what}", self.client.whoami())
        except MatrixPermanentError as error:
            raise MatrixAuthError(str(error), errcode=error.errcode, http_status=error.http_status) from None
        if whoami.user_id != self.user_id:
            raise MatrixAuthError(f"{what} belongs to {whoami.user_id}, not {self.user_id}")
        self.client.user_id = whoami.user_id
        if whoami.device_id:
            self.client.device_id = whoami.device_id

    # -- rooms -------------------------------------------------------------------------------------

    async def resolve_room(self, alias_or_id: str) -> str:
        """The room id of ``#alias:server`` (a ``!room_id`` is returned as it is)."""
        if not alias_or_id.startswith("#"):
            return alias_or_id
        response = await self.call(f"resolve {alias_or_id}", self.client.room_resolve_alias(alias_or_id))
        room_id: str = response.room_id
        return room_id

    async def joined_rooms(self) -> set[str]:
        response = await self.call("list joined rooms", self.client.joined_rooms())
        return set(response.rooms)

    async def ensure_joined(self, room_ids: Iterable[str]) -> set[str]:
        """Join every configured room we are not in yet; return those still waiting for an invite.

        A public room (or one we are already invited to) is joined directly; for any other the join is
        refused, and the sync loop accepts the invite when it comes.
        """
        joined = await self.joined_rooms()
        waiting: set[str] = set()
        for room_id in room_ids:
            if room_id in joined:
                continue
            try:
                await self.call(f"join {room_id}", self.client.join(room_id))
                log.info("matrix: joined %s", room_id)
            except MatrixPermanentError as error:
                log.warning("matrix: cannot join %s yet (%s); waiting for an invite", room_id, error)
                waiting.add(room_id)
        return waiting

    async def answer_invite(self, room_id: str, *, accept: bool) -> None:
        """Accept an invite to a configured room; reject (leave) any other."""
        if accept:
            await self.call(f"accept the invite to {room_id}", self.client.join(room_id))
            log.info("matrix: accepted the invite to %s", room_id)
        else:
            await self.call(f"reject the invite to {room_id}", self.client.room_leave(room_id))
            log.info("matrix: rejected an invite to %s, which is not a configured room", room_id)

    async def display_name(self, user_id: str) -> str | None:
        """A user's global display name (cached), for senders whose member event we have not seen."""
        if user_id not in self._profile_names:
            try:
                response = await self.call(f"get the name of {user_id}", self.client.get_displayname(user_id))
                name = response.displayname
                self._profile_names[user_id] = name if isinstance(name, str) and name.strip() else None
            except MatrixPermanentError:
                self._profile_names[user_id] = None
        return self._profile_names[user_id]

    # -- media -------------------------------------------------------------------------------------

    async def download(self, mxc: str) -> tuple[bytes, str]:
        """The bytes and content type of ``mxc://server/media_id`` (authenticated media, with the
        legacy endpoint for homeservers older than spec v1.11)."""
        parts = urlsplit(mxc)
        media_id = parts.path.strip("/")
        if parts.scheme != "mxc" or not parts.netloc or not media_id or "/" in media_id:
            raise MatrixPermanentError(f"not an mxc:// URI: {mxc!r}")
        tail = f"/{quote(parts.netloc, safe='')}/{quote(media_id, safe='')}"
        what = f"download {mxc}"
        try:
            return await self.request_bytes(what, "GET", MEDIA_DOWNLOAD_API + tail)
        except MatrixPermanentError as error:
            if error.errcode != "M_UNRECOGNIZED" and error.http_status not in {404, 405}:
                raise
        return await self.request_bytes(what, "GET", LEGACY_MEDIA_DOWNLOAD_API + tail)

    # -- requests ----------------------------------------------------------------------------------

    async def call(self, what: str, request: Awaitable[R]) -> R:
        """Await a nio request; its result, or a ``MatrixError`` saying ``what`` failed and why."""
        try:
            response = await request
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise self._unreachable(what, error) from None
        if isinstance(response, nio.ErrorResponse):
            transport = getattr(response, "transport_response", None)
            status = getattr(transport, "status", None)
            retry_ms = response.retry_after_ms
            raise error_from_status(
                what,
                status if isinstance(status, int) else None,
                response.status_code,
                response.message,
                retry_after=retry_ms / 1000 if isinstance(retry_ms, int | float) else None,
            )
        return response

    async def request_json(
        self,
        what: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """A raw client-server API request (``path`` under ``/_matrix``), its JSON answer or an error."""
        status, data, content_type = await self._request(what, method, path, query, body, timeout)
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if status != 200 or not isinstance(answer, dict):
            raise _error_from_body(what, status, answer, content_type)
        return answer

    async def request_bytes(self, what: str, method: str, path: str) -> tuple[bytes, str]:
        """A raw request whose answer is a file: its bytes and content type."""
        status, data, content_type = await self._request(what, method, path, None, None, 0)
        if status != 200:
            try:
                answer = json.loads(data)
            except ValueError:
                answer = None
            raise _error_from_body(what, status, answer, content_type)
        return data, content_type

    async def _request(
        self,
        what: str,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> tuple[int, bytes, str]:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        try:
            response = await self.client.send(method, path, data, headers, timeout=timeout)
            try:
                return response.status, await response.read(), response.content_type
            finally:
                response.release()
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise self._unreachable(what, error) from None

    def _unreachable(self, what: str, error: BaseException) -> MatrixUnavailableError:
        return MatrixUnavailableError(f"{what}: {self.homeserver} {describe_network_error(error)}")

    async def close(self) -> None:
        """Close the HTTP session (the login stays valid for the next start)."""
        await self.client.close()


def error_from_status(
    what: str,
    http_status: int | None,
    errcode: str | None,
    message: str | None,
    *,
    retry_after: float | None = None,
) -> MatrixError:
    """The exception for a refused request: temporary, auth or permanent, by status and errcode."""
    reason = " ".join(str(part) for part in (http_status, errcode, message) if part) or "unknown error"
    text = f"{what}: {reason}"
    kwargs: dict[str, Any] = {"errcode": errcode, "http_status": http_status}
    if http_status == 401 or errcode in AUTH_ERRCODES:
        return MatrixAuthError(text, **kwargs)
    if http_status is None or http_status == 429 or http_status >= 500 or errcode in TEMPORARY_ERRCODES:
        return MatrixTemporaryError(text, retry_after=retry_after, **kwargs)
    return MatrixPermanentError(text, **kwargs)


def _error_from_body(what: str, status: int, answer: object, content_type: str) -> MatrixError:
    if 200 <= status < 300:  # a proxy's page instead of the homeserver's JSON: try again later
        return MatrixTemporaryError(f"{what}: unexpected {content_type or 'answer'}", http_status=status)
    if isinstance(answer, dict):
        errcode = answer.get("errcode")
        message = answer.get("error")
        retry_ms = answer.get("retry_after_ms")
        return error_from_status(
            what,
            status,
            errcode if isinstance(errcode, str) else None,
            message if isinstance(message, str) else None,
            retry_after=retry_ms / 1000 if isinstance(retry_ms, int | float) else None,
        )
    return error_from_status(what, status, None, f"unexpected {content_type or 'answer'}")
