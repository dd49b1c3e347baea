"""What each ``icop`` command does, given a loaded config; the argument parsing lives in ``cli``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bridge.app import Bridge, StartupError, open_database, serve
from bridge.archive.search import ArchiveSearch, result_json, snippet_text
from bridge.config import LoadedConfig
from bridge.core.model import DeliveryState
from bridge.core.query import QueryError, parse_query
from bridge.email.probe import probe_imap, probe_smtp
from bridge.logs import configure_logging
from bridge.matrix.probe import probe_matrix
from bridge.probe import ProbeResult
from bridge.relay.bounces import bounce_policy
from bridge.relay.community import CommunityContext, stored_community
from bridge.relay.moderation import CLI_ACTOR, Moderation
from bridge.store import MemberRecord, OutboxEntry, Store
from bridge.store.communities import normalise_email
from bridge.store.database import DatabaseUrlError, redact
from bridge.store.migrations import SchemaTooNewError, current_version, latest_version, upgrade


async def check(loaded: LoadedConfig, *, online: bool) -> int:
    """Print a summary of a valid config; with ``online``, probe every server and fail on any problem."""
    config = loaded.config
    members = sum(len(c.member) for c in config.community)
    print(
        f"{loaded.path}: ok: {len(config.community)} communities "
        f"({', '.join(c.slug for c in config.community)}), {members} roster entries"
    )
    if not online:
        return 0
    matrix, imap, smtp = config.matrix, config.mail.imap, config.mail.smtp
    results: list[ProbeResult] = []
    matrix_results, imap_result, smtp_result = await asyncio.gather(
        probe_matrix(
            matrix,
            loaded.secret(matrix.access_token_env, matrix.access_token_file),
            loaded.secret(matrix.password_env, matrix.password_file),
            [c.room for c in config.community]
            + [c.moderators_room for c in config.community if c.moderators_room],
        ),
        probe_imap(imap, loaded.secret(imap.password_env, imap.password_file)),
        probe_smtp(smtp, loaded.secret(smtp.password_env, smtp.password_file)),
    )
    results = [*matrix_results, imap_result, smtp_result]
    for result in results:
        print(result, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else 1


def run(loaded: LoadedConfig, *, log_level: str | None) -> int:
    """``icop run``: the daemon, until SIGTERM/SIGINT."""
    config = loaded.config
    redactor = configure_logging(log_level or config.logging.level, config.logging.format)
    bridge = Bridge(loaded, redactor=redactor)
    try:
        asyncio.run(serve(bridge))
    except SchemaTooNewError as error:
        logging.getLogger("bridge").error("%s", error)
        return 3
    except (StartupError, OSError, DatabaseUrlError) as error:
        logging.getLogger("bridge").error("cannot start: %s", error)
        return 1
    return 0


async def db(loaded: LoadedConfig, action: str) -> int:
    """``icop db upgrade`` / ``icop db version``."""
    try:
        database = await open_database(loaded.database_url())
    except StartupError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 1
    try:
        if action == "upgrade":
            before, after = await upgrade(database)
            if before == after:
                print(f"database {redact(database.url)} is up to date (schema {after})")
            else:
                print(f"database {redact(database.url)} upgraded from schema {before} to {after}")
        else:
            version = await current_version(database)
            print(f"database schema {version}, this icop-bridge knows up to {latest_version()}")
            if version > latest_version():
                print(
                    "icop: this database schema is newer than the code: upgrade icop-bridge", file=sys.stderr
                )
                return 3
    except SchemaTooNewError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 3
    finally:
        await database.close()
    return 0


async def outbox(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop outbox list|retry``: what is waiting, what is dead, and sending dead deliveries again."""
    return await with_store(loaded, lambda store: _outbox(store, args))


