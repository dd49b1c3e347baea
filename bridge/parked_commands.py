"""``icop parked list|show|retry|discard``: the conveners' view of messages the relay set aside.

``retry`` only queues: the running daemon holds the connections a message needs (the homeserver for a
Matrix file, SMTP for a bounce's notices) and re-processes queued messages within seconds. ``--wait``
waits for it and tells how each one went. Exit codes: 0 done; 1 an id that is not in a state the action
applies to, a message that failed again, or ``--wait`` running out; 2 an unknown community.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parser is built before the store is imported: `icop --help` stays quick
    from bridge.config import LoadedConfig
    from bridge.store import ParkedRecord, Store
    from bridge.store.models import ParkedState

STATE_CHOICES = ("open", "parked", "queued", "done", "discarded", "all")
WAIT_POLL_SECONDS = 0.5


def _states(choice: str) -> Sequence[ParkedState] | None:
    from bridge.store.models import ParkedState
    from bridge.store.parked import OPEN_STATES

    return {
        "open": OPEN_STATES,
        "parked": (ParkedState.PARKED,),
        "queued": (ParkedState.QUEUED, ParkedState.RETRYING),
        "done": (ParkedState.DONE,),
        "discarded": (ParkedState.DISCARDED,),
        "all": None,
    }[choice]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parked = commands.add_parser("parked", help="messages that could not be handled: list, retry, discard")
    actions = parked.add_subparsers(dest="parked_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list parked messages (those still open by default)")
    listing.add_argument("--community", metavar="SLUG", help="only this community")
    listing.add_argument(
        "--state",
        default="open",
        choices=STATE_CHOICES,
        help="open (default: parked or queued), parked, queued, done, discarded or all",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="write a parked message's raw bytes (mail, or event JSON)")
    show.add_argument("id", type=int)
    retry = actions.add_parser("retry", help="re-process parked messages (all of them without ids)")
    retry.add_argument("ids", nargs="*", type=int, help="parked message ids (default: every parked one)")
    retry.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="wait up to SECONDS for the daemon to re-process them, and say how each went",
    )
    discard = actions.add_parser("discard", help="set parked messages aside for good (kept, retryable)")
    discard.add_argument("ids", nargs="+", type=int, help="parked message ids")


async def run(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    action = args.parked_command
    if action == "list":
        return await _list(store, args)
    if action == "show":
        data = await store.parked.data(args.id)
        if data is None:
            print(f"icop: there is no parked message {args.id}", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    now = datetime.now(UTC)
    if action == "discard":
        done = await store.parked.discard(args.ids, now)
        _complain(args.ids, done, "not parked or queued")
        print(f"{len(done)} parked message{'' if len(done) == 1 else 's'} discarded")
        return 0 if len(done) == len(set(args.ids)) else 1
    queued = await store.parked.queue(args.ids or None, now)
    if args.ids:
        _complain(args.ids, queued, "not parked or discarded")
    print(f"{len(queued)} parked message{'' if len(queued) == 1 else 's'} queued for re-processing")
    complete = not args.ids or len(queued) == len(set(args.ids))
    if args.wait is None or not queued:
        return 0 if complete else 1
    settled = await _wait(store, queued, args.wait)
    return 0 if complete and settled else 1


async def _list(store: Store, args: argparse.Namespace) -> int:
    communities = {c.id: c.slug for c in await store.communities.all()}
    community_id = None
    if args.community:
        community_id = next((i for i, slug in communities.items() if slug == args.community), None)
        if community_id is None:
            print(f"icop: no community {args.community!r} in the store", file=sys.stderr)
            return 2
    records = await store.parked.find(_states(args.state), community_id)
    for record in records:
        if args.json:
            print(json.dumps(parked_json(record, communities), ensure_ascii=False))
        else:
            print(_line(record, communities))
    if not args.json:
        print(f"{len(records)} parked message{'' if len(records) == 1 else 's'}", file=sys.stderr)
    return 0


async def _wait(store: Store, ids: list[int], seconds: float) -> bool:
    """Wait until the daemon settled every id; print each outcome; False if any failed or time ran out."""
    from bridge.store.models import ParkedState

    deadline = time.monotonic() + seconds
    pending = set(ids)
    settled = True
    while pending:
        for parked_id in sorted(pending):
            record = await store.parked.get(parked_id)
            if record is None or record.state in (ParkedState.QUEUED, ParkedState.RETRYING):
                continue
            pending.discard(parked_id)
            if record.state is ParkedState.DONE:
                print(f"{parked_id}: re-processed")
            else:
                settled = False
                print(f"{parked_id}: {record.state.value}: {record.reason}", file=sys.stderr)
        if pending and time.monotonic() > deadline:
            print(
                f"icop: still queued after {seconds:g} s (is icop run running?): "
                + " ".join(str(i) for i in sorted(pending)),
                file=sys.stderr,
            )
            return False
        if pending:
            await asyncio.sleep(WAIT_POLL_SECONDS)
    return settled


def _complain(asked: list[int], done: list[int], why: str) -> None:
    missing = sorted(set(asked) - set(done))
    if missing:
        print(f"icop: {why}: {' '.join(str(i) for i in missing)}", file=sys.stderr)


def _line(record: ParkedRecord, communities: dict[int, str]) -> str:
    where = communities.get(record.community_id or 0, "-")
    who = record.sender or "unknown sender"
    what = f" “{record.subject}”" if record.subject else ""
    return (
        f"{record.id:>5}  {record.state.value:<9} {record.channel.value:<6} {where:<16} {record.size:>9} B  "
        f"{who}{what}  ({record.failure}, {record.attempts} attempt{'' if record.attempts == 1 else 's'}): "
        f"{record.reason}"
    )


def parked_json(record: ParkedRecord, communities: dict[int, str]) -> dict[str, object]:
    """The stable ``--json`` shape of one parked message (documented in the README)."""
    return {
        "id": record.id,
        "community": communities.get(record.community_id) if record.community_id is not None else None,
        "channel": record.channel.value,
        "source": record.source,
        "position": record.position,
        "origin": record.origin,
        "sender": record.sender,
        "subject": record.subject,
        "size": record.size,
        "reason": record.reason,
        "failure": record.failure,
        "attempts": record.attempts,
        "state": record.state.value,
        "parked_at": record.parked_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "told_at": record.told_at.isoformat() if record.told_at else None,
        "resolved_at": record.resolved_at.isoformat() if record.resolved_at else None,
    }
