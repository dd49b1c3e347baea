"""``make demo``: the bridge for a demo community on a local stack, a short conversation, then yours.

Starts Synapse, Dovecot and Postfix on 127.0.0.1, sets up a community (a public room, a list address,
two chat members and two email-only members), starts ``icop run`` for it, plays a three-hop conversation
(an email, a chat reply in its thread, an email reply to that) and prints it as each side saw it. Then
it keeps running and prints where to connect a Matrix client and a mail client, and the address of
the community's web archive with a sign-in link for one member, and its report page with a sign-in
link for the convener (each asked for on the archive's sign-in page and read from the member's
mailbox, as she would). Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import aioimaplib
import aiosmtplib

from bridge.devstack.community import DEMO_PASSWORD, DemoCommunity, prepare_community, room_messages
from bridge.devstack.stack import Stack

STEP_TIMEOUT = 60.0
READER_EMAIL = "lena@example.test"
DEMO_READER = f"""
[community.digest]
frequency = "weekly"
weekday = "monday"
hour = 8

[[community.member]]
name = "Lena Fischer"
email = "{READER_EMAIL}"
role = "reader"
time_zone = "Europe/Berlin"
"""


def say(text: str = "") -> None:
    print(text, flush=True)


async def main() -> int:
    say("Starting the local stack (Synapse, Dovecot, Postfix) on 127.0.0.1 ...")
    with Stack() as stack:
        say(f"  ready in {stack.startup_seconds:.1f} s, files in {stack.root}")
        community = prepare_community(stack, stack.root / "demo", community_config=DEMO_READER)
        log_path = stack.root / "demo" / "icop.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: ASYNC220 (started once; it runs for the whole demo)
                [sys.executable, "-m", "bridge", "--config", str(community.config_path), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await _wait(lambda: b"icop-bridge running" in log_path.read_bytes(), "icop run to start")
            say(f"icop run is up (pid {process.pid}, log {log_path})")
            await _conversation(stack, community)
            sign_in = await _archive_sign_in(stack, community, "siobhan", f"/c/{community.slug}/")
            report = await _archive_sign_in(stack, community, "ana", f"/c/{community.slug}/report")
            _preview_digest(community)
            _show_report(community)
            _where_to_connect(stack, community, log_path, sign_in, report)
            await _until_interrupted(process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(15)
    say("Stopped the bridge and the stack.")
    return 0


async def _conversation(stack: Stack, community: DemoCommunity) -> None:
    siobhan, kenji = community.member("siobhan"), community.member("kenji")
    assert kenji.matrix is not None
    say("\n1. Siobhán (email only) writes to the list:")
    question = EmailMessage()
    question["From"] = f"{siobhan.name} <{siobhan.email}>"
    question["To"] = community.list_address
    question["Subject"] = "How do you estimate large projects?"
    question["Message-ID"] = make_msgid(domain="example.test")
    question.set_content("Hello all, how do you estimate large projects? We keep missing by 2x.")
    await aiosmtplib.send(question, hostname=stack.smtp_host, port=stack.smtp_port)
    root = await _wait(lambda: _bot_events(stack, community, 1), "the email to reach the room")
    say(f"   the room shows: {root[-1]['content']['body']!r}")

    say("\n2. Kenji answers in the room, in the thread of that message:")
    _send_threaded(
        stack, community, kenji.matrix.access_token, root[-1]["event_id"], "We use reference classes."
    )
    mails = await _wait_for_mail(stack, siobhan.email, 1)
    relayed = mails[-1]
    say(f"   Siobhán's inbox shows: From {relayed['From']!s}, Subject {relayed['Subject']!s}")
    say(f"   in reply to her own mail: {relayed['In-Reply-To'] == question['Message-ID']}")

    say("\n3. Siobhán replies to that email from her mail client:")
    answer = EmailMessage()
    answer["From"] = f"{siobhan.name} <{siobhan.email}>"
    answer["To"] = relayed["Reply-To"]
    answer["Subject"] = f"Re: {relayed['Subject']}"
    answer["Message-ID"] = make_msgid(domain="example.test")
    answer["In-Reply-To"] = relayed["Message-ID"]
    answer["References"] = f"{relayed['References']} {relayed['Message-ID']}"
    answer.set_content("Thanks Kenji, which classes do you use?\n\n> We use reference classes.\n")
    await aiosmtplib.send(answer, hostname=stack.smtp_host, port=stack.smtp_port)
    events = await _wait(lambda: _bot_events(stack, community, 2), "the reply to reach the room")
    relation = events[-1]["content"].get("m.relates_to", {})
    in_thread = relation.get("rel_type") == "m.thread" and relation.get("event_id") == root[-1]["event_id"]
    say(f"   the room shows, in the same thread ({in_thread}): {events[-1]['content']['body']!r}")


async def _archive_sign_in(stack: Stack, community: DemoCommunity, who: str, path: str) -> str:
    """Ask the archive for a member's sign-in link leading to ``path``, as she would on its page, and
    read it from her mail."""
    member = community.member(who)
    before = len(await _read_mailbox(stack, member.email))
    form = {"address": member.email, "next": path}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{_web_root(community)}/login", data=form) as page,
    ):
        page.raise_for_status()
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:  # list mail may arrive beside it: look through every new one
        for mail in (await _wait_for_mail(stack, member.email, before + 1))[before:]:
            body = mail.get_body(preferencelist=("plain",))
            found = re.search(r"Sign in: (\S+)", body.get_content() if body is not None else "")
            if found is not None:
                return found.group(1)
        await asyncio.sleep(0.3)
    raise SystemExit(f"demo: no sign-in link reached {member.email}")


def _web_root(community: DemoCommunity) -> str:
    config = tomllib.loads(community.config_path.read_text())
    return str(config["base_url"]).rstrip("/")


def _preview_digest(community: DemoCommunity) -> None:
    """What Lena, a reader who never opens the room or the list, would get in her weekly digest now."""
    folder = community.config_path.parent
    eml, page = folder / "digest.eml", folder / "digest.html"
    say("\n4. Lena only reads digests. Her weekly digest, if it went out now (icop digest preview):")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(community.config_path), "digest", "preview",
         "--community", community.slug, "--reader", READER_EMAIL, "--out", str(eml)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        say(f"   icop digest preview failed: {done.stderr.strip()}")
        return
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    if text is not None:
        say("   " + "\n   ".join(str(text.get_content()).splitlines()[:24]))
    if html is not None:
        page.write_text(str(html.get_content()), encoding="utf-8")
    say(f"   the whole mail: {eml}\n   open it in a browser: file://{page}")


def _show_report(community: DemoCommunity) -> None:
    """What Ana, the convener, reads about her community: the value indicators of the last 30 days."""
    say("\n5. Ana convenes the community. Its value indicators so far (icop report):")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(community.config_path), "report",
         "--community", community.slug],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        say(f"   icop report failed: {done.stderr.strip()}")
        return
    say("   " + "\n   ".join(done.stdout.rstrip().splitlines()))


def _where_to_connect(
    stack: Stack, community: DemoCommunity, log_path: Path, sign_in: str, report: str
) -> None:
    chat_users = [m.matrix.user_id for m in community.members.values() if m.matrix is not None]
    mail_users = [m.email for m in community.members.values() if m.matrix is None]
    say(
        f"""
