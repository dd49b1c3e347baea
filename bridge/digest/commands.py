"""``icop digest preview`` and ``icop digest send-due``: the digest run by hand.

``send-due`` does what the daemon's scheduler does, once, at ``--now`` (default: now), and prints one
line per digest (sent, would send, nothing new, already claimed, will retry, failed for good) and a
count on stderr. It may run beside a daemon: the store's claim keeps each digest to one sender.
Exit codes: 0 done; 1 a digest could not be sent (it is retried by the next run) or the store cannot be
opened; 2 a bad ``--now``, community or reader; 3 the schema is newer than this code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from bridge.config import LoadedConfig
from bridge.digest.service import DigestService
from bridge.email.smtp import SmtpSender
from bridge.relay.community import stored_community
from bridge.relay.keys import signing_key
from bridge.store import Store


def parse_now(value: str | None) -> datetime:
    """``--now``: ISO 8601 with ``Z`` or an offset; a time without its zone is ambiguous, so refused."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now {value!r} is not an ISO 8601 time (e.g. 2026-03-09T08:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"--now {value!r} has no time zone: add Z or an offset such as +01:00")
    return moment.astimezone(UTC)


async def run(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    try:
        now = parse_now(args.now)
    except ValueError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 2
    key = await signing_key(loaded, store.settings)
    smtp_config = loaded.config.mail.smtp
    secret = loaded.secret(smtp_config.password_env, smtp_config.password_file)
    smtp = SmtpSender(smtp_config, secret.read() if secret is not None else None)
    service = DigestService(
        loaded,
        store,
        key,
        smtp,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        concurrency=smtp_config.connections * 2,
    )
    try:
        if args.digest_command == "preview":
            return await _preview(service, loaded, args, now)
        summary = await service.send_due(now, dry_run=args.dry_run, report=print)
    finally:
        await smtp.close()
    counts = (
        f"{summary.would_send} would be sent, {summary.empty} with nothing new"
        if args.dry_run
        else f"{summary.sent} sent, {summary.empty} with nothing new, {summary.failed} failed, "
        f"{summary.skipped} claimed by another sender"
    )
    print(f"digests due at {now.isoformat()}: {counts}", file=sys.stderr)
    return 1 if summary.failed else 0


async def _preview(
    service: DigestService, loaded: LoadedConfig, args: argparse.Namespace, now: datetime
) -> int:
    if args.community not in {c.slug for c in loaded.config.community}:
        print(f"icop: no community {args.community!r} in the config", file=sys.stderr)
        return 2
    await stored_community(service.store, loaded.community(args.community))
    prepared = await service.preview(args.community, args.reader, now)
    if prepared is None:
        print(f"icop: {args.reader} is not a member or reader of {args.community}", file=sys.stderr)
        return 2
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, prepared.raw)
        print(f"{args.out}: {prepared.subject} ({len(prepared.raw)} bytes)", file=sys.stderr)
    else:
        sys.stdout.write(prepared.text)
    return 0
