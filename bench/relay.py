"""Relay latency and throughput on the local stack, as ratios to the raw clients in the same run.

Measured, each way, with ``icop run`` as a real process:
- latency: one message at a time, from the moment the sender's client returns to the moment the other
  side sees it (a Matrix /sync client in the room; IMAP polled with NOOP every 10 ms, because Dovecot's
  IDLE adds a fixed ~0.5 s notify delay). The same path without the bridge is measured as the baseline
  (aiosmtplib → Postfix → Dovecot; matrix-nio → Synapse → /sync).
- throughput: a burst of N messages sent at once; messages per second until the last one arrived on
  the other side, divided by the rate of the raw client doing the same sends straight to the server
  (matrix-nio sending N room messages; aiosmtplib sending the same mails over one connection).

Everything targets 127.0.0.1, is bounded in count and time, and stops by itself. Results are written
to bench/results/relay-<UTC time>.json and summarised on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aioimaplib
import aiosmtplib
from nio import AsyncClient, AsyncClientConfig, RoomMessageText, RoomSendResponse

from bridge.devstack.community import DemoCommunity, prepare_community
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser

LATENCY_SAMPLES = int(os.environ.get("ICOP_BENCH_LATENCY_SAMPLES", "30"))
BURST = int(os.environ.get("ICOP_BENCH_BURST", "100"))
STEP_TIMEOUT = 120.0
RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


@dataclass
class RoomWatcher:
    """A /sync client in the room that records when each text body first arrives."""

    client: AsyncClient
    seen: dict[str, float] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def on_message(_room: object, event: RoomMessageText) -> None:
            for line in event.body.splitlines():
                marker = line.rsplit(": ", 1)[-1].strip()
                self.seen.setdefault(marker, time.monotonic())

        self.client.add_event_callback(on_message, RoomMessageText)
        await self.client.sync(timeout=0, full_state=False)
        self.task = asyncio.create_task(self.client.sync_forever(timeout=1000))

    async def wait(self, marker: str) -> float:
        deadline = time.monotonic() + STEP_TIMEOUT
        while marker not in self.seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{marker!r} never reached the room")
            await asyncio.sleep(0.002)
        return self.seen[marker]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


class MailWatcher:
    """An IMAP session polled with NOOP: Dovecot reports new mail at once, IDLE only after ~0.5 s."""

    def __init__(self, stack: Stack, address: str) -> None:
        self.stack = stack
        self.address = address
        self.client: aioimaplib.IMAP4 | None = None
        self.count = 0
        self.fetched = 0
        self.markers: dict[str, float] = {}

    async def start(self) -> None:
        self.client = aioimaplib.IMAP4(host=self.stack.imap_host, port=self.stack.imap_port, timeout=30)
        await self.client.wait_hello_from_server()
        await self.client.login(self.address, self.stack.mail_password)
        response = await self.client.select("INBOX")
        self.count = self.fetched = _exists(response.lines)

    async def wait_for(self, count: int) -> float:
        assert self.client is not None
        deadline = time.monotonic() + STEP_TIMEOUT
        while self.count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.address}: {self.count} of {count} mails")
            response = await self.client.select("INBOX")  # always reports EXISTS; NOOP can miss it
            self.count = max(self.count, _exists(response.lines))
            if self.count < count:
                await asyncio.sleep(0.01)
        return time.monotonic()

    async def wait_for_marker(self, marker: str) -> float:
        """When a mail whose body holds ``marker`` arrived (NOOP-polled, new messages fetched)."""
        assert self.client is not None
        deadline = time.monotonic() + STEP_TIMEOUT
        while marker not in self.markers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.address}: no mail with {marker!r}")
            response = await self.client.select("INBOX")  # always reports EXISTS; NOOP can miss it
            exists = max(self.count, _exists(response.lines))
            if exists > self.fetched:
                fetched = await self.client.fetch(f"{self.fetched + 1}:{exists}", "(BODY.PEEK[TEXT])")
                now = time.monotonic()
                for line in fetched.lines:
                    if isinstance(line, bytearray):
                        for word in bytes(line).decode(errors="replace").split():
                            self.markers.setdefault(word.strip(".,"), now)
                self.fetched = exists
            self.count = exists
            if marker not in self.markers:
                await asyncio.sleep(0.01)
        return self.markers[marker]

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.logout()


def _exists(lines: list[Any]) -> int:
    found = 0
    for line in lines:
        text = bytes(line).decode(errors="replace") if not isinstance(line, str) else line
        if text.endswith("EXISTS"):
            found = max(found, int(text.split()[0]))
    return found


def _profiler() -> list[str]:
    """``ICOP_BENCH_PROFILE=FILE`` runs the daemon under cProfile (written when it stops)."""
    target = os.environ.get("ICOP_BENCH_PROFILE")
    return ["-m", "cProfile", "-o", target] if target else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``): a busy relay or a waiting one."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def matrix_client(stack: Stack, user: MatrixUser) -> AsyncClient:
    client = AsyncClient(
        stack.homeserver_url,
        user.user_id,
        device_id=user.device_id,
        config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2),
    )
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


def mail(community: DemoCommunity, sender: str, to: str, text: str) -> EmailMessage:
    member = community.member(sender)
    message = EmailMessage()
    message["From"] = f"{member.name} <{member.email}>"
    message["To"] = to
    message["Subject"] = f"bench {text}"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content(text)
    return message


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    began = time.monotonic()
    await action()
    return time.monotonic() - began


async def run(stack: Stack, workdir: Path) -> dict[str, Any]:
    community = prepare_community(stack, workdir, web_port=free_port(), user_suffix="-bench")
    log_path = workdir / "icop.log"
    with log_path.open("ab") as log:
        daemon = subprocess.Popen(  # noqa: ASYNC220 (started once for the whole run)
            [sys.executable, *_profiler(), "-m", "bridge", "--config", str(community.config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ana, kenji = community.member("ana").matrix, community.member("kenji").matrix
    assert ana is not None
    assert kenji is not None
    watcher = RoomWatcher(matrix_client(stack, ana))
    sender = matrix_client(stack, kenji)
    priya = MailWatcher(stack, community.member("priya").email)
    smtp = aiosmtplib.SMTP(hostname=stack.smtp_host, port=stack.smtp_port, start_tls=False, use_tls=False)
    try:
        for _ in range(600):  # up to 60 s for the daemon to start
            if b"icop-bridge running" in log_path.read_bytes():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # the bot joins the room and reads the mailbox once
        await watcher.start()
        await priya.start()
        await smtp.connect()
        results: dict[str, Any] = {}
        created = await sender.room_create(name="raw baseline (not bridged)", invite=[ana.user_id])
        raw_room = str(getattr(created, "room_id", ""))
        assert raw_room, created
        await watcher.client.join(raw_room)

        # -- baselines: the same paths without the bridge --------------------------------------
        raw_mail: list[float] = []
        for n in range(LATENCY_SAMPLES):
            message = mail(community, "siobhan", community.member("priya").email, f"raw-mail-{n}")
            await smtp.send_message(message)
            sent = time.monotonic()
            raw_mail.append(await priya.wait_for_marker(f"raw-mail-{n}") - sent)
        raw_matrix: list[float] = []
        for n in range(LATENCY_SAMPLES):
            marker = f"raw-matrix-{n}"
            response = await sender.room_send(
                raw_room, "m.room.message", {"msgtype": "m.text", "body": marker}
            )
            assert isinstance(response, RoomSendResponse)
            sent = time.monotonic()
            raw_matrix.append(await watcher.wait(marker) - sent)
        results["baseline_latency"] = {
            "smtp_to_imap": summary(raw_mail),
            "matrix_send_to_sync": summary(raw_matrix),
        }

        # -- latency through the bridge --------------------------------------------------------
        to_matrix: list[float] = []
        for n in range(LATENCY_SAMPLES):
            marker = f"mail-{n}"
            await smtp.send_message(mail(community, "siobhan", community.list_address, marker))
            sent = time.monotonic()
            to_matrix.append(await watcher.wait(marker) - sent)
        to_email: list[float] = []
        for n in range(LATENCY_SAMPLES):
            marker = f"chat-{n}-{os.getpid()}"
            response = await sender.room_send(
                community.room_id, "m.room.message", {"msgtype": "m.text", "body": marker}
            )
            assert isinstance(response, RoomSendResponse)
            sent = time.monotonic()
            to_email.append(await priya.wait_for_marker(marker) - sent)
        results["relay_latency"] = {
            "email_to_matrix": summary(to_matrix),
            "matrix_to_email": summary(to_email),
        }

        # -- throughput: a backlog through the bridge vs the raw client doing the same work -------
        # The daemon is stopped (SIGSTOP) while the burst is written, so what is timed is the relay
        # clearing a backlog (SIGCONT until the last message arrived), not the bench's own sending.
        async def raw_matrix_burst() -> None:
            for n in range(BURST):
                await sender.room_send(
                    raw_room, "m.room.message", {"msgtype": "m.text", "body": f"raw-burst-{n}"}
                )
            for n in range(BURST):
                await watcher.wait(f"raw-burst-{n}")

        raw_matrix_seconds = await timed(raw_matrix_burst)

        list_box = MailWatcher(stack, community.list_address)
        daemon.send_signal(signal.SIGSTOP)
        try:
            await list_box.start()
            first = list_box.count
            for n in range(BURST):
                await smtp.send_message(mail(community, "siobhan", community.list_address, f"burst-{n}"))
            await list_box.wait_for(first + BURST)  # the whole burst waits in the list's mailbox
        finally:
            daemon.send_signal(signal.SIGCONT)
        began, cpu = time.monotonic(), cpu_seconds(daemon.pid)
        for n in range(BURST):
            await watcher.wait(f"burst-{n}")
        bridge_to_matrix_seconds = time.monotonic() - began
        to_matrix_cpu = cpu_seconds(daemon.pid) - cpu
        await list_box.stop()

        await asyncio.sleep(5)  # the list copies of the email burst go out before the next phase
        # The raw client sends what the bridge sends: one mail per post per recipient.
        recipients = [community.member(key).email for key in ("ana", "siobhan", "priya")]

        async def raw_mail_burst() -> None:
            for n in range(BURST):
                for to in recipients:
                    await smtp.send_message(mail(community, "kenji", to, f"raw-b-{n}"))
            for n in range(BURST):
                await priya.wait_for_marker(f"raw-b-{n}")

        raw_smtp_seconds = await timed(raw_mail_burst)
        daemon.send_signal(signal.SIGSTOP)
        try:
            for n in range(BURST):
                await sender.room_send(
                    community.room_id, "m.room.message", {"msgtype": "m.text", "body": f"chatburst{n}"}
                )
        finally:
            daemon.send_signal(signal.SIGCONT)
        began, cpu = time.monotonic(), cpu_seconds(daemon.pid)
        for n in range(BURST):
            await priya.wait_for_marker(f"chatburst{n}")
        bridge_to_email_seconds = time.monotonic() - began
        to_email_cpu = cpu_seconds(daemon.pid) - cpu
        mails = BURST * len(recipients)  # Ana, Siobhán and Priya get each of Kenji's posts by mail

        results["throughput"] = {
            "burst": BURST,
            "measured": "a backlog of the burst, written while the daemon was stopped (SIGSTOP), "
            "timed from SIGCONT to the last arrival; the raw client sends the same messages and is "
            "timed from its first send to the last arrival",
            "email_to_matrix": {
                "bridge_msgs_per_s": round(BURST / bridge_to_matrix_seconds, 1),
                "raw_matrix_nio_msgs_per_s": round(BURST / raw_matrix_seconds, 1),
                "ratio": round(raw_matrix_seconds / bridge_to_matrix_seconds, 2),
                "bridge_seconds": round(bridge_to_matrix_seconds, 2),
                "daemon_cpu_seconds": round(to_matrix_cpu, 2),
            },
            "matrix_to_email": {
                "bridge_mails_per_s": round(mails / bridge_to_email_seconds, 1),
                "raw_aiosmtplib_mails_per_s": round(mails / raw_smtp_seconds, 1),
                "ratio": round(raw_smtp_seconds / bridge_to_email_seconds, 2),
                "bridge_seconds": round(bridge_to_email_seconds, 2),
                "daemon_cpu_seconds": round(to_email_cpu, 2),
            },
        }
        return results
    finally:
        await smtp.quit() if smtp.is_connected else None
        await priya.stop()
        await watcher.stop()
        await sender.close()
        daemon.terminate()
        daemon.wait(15)


async def main() -> int:
    print("Starting the local stack ...", flush=True)
    with Stack() as stack:
        results = await run(stack, stack.root / "bench")
    results["meta"] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "latency_samples": LATENCY_SAMPLES,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"relay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {path}")
    return 0