The bridge keeps running. Try it yourself:
  Matrix   homeserver {stack.homeserver_url}, room {community.room_alias}
           log in as {" or ".join(chat_users)}, password {DEMO_PASSWORD}
  Mail     IMAP {stack.imap_host}:{stack.imap_port} and SMTP {stack.smtp_host}:{stack.smtp_port}, no TLS
           accounts {" or ".join(mail_users)}, password {stack.mail_password}
           write to the list at {community.list_address}
  Archive  {_web_root(community)}/c/{community.slug}/ (members only)
           sign in as Siobhán with this link (it works once, within the hour):
           {sign_in}
           or ask for a link at {_web_root(community)}/login with a member's address
  Report   {_web_root(community)}/c/{community.slug}/report (the value indicators, conveners and core team)
           sign in as Ana, the convener, with this link (once, within the hour); it opens the report:
           {report}
           also {_web_root(community)}/c/{community.slug}/about for everyone who may read the archive
  Bridge   config {community.config_path}
           log    {log_path}
  Digest   .venv/bin/icop --config {community.config_path} digest preview --community {community.slug} \\
             --reader {READER_EMAIL}
Press Ctrl-C to stop."""
    )


async def _until_interrupted(process: subprocess.Popen[bytes]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set() and process.poll() is None:
        try:
            await asyncio.wait_for(stop.wait(), 1)
        except TimeoutError:
            continue
    if process.poll() is not None:
        say(f"icop run exited with code {process.returncode}")


async def _wait(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def _bot_events(stack: Stack, community: DemoCommunity, count: int) -> list[dict[str, Any]] | None:
    ana = community.member("ana").matrix
    assert ana is not None
    events = [
        event
        for event in room_messages(stack.homeserver_url, ana.access_token, community.room_id, 50)
        if event["sender"] == community.bot.user_id
    ]
    return events if len(events) >= count else None


def _send_threaded(stack: Stack, community: DemoCommunity, token: str, root: str, text: str) -> None:
    content = {
        "msgtype": "m.text",
        "body": text,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }
    room = urllib.parse.quote(community.room_id)
    txn = f"demo-{time.monotonic_ns()}"
    request = urllib.request.Request(  # noqa: S310 (the local stack)
        f"{stack.homeserver_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
        data=json.dumps(content).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


async def _wait_for_mail(stack: Stack, address: str, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        messages = await _read_mailbox(stack, address)
        if len(messages) >= count:
            return messages
        await asyncio.sleep(0.3)
    raise SystemExit(f"demo: timed out waiting for mail to {address}")


async def _read_mailbox(stack: Stack, address: str) -> list[EmailMessage]:
    client = aioimaplib.IMAP4(host=stack.imap_host, port=stack.imap_port, timeout=10)
    try:
        await client.wait_hello_from_server()
        await client.login(address, stack.mail_password)
        await client.select("INBOX")
        response = await client.fetch("1:*", "(BODY.PEEK[])")
        messages = [
            email.message_from_bytes(bytes(line), policy=email.policy.default)
            for line in response.lines
            if isinstance(line, bytearray)
        ]
        await client.logout()
        return [m for m in messages if isinstance(m, EmailMessage)]
    finally:
        if client.protocol is not None and client.protocol.transport is not None:
            client.protocol.transport.close()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
