"""The web archive in a real headless Chromium, served by ``icop run`` on the real stack.

One daemon serves two communities: a members-only one whose conversation arrives by email (Postfix,
Dovecot) and by chat (Synapse), and a public companion with chat only. Chromium is Debian's, driven by
Playwright over the DevTools protocol (``executable_path``: no browser download). Pages are read
with JavaScript off, which is how they must work. Screenshots go to ``var/artifacts/browser/``.

What each scenario checks:
- a public community is read without signing in, and its home lists no members-only community;
- a members-only community sends a stranger to the sign-in page without a thread title; the member
  signs in with the keyboard alone, by the link mailed to her real Dovecot mailbox, which works once;
- a long thread shows every post of both channels in order with channel marks, folds quoted history,
  links the attachment through its signed file link;
- a hostile post (script, javascript: links, an event handler, a 3,000-character word) runs nothing
  and does not widen the page on a phone;
- the tag page and the practice catalogue list the thread;
- a member of the companion only (its convener) is refused the members-only pages and their report
  (403, no title, no figure) and reads his own community's report; a public community's report asks
  a visitor to sign in; a Matrix member gets a sign-in link by direct message;
- the report page: refused to a member; the convener reaches it from the community page, and every
  chart is read back from Chromium's DOM and matches report.json for its period (six 30-day periods
  of mail written over the last five months); no CSP violation; no sideways scroll on a phone; the
  about page; the monthly report loop runs in the daemon.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bridge.devstack.community import DemoCommunity, prepare_community, room_messages
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from tests.e2e.conftest import WAIT_SECONDS, RunningBridge, _joined, wait_for
from tests.fixtures.charts import CHARTS, marks, parse_charts
from tests.fixtures.servers import Mailbox

pytestmark = [pytest.mark.servers, pytest.mark.asyncio(loop_scope="module")]

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}
CHAT_REPLIES = 5
MAIL_REPLIES = 4
HUGE_WORD = "x" * 3000
SIGN_IN_LINK = re.compile(r"Sign in: (\S+)")


@dataclass
class Archive:
    bridge: RunningBridge
    base: str
    long_thread: int = 0
    hostile_thread: int = 0
    posts: int = 0
    history: int = 0
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def community(self) -> DemoCommunity:
        return self.bridge.community

    def url(self, path: str) -> str:
        return self.base + path

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.community.database_path}?mode=rw", uri=True, timeout=10)


def _mail(community: DemoCommunity, who: str, subject: str, text: str, **headers: str) -> EmailMessage:
    member = community.member(who)
    message = EmailMessage()
    message["From"] = f"{member.name} <{member.email}>"
    message["To"] = community.list_address
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.test"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def _send_chat(stack: Stack, token: str, room_id: str, text: str, root: str | None = None) -> None:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if root is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        }
    room = urllib.parse.quote(room_id)
    request = urllib.request.Request(
        f"{stack.homeserver_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{secrets.token_hex(6)}",
        data=json.dumps(content).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _visible_posts(archive: Archive, thread_id: int) -> int:
    with archive.db() as db:
        row = db.execute(
            "SELECT COUNT(*) FROM post WHERE thread_id = ? AND state = 'visible'", (thread_id,)
        ).fetchone()
    return int(row[0])


def _thread_of(archive: Archive, message_id: str) -> int | None:
    with archive.db() as db:
        row = db.execute("SELECT thread_id FROM post WHERE email_message_id = ?", (message_id,)).fetchone()
    return int(row[0]) if row else None


def _file_tags_and_practice(archive: Archive) -> None:
    """Tags and a practice as the tagging commands would file them (those commands are not part of
    this page's tests): written straight into the daemon's store."""
    now = datetime.now(UTC).isoformat(sep=" ")
    with archive.db() as db:
        community = db.execute(
            "SELECT id FROM community WHERE slug = ?", (archive.community.slug,)
        ).fetchone()[0]
        tag = db.execute(
            "INSERT INTO tag (community_id, name, label, description) VALUES (?, 'estimation', 'Estimation', "
            "'Sizing work: story points, reference classes, forecasting.') RETURNING id",
            (community,),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO thread_tag (thread_id, tag_id, source, applied_at) VALUES (?, ?, 'hashtag', ?)",
            (archive.long_thread, tag, now),
        )
        db.execute(
            "INSERT INTO practice (community_id, thread_id, title, summary, state, proposed_by, "
            "confirmed_by, created_at, confirmed_at, updated_at) VALUES (?, ?, "
            "'Estimate with reference classes', "
            "'Compare with finished projects of the same kind before estimating bottom-up.', "
            "'confirmed', 'kenji', 'ana', ?, ?, ?)",
            (community, archive.long_thread, now, now, now),
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def archive(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Archive]:
    """The daemon, two communities, and a conversation on both channels, stored before any page is read."""
    suffix = f"-{secrets.token_hex(3)}"
    directory = tmp_path_factory.mktemp("archive")
    port = free_port()
    community = prepare_community(stack, directory, user_suffix=suffix, web_port=port, public_companion=True)
    bridge = RunningBridge(stack, community, directory / "icop.log")
    bridge.start()
    try:
        await wait_for(lambda: "icop-bridge running" in bridge.log(), WAIT_SECONDS, "icop run to start")
        await wait_for(lambda: _joined(bridge), WAIT_SECONDS, "the bot to join the room")
        archive = Archive(bridge, f"http://127.0.0.1:{port}")
        await _converse(stack, archive)
        yield archive
    finally:
        code = bridge.stop()
        if code != 0:
            print(bridge.log())
        assert code == 0, f"icop run exited with {code}"


async def _converse(stack: Stack, archive: Archive) -> None:
    community = archive.community
    send = aiosmtplib.SMTP(hostname=stack.smtp_host, port=stack.smtp_port, start_tls=False, use_tls=False)
    root = _mail(community, "siobhan", "How do you estimate large projects?", "We keep missing by 2x. Ideas?")
    async with send:
        await send.send_message(root)
        hostile = _mail(community, "priya", "Hostile <script>alert(1)</script>", HUGE_WORD)
        hostile.add_alternative(
            '<p>Look <script>window.pwned = 1</script><a href="javascript:window.pwned=2">here</a>'
            '<img src="x" onerror="window.pwned=3"> <b onclick="window.pwned=4">and</b> '
            f'<a href="jav&#x09;ascript:window.pwned=5">there</a></p><p>{HUGE_WORD}</p>',
            subtype="html",
        )
        await send.send_message(hostile)
    root_id = root["Message-ID"].strip("<>")
    bot = await archive.bridge.wait_for_bot_events(1)
    root_event = next(e["event_id"] for e in bot if "estimate" in e["content"]["body"])
    kenji, ana = community.member("kenji").matrix, community.member("ana").matrix
    assert kenji is not None
    assert ana is not None
    for n in range(CHAT_REPLIES):
        who = kenji if n % 2 == 0 else ana
        _send_chat(
            stack, who.access_token, community.room_id, f"Chat reply {n}: try reference classes", root_event
        )
    async with aiosmtplib.SMTP(hostname=stack.smtp_host, port=stack.smtp_port, start_tls=False) as send:
        for n in range(MAIL_REPLIES):
            who = ("priya", "siobhan")[n % 2]
            text = f"Mail reply {n}: we log actuals.\n\nOn Monday Kenji wrote:\n> try reference classes\n> ok"
            reply = _mail(
                community,
                who,
                "Re: How do you estimate large projects?",
                text,
                In_Reply_To=f"<{root_id}>",
                References=f"<{root_id}>",
            )
            if n == 0:
                reply.add_attachment(
                    b"size,actual\n10,21\n", maintype="text", subtype="csv", filename="actuals.csv"
                )
            await send.send_message(reply)
    companion = community.companion
    assert companion is not None
    _send_chat(stack, kenji.access_token, companion.room_id, "Which licence do you publish datasets under?")
    _send_chat(stack, ana.access_token, companion.room_id, "Open data catalogue: what goes in first?")
    archive.posts = 1 + CHAT_REPLIES + MAIL_REPLIES
    archive.long_thread = await wait_for(
        lambda: _thread_of(archive, root_id), WAIT_SECONDS, "the root stored"
    )
    archive.hostile_thread = await wait_for(
        lambda: _thread_of(archive, hostile["Message-ID"].strip("<>")),
        WAIT_SECONDS,
        "the hostile post stored",
    )
    await wait_for(
        lambda: _visible_posts(archive, archive.long_thread) >= archive.posts,
        WAIT_SECONDS * 2,
        "every reply stored",
    )
    await _history(stack, archive)
    _file_tags_and_practice(archive)


# Earlier discussions, mailed with the dates they were written (a post keeps its mail's Date), so the
# report's trends have months to draw: (days ago, author, subject, replies as (hours later, author)).
HISTORY = (
    (150, "priya", "Risk registers people actually read #risk", ((3, "ana"), (20, "kenji"))),
    (
        124,
        "kenji",
        "Remote retros across time zones #retrospectives",
        ((2, "siobhan"), (5, "priya"), (9, "ana")),
    ),
    (96, "siobhan", "Status reports nobody reads #stakeholders", ((20, "kenji"),)),
    (93, "ana", "Pre-mortems before kick-off #risk", ((4, "priya"), (9, "siobhan"))),
    (
        64,
        "priya",
        "Rolling wave planning #planning",
        ((1, "kenji"), (3, "ana"), (6, "siobhan"), (22, "priya")),
    ),
    (45, "kenji", "Which retro formats still work? #retrospectives", ((8, "ana"), (12, "siobhan"))),
    (40, "siobhan", "Anyone using RAID logs? #risk", ()),
)


async def _history(stack: Stack, archive: Archive) -> None:
    """Mail the earlier discussions, then wait until they are stored and relayed: a mailbox read later
    for a sign-in link must get nothing else."""
    community, now = archive.community, datetime.now(UTC)
    async with aiosmtplib.SMTP(hostname=stack.smtp_host, port=stack.smtp_port, start_tls=False) as send:
        for days, author, subject, replies in HISTORY:
            written = now - timedelta(days=days)
            root = _mail(
                community,
                author,
                subject,
                f"{subject}: how do you go about it?",
                Date=format_datetime(written),
            )
            await send.send_message(root)
            for hours, who in replies:
                reply = _mail(
                    community,
                    who,
                    f"Re: {subject}",
                    f"From {who}: here is what works for us.",
                    In_Reply_To=root["Message-ID"],
                    References=root["Message-ID"],
                    Date=format_datetime(written + timedelta(hours=hours)),
                )
                await send.send_message(reply)
    archive.history = sum(1 + len(replies) for _, _, _, replies in HISTORY)
    await wait_for(
        lambda: _community_posts(archive) >= archive.history + archive.posts + 1,
        WAIT_SECONDS * 2,
        "the history stored",
    )
    await wait_for(lambda: _outbox_idle(archive), WAIT_SECONDS * 2, "the history relayed")


def _community_posts(archive: Archive) -> int:
    with archive.db() as db:
        row = db.execute(
            "SELECT COUNT(*) FROM post p JOIN community c ON c.id = p.community_id "
            "WHERE c.slug = ? AND p.state = 'visible'",
            (archive.community.slug,),
        ).fetchone()
    return int(row[0])


def _outbox_idle(archive: Archive) -> bool:
    with archive.db() as db:
        row = db.execute("SELECT COUNT(*) FROM delivery WHERE state IN ('pending', 'sending')").fetchone()
    return int(row[0]) == 0


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where screenshots are kept; Debian's Chromium must be installed (a missing one fails)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap installs Debian's chromium", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(artifacts: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _context(browser: Browser, *, javascript: bool = False, **options: Any) -> BrowserContext:
    return await browser.new_context(java_script_enabled=javascript, viewport=DESKTOP, **options)


async def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


async def _sign_in_by_mail(browser: Browser, archive: Archive, who: str, start: str) -> BrowserContext:
    """Sign in as a person the way she would: ask on the page (keyboard only), read the mail, follow it."""
    member = archive.community.member(who)
    context = await _context(browser)
    page = await context.new_page()
    async with Mailbox(archive.bridge.stack, member.email) as inbox:
        before = inbox.exists
        response = await page.goto(archive.url(start))
        assert response is not None
        assert response.ok
        if urllib.parse.urlsplit(page.url).path != "/login":  # a public page: sign in from its header
            await page.get_by_role("link", name="Sign in").click()
        assert urllib.parse.urlsplit(page.url).path == "/login"
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
        while await page.evaluate("document.activeElement.id") != "address":
            await page.keyboard.press("Tab")
        await page.keyboard.type(member.email)
        await page.keyboard.press("Enter")
        await page.wait_for_load_state()
        assert "If that address belongs to a member" in await page.inner_text("main")
        await inbox.wait_for_messages(before + 1)
        mail = (await inbox.messages())[-1]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    link = SIGN_IN_LINK.search(body.get_content())
    assert link is not None, body.get_content()
    assert mail["Auto-Submitted"] == "auto-generated"
    await page.goto(link.group(1))
    await _shot(page, f"sign-in-confirm-{who}", full_page=False)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    assert urllib.parse.urlsplit(page.url).path == start
    again = await page.goto(link.group(1))
    assert again is not None
    assert "does not work any more" in await page.inner_text("main")
    await page.close()
    return context


async def test_a_public_community_is_read_without_signing_in(archive: Archive, browser: Browser) -> None:
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(archive.url("/"))
    home = await page.inner_text("main")
    assert "Open Data Circle" in home
    assert "Project Management Practice" not in home
    await page.get_by_role("link", name="Open Data Circle").click()
    await wait_for(lambda: _has_text(page, "Which licence"), WAIT_SECONDS, "the companion's chat posts")
    text = await page.inner_text("main")
    assert "Open data catalogue: what goes in first?" in text
    assert "chat" in await page.inner_text("ol.threads")
    footer = await page.inner_text("footer")
    assert "America/New_York, the community's time zone" in footer
    await _shot(page, "public-community")
    await page.get_by_role("link", name="Which licence do you publish datasets under?").click()
    assert "Kenji Watanabe" in await page.inner_text("article.post")
    await context.close()


async def _has_text(page: Page, text: str) -> bool:
    await page.reload()
    return text in await page.inner_text("main")


async def test_members_only_refuses_a_stranger_then_the_member_signs_in(
    archive: Archive, browser: Browser
) -> None:
    stranger = await _context(browser)
    page = await stranger.new_page()
    for path in ("/c/pm-practice/", f"/c/pm-practice/t/{archive.long_thread}", "/c/pm-practice/practices"):
        await page.goto(archive.url(path))
        assert urllib.parse.urlsplit(page.url).path == "/login"
        content = await page.content()
        assert "estimate large projects" not in content
        assert "Project Management Practice" not in content
    await _shot(page, "sign-in-page", full_page=False)
    await stranger.close()

    context = await _sign_in_by_mail(browser, archive, "siobhan", "/c/pm-practice/")
    cookies = {c["name"]: c for c in await context.cookies()}
    assert cookies["icop_session"]["httpOnly"]
    assert cookies["icop_session"]["sameSite"] == "Lax"
    archive.shared["siobhan"] = await context.storage_state()
    page = await context.new_page()
    await page.goto(archive.url("/c/pm-practice/"))
    listing = await page.inner_text("ol.threads")
    assert "How do you estimate large projects?" in listing
    assert f"{CHAT_REPLIES + MAIL_REPLIES} replies" in listing
    assert "Times are shown in Europe/Dublin, your time zone." in await page.inner_text("footer")
    await _shot(page, "community")
    await context.close()


async def test_a_long_thread_interleaves_both_channels(archive: Archive, browser: Browser) -> None:
    context = await _context(browser, storage_state=archive.shared["siobhan"])
    page = await context.new_page()
    await page.goto(archive.url(f"/c/pm-practice/t/{archive.long_thread}"))
    posts = page.locator("ol.posts > li > article.post")
    assert await posts.count() == archive.posts
    channels = [await posts.nth(n).get_attribute("class") for n in range(archive.posts)]
    assert sum("matrix" in (c or "") for c in channels) == CHAT_REPLIES
    assert sum("email" in (c or "") for c in channels) == MAIL_REPLIES + 1
    times = [await posts.nth(n).locator("time").first.get_attribute("datetime") for n in range(archive.posts)]
    assert times == sorted(times)  # in the order they were written
    quoted = page.locator("details.quoted").first
    assert not await quoted.get_attribute("open")
    assert not await quoted.locator(".body").is_visible()  # folded until asked for
    link = page.get_by_role("link", name="actuals.csv")
    href = await link.get_attribute("href")
    assert href is not None
    assert "/files/" in href
    download = await context.request.get(href)
    assert download.status == 200
    assert await download.text() == "size,actual\n10,21\n"
    # Keyboard: the first Tab shows the skip link; following it moves focus to the content.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert await page.locator("a.skip").is_visible()
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.closest('main') !== null")
    await _shot(page, "thread")
    await page.evaluate("document.activeElement.blur()")
    await page.evaluate("window.scrollTo(0, 0)")
    await _shot(page, "thread-top", full_page=False)  # the README's picture (docs/archive-thread.png)
    await page.set_viewport_size(PHONE)
    await _shot(page, "thread-phone")
    await context.close()


async def test_a_hostile_post_is_inert_and_keeps_the_layout(archive: Archive, browser: Browser) -> None:
    context = await browser.new_context(
        java_script_enabled=True, viewport=PHONE, storage_state=archive.shared["siobhan"]
    )
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(archive.url(f"/c/pm-practice/t/{archive.hostile_thread}"))
    assert "Hostile <script>alert(1)</script>" in await page.inner_text("h1")  # shown as text
    assert await page.evaluate("document.querySelectorAll('main script, [onerror], [onclick]').length") == 0
    hrefs = await page.evaluate("[...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and "script" in h.lower()]
    assert await page.evaluate("typeof window.pwned") == "undefined"
    assert not dialogs
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
    await _shot(page, "hostile-phone")
    await context.close()


async def test_tag_page_and_catalogue_list_the_thread(archive: Archive, browser: Browser) -> None:
    context = await _context(browser, storage_state=archive.shared["siobhan"])
    page = await context.new_page()
    await page.goto(archive.url("/c/pm-practice/"))
    await page.get_by_role("complementary").get_by_role("link", name="Estimation").click()
    assert urllib.parse.urlsplit(page.url).path == "/c/pm-practice/tag/estimation"
    main = await page.inner_text("main")
    assert "Sizing work: story points" in main
    assert "How do you estimate large projects?" in main
    assert "Hostile" not in main
    await _shot(page, "tag")
    await page.get_by_role("link", name="Practices").click()
    catalogue = await page.inner_text("main")
    assert "Estimate with reference classes" in catalogue
    assert "Confirmed" in catalogue
    await page.get_by_role("link", name="Estimate with reference classes").click()
    assert urllib.parse.urlsplit(page.url).path == f"/c/pm-practice/t/{archive.long_thread}"
    await page.go_back()
    await _shot(page, "practices")
    feed = await page.locator("link[rel=alternate]").get_attribute("href")
    assert feed is not None
    assert "key=" in feed
    anonymous = await browser.new_context()
    atom = await anonymous.request.get(feed)
    assert atom.status == 200
    assert "Estimate with reference classes" in await atom.text()
    refused = await anonymous.request.get(feed.split("?")[0])
    assert refused.status == 403
    await anonymous.close()
    await context.close()


async def test_a_non_member_is_refused_and_chat_members_get_a_direct_message(
    archive: Archive, browser: Browser
) -> None:
    context = await _sign_in_by_mail(browser, archive, "bo", "/c/open-data/")
    page = await context.new_page()
    response = await page.goto(archive.url(f"/c/pm-practice/t/{archive.long_thread}"))
    assert response is not None
    assert response.status == 403
    content = await page.content()
    assert "estimate large projects" not in content
    assert "Project Management Practice" not in content
    assert "who is not one of them" in content
    await _shot(page, "refused", full_page=False)
    report = await page.goto(archive.url("/c/pm-practice/report"))  # a convener of another community
    assert report is not None
    assert report.status == 403
    assert "Project Management Practice" not in await page.content()
    assert await page.locator("svg").count() == 0
    own = await page.goto(archive.url("/c/open-data/report"))
    assert own is not None
    assert own.status == 200
    assert await page.locator("svg.chart").count() == 6
    await page.goto(archive.url("/"))
    assert "Project Management Practice" not in await page.inner_text("main")
    await page.get_by_role("button", name="Sign out").click()
    await page.goto(archive.url("/c/open-data/"))
    assert "Sign in" in await page.inner_text("header")
    await context.close()

    kenji = archive.community.member("kenji").matrix
    assert kenji is not None
    anonymous = await _context(browser)
    page = await anonymous.new_page()
    await page.goto(archive.url("/c/open-data/report"))  # a public community's report: sign in first
    assert urllib.parse.urlsplit(page.url).path == "/login"
    assert await page.locator("svg").count() == 0
    await page.goto(archive.url("/c/open-data/about"))  # its about page is public like its threads
    assert "Bo Lind" in await page.inner_text("main")
    await page.goto(archive.url("/login"))
    await page.get_by_label("Email address or Matrix id").fill(kenji.user_id)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    assert "direct message" in await page.inner_text("main")
    room = await wait_for(lambda: _direct_room(archive, kenji.user_id), WAIT_SECONDS, "the direct room")
    _join(archive.bridge.stack, kenji.access_token, room)
    events = await wait_for(
        lambda: room_messages(archive.bridge.stack.homeserver_url, kenji.access_token, room, 10),
        WAIT_SECONDS,
        "the direct message",
    )
    link = re.search(r"(http://\S+/login/\S+)", events[-1]["content"]["body"])
    assert link is not None
    await page.goto(link.group(1))
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(archive.url("/c/pm-practice/"))
    assert "Signed in as Kenji Watanabe" in await page.inner_text("header")
    await anonymous.close()


def _direct_room(archive: Archive, user_id: str) -> str | None:
    with archive.db() as db:
        row = db.execute("SELECT value FROM setting WHERE key = ?", (f"matrix.direct:{user_id}",)).fetchone()
    return str(row[0]) if row else None


def _join(stack: Stack, token: str, room_id: str) -> None:
    request = urllib.request.Request(
        f"{stack.homeserver_url}/_matrix/client/v3/join/{urllib.parse.quote(room_id)}",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


async def _charts(page: Page) -> dict[str, ET.Element]:
    """The page's charts as Chromium holds them, parsed back as SVG."""
    return parse_charts(await page.locator("svg.chart").evaluate_all("all => all.map(e => e.outerHTML)"))


def _drawn(svg: ET.Element) -> list[tuple[str, float, float | None]]:
    """Each bar or point: its label, its number, and a bar's drawn width."""
    return [
        (label, value, float(shape["width"]) if "width" in shape else None)
        for label, value, shape in marks(svg)
    ]


async def test_the_report_page_is_for_the_team_and_draws_the_stored_figures(
    archive: Archive, browser: Browser
) -> None:
    """A member is refused without a figure; the convener signs in by mail and reads the report: every
    chart drawn as SVG with the numbers of report.json for its period, no CSP violation, readable on a
    phone. The daemon runs the monthly report loop beside it."""
    member = await _context(browser, storage_state=archive.shared["siobhan"])
    page = await member.new_page()
    refused = await page.goto(archive.url("/c/pm-practice/report"))
    assert refused is not None
    assert refused.status == 403
    assert "Conveners only" in await page.inner_text("main")
    assert await page.locator("svg").count() == 0
    await page.goto(archive.url("/c/pm-practice/"))
    assert await page.get_by_role("link", name="Report", exact=True).count() == 0
    await member.close()

    context = await _sign_in_by_mail(browser, archive, "ana", "/c/pm-practice/report")
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await page.goto(archive.url("/c/pm-practice/"))
    await page.get_by_role("link", name="Report", exact=True).click()
    assert urllib.parse.urlsplit(page.url).path == "/c/pm-practice/report"
    first = date.fromisoformat(await page.get_by_label("From", exact=True).input_value())
    last = date.fromisoformat(await page.get_by_label("To (included)", exact=True).input_value())
    assert (last - first).days == 29
    charts = await _charts(page)
    assert set(charts) == CHARTS

    figures = []
    for n in reversed(range(6)):  # oldest first, as the trends draw them
        shift = timedelta(days=30 * n)
        answer = await context.request.get(
            archive.url(f"/c/pm-practice/report.json?from={first - shift}&to={last - shift}")
        )
        assert answer.status == 200
        figures.append(json.loads(await answer.text()))
    assert sum(f["posts"] for f in figures) == archive.history + archive.posts + 1  # every post, once
    for chart, key in (("trend-posts", "posts"), ("trend-participants", "participants")):
        assert [value for _, value, _ in _drawn(charts[chart])] == [f[key] for f in figures]
    answered = [
        f["median_first_response_hours"] for f in figures if f["median_first_response_hours"] is not None
    ]
    assert [value for _, value, _ in _drawn(charts["trend-response"])] == answered
    current = figures[-1]
    channels = {label: (value, width) for label, value, width in _drawn(charts["channels"])}
    assert {label: value for label, (value, _) in channels.items()} == {
        "email": current["by_channel"]["email"],
        "chat": current["by_channel"]["matrix"],
    }
    ratios = {round((width or 0) / value, 2) for value, width in channels.values() if value}
    assert len(ratios) == 1  # bar lengths proportional to the numbers
    assert {label: value for label, value, _ in _drawn(charts["regions"])} == current["regions"]
    assert {label: value for label, value, _ in _drawn(charts["tags"])} == current["tags"]
    assert "Period before:" in await page.inner_text("#figure-posts")

    await _shot(page, "report-top", full_page=False)  # the README's picture (docs/report.png)
    await _shot(page, "report")
    await page.set_viewport_size(PHONE)
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the report scrolls sideways on a phone: {widths}"
    await _shot(page, "report-phone")
    await page.get_by_role("link", name="About", exact=True).click()
    team = await page.locator("dl.about-facts").first.inner_text()
    assert "Ana Souza" in team
    assert "Kenji Watanabe" in team
    assert archive.community.list_address in await page.inner_text("main")
    await _shot(page, "about-phone")
    assert not [line for line in console if "Content Security Policy" in line], console
    await context.close()

    status, body = archive.bridge.get("/healthz")
    assert json.loads(body)["tasks"]["convener.monthly_report"]["running"], status
