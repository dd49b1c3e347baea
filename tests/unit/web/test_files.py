"""Files served at signed links: headers that cannot be abused, tokens bound to one file, and the
outcome of every bad link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge.core.model import Attachment, Channel, InboundMessage
from bridge.core.tokens import sign_link_token
from bridge.matrix.session import MatrixTemporaryError
from bridge.store import Database, NewThread, Store
from bridge.store.migrations import upgrade
from bridge.web.files import (
    FILE_PURPOSE,
    FileLinks,
    FilePages,
    content_disposition,
    file_url,
    media_type,
)

KEY = b"k" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("plan.pdf", "application/pdf", 'attachment; filename="plan.pdf"'),
        ("photo.png", "image/png", 'inline; filename="photo.png"'),
        ("page.html", "text/html", 'attachment; filename="page.html"'),
        ("drawing.svg", "image/svg+xml", 'attachment; filename="drawing.svg"'),
        (
            "Siobhán's plan.pdf",
            "application/pdf",
            "attachment; filename=\"Siobh_n's plan.pdf\"; filename*=UTF-8''Siobh%C3%A1n%27s%20plan.pdf",
        ),
        ('a"b\\c.txt', "text/plain", 'inline; filename="c.txt"'),
        ('q"x.txt', "text/plain", "inline; filename=\"q_x.txt\"; filename*=UTF-8''q%22x.txt"),
        ("../../etc/passwd", "text/plain", 'inline; filename="passwd"'),
        ("\r\nSet-Cookie: x", "text/plain", 'inline; filename="Set-Cookie: x"'),
        ("", "application/zip", 'attachment; filename="attachment"'),
        ("会議.txt", "text/plain", "inline; filename=\"__.txt\"; filename*=UTF-8''%E4%BC%9A%E8%AD%B0.txt"),
    ],
)
def test_content_disposition_is_rfc_6266_and_never_breaks_the_header(
    name: str, content_type: str, expected: str
) -> None:
    assert content_disposition(name, content_type) == expected


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("IMAGE/PNG; name=x.png", "image/png"),
        ("text/html\r\nX-Evil: 1", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
    ],
)
def test_media_type_keeps_only_well_formed_types(declared: str | None, expected: str | None) -> None:
    assert media_type(declared) == (expected or declared)


def test_file_url_names_post_number_and_a_token_for_that_file() -> None:
    url = file_url("https://lists.example.org/", KEY, 12, 3, NOW)
    assert url.startswith("https://lists.example.org/files/12/3/")
    assert FileLinks("https://lists.example.org", KEY, clock=lambda: NOW).url(12, 3) == url


async def _store(tmp_path: Path) -> Store:
    db = Database(f"sqlite://{tmp_path / 'store.sqlite3'}")
    await db.open()
    await upgrade(db)
    return Store(db)


@pytest.fixture
async def post_with_files(tmp_path: Path) -> AsyncIterator[tuple[Store, int]]:
    store = await _store(tmp_path)
    try:
        await store.communities.sync_community(
            slug="pm",
            name="PM",
            list_address="pm@lists.example.org",
            room="#pm:example.org",
            time_zone="UTC",
            roster=(),
        )
        community = await store.communities.by_slug("pm")
        assert community is not None
        message = InboundMessage(
            channel=Channel.EMAIL,
            origin_key="m1@example.org",
            community_slug="pm",
            sender_address="ana@example.org",
            sender_name="Ana",
            text="files",
            subject="Files",
            email_message_id="m1@example.org",
            attachments=(
                Attachment("Siobhán plan.pdf", "application/pdf", 5, b"%PDF-"),
                Attachment("evil.html", "text/html", 31, b"<script>alert(1)</script>hello"),
                Attachment("big.mov", "video/quicktime", 10**9, url="mxc://example.org/abc"),
                Attachment("gone.bin", "application/octet-stream", 10, url="mxc://example.org/gone"),
            ),
        )
        result = await store.posts.ingest(
            message,
            community_id=community.id,
            thread=NewThread("Files", "files"),
            author_id=None,
            deliveries=[],
            now=NOW,
        )
        yield store, result.post_id
    finally:
        await store.db.close()


async def _download(mxc: str) -> tuple[bytes, str]:
    if mxc.endswith("/gone"):
        raise MatrixTemporaryError("download mxc://example.org/gone: homeserver unreachable")
    return b"movie bytes", "video/quicktime"


@pytest.fixture
async def client(
    post_with_files: tuple[Store, int],
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    store, _ = post_with_files
    app = web.Application()
    app.add_routes(FilePages(store, KEY, download=_download, clock=lambda: NOW).routes())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _path(
    post_id: int, number: int, *, expires: timedelta = timedelta(days=1), purpose: str = FILE_PURPOSE
) -> str:
    token = sign_link_token(KEY, purpose, f"{post_id}/{number}", NOW + expires)
    return f"/files/{post_id}/{number}/{token}"


async def test_a_stored_file_is_served_with_safe_headers(
    client: TestClient[web.Request, web.Application], post_with_files: tuple[Store, int]
) -> None:
    _, post_id = post_with_files
    response = await client.get(_path(post_id, 0))
    assert response.status == 200
    assert await response.read() == b"%PDF-"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Siobh_n plan.pdf\"; filename*=UTF-8''Siobh%C3%A1n%20plan.pdf"
    )
    head = await client.head(_path(post_id, 0))
    assert (head.status, head.headers["Content-Length"]) == (200, "5")


async def test_an_html_file_is_a_sandboxed_download_never_a_page(
    client: TestClient[web.Request, web.Application], post_with_files: tuple[Store, int]
) -> None:
    _, post_id = post_with_files
    response = await client.get(_path(post_id, 1))
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_a_file_kept_only_on_the_homeserver_is_fetched_through(
    client: TestClient[web.Request, web.Application], post_with_files: tuple[Store, int]
) -> None:
    _, post_id = post_with_files
    response = await client.get(_path(post_id, 2))
    assert (response.status, await response.read()) == (200, b"movie bytes")
    assert response.headers["Content-Type"] == "video/quicktime"
    failed = await client.get(_path(post_id, 3))
    assert failed.status == 502  # the homeserver's failure, said as such; nothing is lost


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("expired", 404),
        ("other purpose", 404),
        ("token of another file", 404),
        ("damaged token", 404),
        ("no such post", 404),
        ("past the last file", 410),
    ],
)
async def test_a_bad_link_gets_a_plain_refusal(
    client: TestClient[web.Request, web.Application],
    post_with_files: tuple[Store, int],
    case: str,
    status: int,
) -> None:
    _, post_id = post_with_files
    path = {
        "expired": _path(post_id, 0, expires=-timedelta(seconds=1)),
        "other purpose": _path(post_id, 0, purpose="unsubscribe"),
        "token of another file": f"/files/{post_id}/0/" + _path(post_id, 1).rsplit("/", 1)[1],
        "damaged token": _path(post_id, 0)[:-3] + "AAA",
        "no such post": f"/files/{post_id + 1}/0/" + _path(post_id, 0).rsplit("/", 1)[1],
        "past the last file": _path(post_id, 9),
    }[case]
    response = await client.get(path)
    assert response.status == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_deleted_post_has_no_files(
    client: TestClient[web.Request, web.Application], post_with_files: tuple[Store, int]
) -> None:
    store, post_id = post_with_files
    await store.posts.delete(post_id, now=NOW)
    response = await client.get(_path(post_id, 0))
    assert response.status == 410
