"""``icop report``, ``icop stories``, ``icop audit`` and ``icop meetings suggest``: what the convener's
tools do, given a loaded config."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.convener.meeting_slots import attendees, rotation_lines, slot_json, slot_lines
from bridge.convener.report import PeriodError, as_csv, as_json_line, as_table, parse_day, period
from bridge.core.indicators import compute
from bridge.core.links import thread_url
from bridge.core.meetings import rotations, suggest
from bridge.core.stories import excerpt
from bridge.relay.community import stored_community
from bridge.store import Store, StoryRecord
from bridge.store.audit import AuditLog, AuditRecord
from bridge.store.community_facts import CommunityFactsRepository

ROTATION_POOL = 24  # rotations are built from this many of the best distinct times of day


async def report(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """Exit 0 with the report; 2 for an unknown community or a bad period; 1 when the store has not
    seen the community yet (``icop run`` syncs it)."""
    from bridge.commands import with_store

    config = _community_config(loaded, args.community)
    if config is None:
        return 2
    try:
        since, until = period(args.since, args.until, datetime.now(UTC))
    except PeriodError as error:
        print(f"icop: report: {error}", file=sys.stderr)
        return 2

    async def work(store: Store) -> int:
        community = await stored_community(store, config)
        facts = await CommunityFactsRepository(store.db).load(
            community.id, config.slug, config.time_zone, until
        )
        result = compute(facts, since, until)
        if args.format == "json":
            print(as_json_line(result, config.slug))
        elif args.format == "csv":
            sys.stdout.write(as_csv(result, config.slug))
        else:
            print(as_table(result, config.name))
        return 0

    return await with_store(loaded, work)


async def stories(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop stories --community SLUG [--since DATE] [--until DATE] [--json]``: the value stories,
    newest first. Exit 2 for an unknown community or a bad period, 1 when the store has not seen it."""
    from bridge.commands import with_store

    config = _community_config(loaded, args.community)
    if config is None:
        return 2
    bounds = _bounds(args, "stories")
    if bounds is None:
        return 2
    since, until = bounds
    base_url = loaded.config.base_url

    async def work(store: Store) -> int:
        community = await stored_community(store, config)
        found = await store.stories.in_community(community.id, since=since, until=until)
        for story in found:
            url = thread_url(base_url, config.slug, story.thread_id)
            if args.json:
                print(json.dumps(story_json(story, config.slug, url), ensure_ascii=False))
            else:
                about = f"“{story.practice}”" if story.practice else f"thread {story.thread_id}"
                print(f"{story.created_at:%Y-%m-%d} {story.author_name} about {about}: {excerpt(story.text)}")
                print(f"           {url}")
        if not args.json:
            practices = len({s.thread_id for s in found if s.practice})
            print(
                f"{len(found)} stor{'y' if len(found) == 1 else 'ies'}, about {practices} "
                f"practice{'' if practices == 1 else 's'}",
                file=sys.stderr,
            )
        return 0

    return await with_store(loaded, work)


def story_json(story: StoryRecord, slug: str, url: str) -> dict[str, object]:
    """The stable ``--json`` shape of one story (documented in the README)."""
    return {
        "id": story.id,
        "community": slug,
        "thread": story.thread_id,
        "practice": story.practice,
        "post": story.post_id,
        "author": story.author_name,
        "author_address": story.author_address,
        "channel": story.channel.value,
        "text": story.text,
        "url": url,
        "created_at": story.created_at.isoformat(),
    }


async def audit(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop audit --community SLUG [--since DATE] [--until DATE] [--action ACTION] [--json]``: who did
    what, oldest first. Exit 2 for an unknown community or a bad date, 1 when the store has not seen it."""
    from bridge.commands import with_store

    config = _community_config(loaded, args.community)
    if config is None:
        return 2
    bounds = _bounds(args, "audit")
    if bounds is None:
        return 2
    since, until = bounds

    async def work(store: Store) -> int:
        community = await stored_community(store, config)
        events = await AuditLog(store.db).of_community(
            community.id, since=since, until=until, action=args.action
        )
        for event in events:
            if args.json:
                print(json.dumps(audit_json(event, config.slug), ensure_ascii=False))
            else:
                detail = f"  {event.detail}" if event.detail else ""
                when = f"{event.at:%Y-%m-%d %H:%M:%S}Z"
                print(f"{when}  {event.actor:<28} {event.action:<20} {event.target}{detail}")
        if not args.json:
            print(f"{len(events)} event{'' if len(events) == 1 else 's'}", file=sys.stderr)
        return 0

    return await with_store(loaded, work)


def audit_json(event: AuditRecord, slug: str) -> dict[str, object]:
    """The stable ``--json`` shape of one audit event (documented in the README)."""
    return {
        "id": event.id,
        "community": slug,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "detail": event.detail,
    }


async def meetings(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop meetings suggest``: exit 0 with the ranked slots; 2 for an unknown community or bad options."""
    from bridge.commands import with_store

    config = _community_config(loaded, args.community)
    if config is None:
        return 2
    if not 15 <= args.duration <= 8 * 60:
        print("icop: meetings suggest: --duration is minutes, from 15 to 480", file=sys.stderr)
        return 2
    try:
        first_day = parse_day(args.start, "--from") if args.start else datetime.now(UTC) + timedelta(days=1)
    except PeriodError as error:
        print(f"icop: meetings suggest: {error}", file=sys.stderr)
        return 2

    async def work(store: Store) -> int:
        community = await stored_community(store, config)
        people = attendees(
            await CommunityFactsRepository(store.db).participants(community.id), config.time_zone
        )
        if not people:
            print(f"icop: {config.slug} has no conveners, core team or members to meet", file=sys.stderr)
            return 1
        duration = timedelta(minutes=args.duration)
        ranked = suggest(
            people, first_day, duration=duration, days=args.days, limit=max(args.limit, ROTATION_POOL)
        )
        for rank, slot in enumerate(ranked[: args.limit], start=1):
            print(slot_json(slot) if args.json else "\n".join(slot_lines(rank, slot)))
        if not args.json:
            best_single = ranked[0].worst_pain if ranked else 0
            for size in (2, 3):
                found = rotations(ranked[:ROTATION_POOL], size=size, limit=1)
                if found and found[0].worst_pain < best_single:
                    print(f"\nRotation sharing the out-of-hours burden ({size} slots taken in turn):")
                    print("\n".join(rotation_lines(found[0])))
            print(f"{len(people)} people in {len({p.time_zone for p in people})} time zones", file=sys.stderr)
        return 0

    return await with_store(loaded, work)


def _bounds(args: argparse.Namespace, command: str) -> tuple[datetime | None, datetime | None] | None:
    """``--since``/``--until`` as UTC times (None when not given); None after saying what is wrong."""
    try:
        since = parse_day(args.since, "--since") if args.since else None
        until = parse_day(args.until, "--until") if args.until else None
    except PeriodError as error:
        print(f"icop: {command}: {error}", file=sys.stderr)
        return None
    return since, until


def _community_config(loaded: LoadedConfig, slug: str | None) -> CommunityConfig | None:
    config = next((c for c in loaded.config.community if c.slug == slug), None)
    if config is None:
        print(f"icop: no community {slug!r} in the config", file=sys.stderr)
    return config