async def _outbox(store: Store, args: argparse.Namespace) -> int:
    if args.outbox_command == "retry":
        ids = args.ids or [entry.id for entry in await store.outbox.list(DeliveryState.DEAD, limit=100_000)]
        count = await store.outbox.retry(ids)
        print(f"{count} dead deliver{'y' if count == 1 else 'ies'} queued again")
        return 0
    state = None if args.state == "all" else DeliveryState(args.state)
    entries = await store.outbox.list(state, limit=args.limit)
    for entry in entries:
        if args.json:
            print(json.dumps(_outbox_json(entry), ensure_ascii=False))
        else:
            print(
                f"{entry.id:>7}  {entry.state.value:<9} {entry.channel.value:<6} {entry.kind.value:<9} "
                f"post {entry.post_id:<6} to {entry.recipient}  attempts {entry.attempts}"
                + (f"  last error: {entry.last_error}" if entry.last_error else "")
            )
    if not args.json:
        counts = await store.outbox.counts()
        print("  ".join(f"{state.value}: {n}" for state, n in counts.items()), file=sys.stderr)
    return 0


async def held(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop held list|approve|reject|ban``: posts waiting for a convener, and the decisions on them.

    Exit 0 when done, 1 when the post is not held (unknown, or decided already), 2 for an unknown
    community, 3 for the schema.
    """
    return await with_store(loaded, lambda store: _held(store, loaded, args))


async def _held(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    moderation = Moderation(store)
    configs = {c.slug: c for c in loaded.config.community}
    contexts = {
        r.id: CommunityContext(configs[r.slug], r) for r in await store.communities.all() if r.slug in configs
    }
    if args.held_command == "list":
        community = next((c for c in contexts.values() if c.slug == args.community), None)
        if args.community and community is None:
            print(f"icop: no community {args.community!r} in the config and the store", file=sys.stderr)
            return 2
        posts = await moderation.held(community)
        for held_post in posts:
            print(
                json.dumps(dataclasses.asdict(held_post), ensure_ascii=False)
                if args.json
                else held_post.line()
            )
        if not args.json:
            print(f"{len(posts)} held post{'' if len(posts) == 1 else 's'}", file=sys.stderr)
        return 0
    post = await store.posts.get(args.id)
    context = contexts.get(post.community_id) if post is not None else None
    if post is None or context is None:
        print(f"icop: there is no post {args.id} in a configured community", file=sys.stderr)
        return 1
    if args.held_command == "approve":
        decision = await moderation.approve(context, args.id, CLI_ACTOR)
    elif args.held_command == "reject":
        decision = await moderation.reject(context, args.id, CLI_ACTOR, args.reason)
    else:
        decision = await moderation.ban(context, args.id, CLI_ACTOR, args.reason)
    print(decision.message, file=sys.stdout if decision.done else sys.stderr)
    return 0 if decision.done else 1


async def parked(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop parked list|show|retry|discard`` (bridge.parked_commands)."""
    from bridge import parked_commands

    return await with_store(loaded, lambda store: parked_commands.run(store, loaded, args))


async def members(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop members --community SLUG [--json]`` and ``icop members reset-bounces EMAIL --community SLUG``.

    Exit 0 when done, 1 when the store cannot be opened or has not seen the community yet (``icop run``
    syncs the roster), 2 for a missing or unknown community or an address that is no member, 3 for the
    schema.
    """

    slug = getattr(args, "community", None)
    if not slug:
        print("icop: members: give --community SLUG", file=sys.stderr)
        return 2
    if slug not in {c.slug for c in loaded.config.community}:
        print(f"icop: no community {slug!r} in the config", file=sys.stderr)
        return 2
    return await with_store(loaded, lambda store: _members(store, loaded, args, slug))


async def _members(store: Store, loaded: LoadedConfig, args: argparse.Namespace, slug: str) -> int:
    community = await stored_community(store, loaded.community(slug))
    rows = await store.communities.members(community.id)
    if args.members_command == "reset-bounces":
        wanted = normalise_email(args.email)
        member = next((m for m in rows if m.email and normalise_email(m.email) == wanted), None)
        if member is None:
            print(f"icop: {args.email} is not a member of {slug}", file=sys.stderr)
            return 2
        await store.communities.reset_bounces(member.membership_id, by="cli")
        after = await store.communities.member_record(member.membership_id)
        state = after.state.value if after is not None else "gone"
        print(f"{member.email}: bounce score reset to 0, state {state}")
        return 0
    policy = bounce_policy(loaded.config.mail)
    now = datetime.now(UTC)
    for row in rows:
        score = policy.decayed(row.bounce_score, row.last_bounce_at, now)
        if args.json:
            print(json.dumps(_member_json(row, score), ensure_ascii=False))
        else:
            last = row.last_bounce_at.strftime("%Y-%m-%d %H:%M") if row.last_bounce_at else "-"
            state = row.state.value + (f" ({row.state_reason})" if row.state_reason else "")
            print(
                f"{row.name:<24} {row.email or '-':<32} {row.matrix_id or '-':<24} {row.role.value:<8} "
                f"{state:<20} {row.delivery.value:<6} bounces {score:4.1f} last {last}"
            )
    if not args.json:
        print(f"{len(rows)} member{'' if len(rows) == 1 else 's'}", file=sys.stderr)
    return 0


async def digest(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop digest preview|send-due`` (``bridge.digest.commands``)."""
    from bridge.digest import commands as digest_commands

    return await with_store(loaded, lambda store: digest_commands.run(store, loaded, args))


async def search(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop search QUERY [--community SLUG] [--limit N] [--json]``: one thread per result, best first.

    Exit 0 (also when nothing is found), 1 when the store cannot be opened, 2 for a malformed query (its
    position on stderr) or an unknown community, 3 for the schema.
    """
    try:
        parse_query(args.query)
    except QueryError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 2
    if args.community and args.community not in {c.slug for c in loaded.config.community}:
        print(f"icop: no community {args.community!r} in the config", file=sys.stderr)
        return 2
    return await with_store(loaded, lambda store: _search(store, loaded, args))


async def _search(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    config = loaded.config
    archive = ArchiveSearch(store, str(config.base_url), config.community)
    results = await archive.search(args.query, community=args.community, limit=args.limit)
    for n, result in enumerate(results, start=1):
        if args.json:
            print(json.dumps(result_json(result), ensure_ascii=False))
            continue
        hit = result.hit
        print(
            f"{n:>3}. {hit.subject}  [{hit.community_slug}, {hit.matched}/{hit.posts} posts, "
            f"{hit.first_at:%Y-%m-%d} – {hit.last_at:%Y-%m-%d}, {', '.join(hit.authors[:3])}"
            f"{' …' if len(hit.authors) > 3 else ''}]"
        )
        print(f"     {snippet_text(hit.snippet)}")
        print(f"     {result.url}")
    if not args.json:
        print(f"{len(results)} thread{'' if len(results) == 1 else 's'} found", file=sys.stderr)
    return 0


def _member_json(row: MemberRecord, score: float) -> dict[str, object]:
    """The stable ``--json`` shape of one member (documented in the README)."""
    return {
        "membership_id": row.membership_id,
        "name": row.name,
        "email": row.email,
        "matrix_id": row.matrix_id,
        "role": row.role.value,
        "state": row.state.value,
        "state_reason": row.state_reason,
        "delivery": row.delivery.value,
        "digest_frequency": row.digest_frequency,
        "source": row.source,
        "bounce_score": round(score, 3),
        "last_bounce_at": row.last_bounce_at.isoformat() if row.last_bounce_at else None,
    }


def _outbox_json(entry: OutboxEntry) -> dict[str, object]:
    """The stable ``--json`` shape of one delivery (documented in the README)."""
    return {
        "id": entry.id,
        "post_id": entry.post_id,
        "channel": entry.channel.value,
        "kind": entry.kind.value,
        "recipient": entry.recipient,
        "state": entry.state.value,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at.isoformat(),
        "last_error": entry.last_error,
        "remote_id": entry.remote_id,
        "created_at": entry.created_at.isoformat(),
    }


async def with_store(loaded: LoadedConfig, work: Callable[[Store], Awaitable[int]]) -> int:
    """Run a command's ``work`` on the store: exit 1 when it cannot be opened, 3 when its schema is newer
    than this code (an older one is upgraded first: commands need the current schema)."""
    try:
        database = await open_database(loaded.database_url())
    except StartupError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 1
    try:
        await upgrade(database)
        return await work(Store(database))
    except SchemaTooNewError as error:
        print(f"icop: {error}", file=sys.stderr)
        return 3
    finally:
        await database.close()
