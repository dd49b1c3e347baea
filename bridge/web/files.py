"""Files too large to carry, served by the daemon at signed, expiring links.

A file over the community's ``max_attachment_bytes`` is never dropped: the room gets a message linking
to it instead of an upload, and list mail gets a link line instead of a MIME part. The link is
``BASE/files/POST/N/TOKEN``, where ``N`` is the file's position among the post's attachments and the
token is a link token (purpose ``file``) whose subject is ``POST/N``, so it opens that one file only.

What is served is what the store holds: the bytes themselves (every file that came by mail, at any
size), or, for a file from Matrix over the limit, its ``mxc://`` URI, which is fetched from the
homeserver with the bot's token when the link is followed (the store stays bounded by the limit; the
homeserver keeps the media). A file is served as a download (``Content-Disposition: attachment`` with
an RFC 6266 filename) except raster images, audio, video and plain text, which may show inline; with
``nosniff`` and a sandboxing CSP, an uploaded HTML or SVG file cannot run in the daemon's origin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from bridge.core.model import Attachment, PostState
from bridge.core.tokens import sign_link_token, verify_link_token
from bridge.matrix.session import MatrixError
from bridge.store import Store

log = logging.getLogger(__name__)

FILE_PURPOSE = "file"
FILE_LINK_VALIDITY = timedelta(days=365)
"""How long a file link works; links are minted whenever a post is delivered."""

Download = Callable[[str], Awaitable[tuple[bytes, str]]]

_INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "text/plain",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/webm",
        "video/ogg",
    }
)
_MIME_NAME = r"[a-z0-9!#$&^_.+-]+"
_MEDIA_TYPE = re.compile(rf"{_MIME_NAME}/{_MIME_NAME}")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}


def file_subject(post_id: int, number: int) -> str:
    return f"{post_id}/{number}"


def file_url(
    base_url: str,
    key: bytes,
    post_id: int,
    number: int,
    now: datetime,
    *,
    validity: timedelta = FILE_LINK_VALIDITY,
) -> str:
    """The signed link to attachment ``number`` (0-based position) of post ``post_id``."""
    expires = (now + validity).replace(microsecond=0)
    token = sign_link_token(key, FILE_PURPOSE, file_subject(post_id, number), expires)
    return f"{str(base_url).rstrip('/')}/files/{post_id}/{number}/{token}"


class FileLinks:
    """Mints file links for one deployment: ``links.url(post_id, number)``."""

    def __init__(
        self,
        base_url: str,
        key: bytes,
        *,
        validity: timedelta = FILE_LINK_VALIDITY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = str(base_url)
        self.key = key
        self.validity = validity
        self.clock = clock

    def url(self, post_id: int, number: int) -> str:
        return file_url(self.base_url, self.key, post_id, number, self.clock(), validity=self.validity)


def media_type(declared: str | None) -> str:
    """A well-formed, lowercased ``type/subtype`` without parameters; ``application/octet-stream``
    for anything else."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


def content_disposition(filename: str, content_type: str) -> str:
    """RFC 6266: an ASCII ``filename`` fallback and the exact name as ``filename*`` (RFC 8187)."""
    name = _clean_filename(filename)
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in name)
    kind = "inline" if media_type(content_type) in _INLINE_TYPES else "attachment"
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _clean_filename(filename: str) -> str:
    """The last path segment, without control characters; ``attachment`` when nothing is left."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip().strip(".")
    return name[:200] or "attachment"


class FilePages:
    """``GET /files/{post}/{n}/{token}`` (and HEAD)."""

    def __init__(
        self,
        store: Store,
        signing_key: bytes,
        *,
        download: Download | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.signing_key = signing_key
        self.download = download
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/files/{post_id:[0-9]{1,18}}/{number:[0-9]{1,6}}/{token}", self.serve)]

    async def serve(self, request: web.Request) -> web.Response:
        post_id, number = int(request.match_info["post_id"]), int(request.match_info["number"])
        subject = verify_link_token(self.signing_key, FILE_PURPOSE, request.match_info["token"], self.clock())
        if subject != file_subject(post_id, number):
            return _refusal(404, "This link is not valid or has expired.")
        post = await self.store.posts.get(post_id)
        if post is None or post.state is PostState.DELETED:
            return _refusal(410, "This file was deleted.")
        attachments = await self.store.posts.attachments(post_id)
        if number >= len(attachments):
            return _refusal(410, "This file is no longer kept.")
        attachment = attachments[number]
        found = await self._content(attachment, post_id)
        if isinstance(found, web.Response):
            return found
        data, content_type = found
        headers = {
            **_SECURITY_HEADERS,
            "Content-Disposition": content_disposition(attachment.filename, content_type),
        }
        return web.Response(body=data, headers=headers, content_type=content_type)

    async def _content(self, attachment: Attachment, post_id: int) -> tuple[bytes, str] | web.Response:
        declared = media_type(attachment.content_type) if attachment.content_type else None
        if attachment.data is not None:
            return attachment.data, declared or "application/octet-stream"
        url = attachment.url or ""
        if not url.startswith("mxc://") or self.download is None:
            return _refusal(410, "This file is no longer kept.")
        try:
            data, fetched_type = await self.download(url)
        except MatrixError as error:
            log.warning("could not fetch %s for post %d: %s", url, post_id, error)
            return _refusal(502, "The chat server did not hand over this file; try again later.")
        return data, declared or media_type(fetched_type)


def _refusal(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=dict(_SECURITY_HEADERS))
