"""The archive's command line: ``icop tags``, ``icop practices``, ``icop export catalogue``.

Conveners file and describe practices from a terminal as the core team does in the room; what is done
here is recorded as applied by ``cli``. Exit codes as everywhere: 0 done, 1 the store cannot be opened
or has not seen the community yet (``icop run`` syncs it), 2 a usage error (an unknown community, a
thread of another community, a tag a taxonomy-only community does not have), 3 the schema.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bridge.archive.catalogue import catalogue_view, write_catalogue
from bridge.config import LoadedConfig
from bridge.config.schema import build_taxonomy
from bridge.core.links import tag_url, thread_url
from bridge.core.model import PracticeState, TagSource
from bridge.relay.community import CommunityContext, stored_community
from bridge.relay.filing import tag_overview
from bridge.store import NewTag, PracticeRecord, Store

CLI_ACTOR = "cli"


async def tags(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop tags --community SLUG [--json]``; ``icop tags add|remove THREAD TAG… --community SLUG``."""
    from bridge.commands import with_store

    if not _known(loaded, args.community):
        return 2
    return await with_store(loaded, lambda store: _tags(store, loaded, args))


async def practices(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop practices --community SLUG [--state S] [--json]`` and ``confirm|set-summary|remove``."""
    from bridge.commands import with_store

    if not _known(loaded, args.community):
        return 2
    summary = None
    if args.practices_command == "set-summary":
        try:
            summary = await asyncio.to_thread(_summary_text, args)
        except OSError as error:
            print(f"icop: cannot read {args.file}: {error.strerror}", file=sys.stderr)
            return 2
        if not summary:
            print(
                "icop: the summary is empty: give --text TEXT or --file FILE (- for stdin)", file=sys.stderr
            )
            return 2
    return await with_store(loaded, lambda store: _practices(store, loaded, args, summary))


def _summary_text(args: argparse.Namespace) -> str:
    if args.file == "-":
        return sys.stdin.read().strip()
    if args.file:
        return Path(args.file).read_text(encoding="utf-8").strip()
    return str(args.text or "").strip()


async def export(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    """``icop export catalogue --community SLUG --out DIR``."""
    from bridge.commands import with_store

    if not _known(loaded, args.community):
        return 2
    return await with_store(loaded, lambda store: _export(store, loaded, args))


def _known(loaded: LoadedConfig, slug: str | None) -> bool:
    if not slug:
        print("icop: give --community SLUG", file=sys.stderr)
        return False
    if slug not in {c.slug for c in loaded.config.community}:
        print(f"icop: no community {slug!r} in the config", file=sys.stderr)
        return False
    return True


async def _context(store: Store, loaded: LoadedConfig, slug: str) -> CommunityContext | None:
    config = next(c for c in loaded.config.community if c.slug == slug)
    record = await stored_community(store, config)
    await store.tags.sync_taxonomy(record.id, build_taxonomy(config).definitions)
    return CommunityContext(config, record)


async def _thread_of(store: Store, community: CommunityContext, thread_id: int) -> bool:
    thread = await store.posts.thread(thread_id)
    if thread is None or thread.community_id != community.id:
        print(f"icop: there is no thread {thread_id} in {community.slug}", file=sys.stderr)
        return False
    return True


async def _tags(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    community = await _context(store, loaded, args.community)
    if community is None:
        return 1
    base_url = loaded.config.base_url
    if args.tags_command in ("add", "remove"):
        if not await _thread_of(store, community, args.thread):
            return 2
        taxonomy = community.taxonomy
        resolved = {w: taxonomy.resolve(w.lstrip("#")) for w in args.tags}
        unknown = [w for w, name in resolved.items() if name is None]
        if unknown and args.tags_command == "add":
            print(f"icop: not tags of {community.slug}: {', '.join(unknown)}", file=sys.stderr)
            return 2
        names = [name for name in resolved.values() if name is not None]
        if args.tags_command == "add":
            new = [
                NewTag(
                    n,
                    TagSource.CONVENER,
                    label=taxonomy.label(n) if taxonomy.definition(n) else n,
                    applied_by=CLI_ACTOR,
                )
                for n in names
            ]
            added = await store.tags.tag_thread(community.id, args.thread, new, now=datetime.now(UTC))
            print(f"thread {args.thread}: added {', '.join(added) or 'nothing new'}")
        else:
            removed = await store.tags.untag_thread(
                args.thread, names + [w.lower() for w in unknown], by=CLI_ACTOR
            )
            print(f"thread {args.thread}: removed {', '.join(removed) or 'nothing'}")
        return 0
    usage = await tag_overview(store, community)
    for tag in usage:
        if args.json:
            row = {
                "tag": tag.name,
                "label": tag.label,
                "description": tag.description,
                "threads": tag.threads,
                "practices": tag.practices,
                "taxonomy": community.taxonomy.definition(tag.name) is not None,
                "url": tag_url(base_url, community.slug, tag.name),
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"#{tag.name:<24} {tag.label:<28} {tag.threads:>6} threads {tag.practices:>4} practices")
    if not args.json:
        print(f"{len(usage)} tag{'' if len(usage) == 1 else 's'}", file=sys.stderr)
    return 0


async def _practices(
    store: Store, loaded: LoadedConfig, args: argparse.Namespace, summary: str | None
) -> int:
    community = await _context(store, loaded, args.community)
    if community is None:
        return 1
    now = datetime.now(UTC)
    action = args.practices_command
    if action is not None:
        if not await _thread_of(store, community, args.thread):
            return 2
        if action == "confirm":
            thread = await store.posts.thread(args.thread)
            existing = await store.practices.of_thread(args.thread)
            title = args.title or (existing.title if existing else "") or (thread.subject if thread else "")
            practice, new = await store.practices.confirm(
                community.id, args.thread, title, CLI_ACTOR, now=now
            )
            print(f"thread {args.thread}: {'confirmed' if new else 'renamed'} “{practice.title}”")
            return 0
        if action == "set-summary":
            assert summary is not None
            done = await store.practices.set_summary(args.thread, summary, now=now, by=CLI_ACTOR)
            if done is None:
                print(f"icop: thread {args.thread} is not a practice: confirm it first", file=sys.stderr)
                return 2
            print(f"thread {args.thread}: summary of “{done.title}” written ({len(done.summary)} characters)")
            return 0
        removed = await store.practices.withdraw(args.thread, by=CLI_ACTOR)
        print(f"thread {args.thread}: {'no longer a practice' if removed else 'was not a practice'}")
        return 0 if removed else 1
    state = None if args.state == "all" else PracticeState(args.state)
    listed = await store.practices.in_community(community.id, state)
    thread_tags = await store.tags.of_threads(p.thread_id for p in listed)
    stories = await store.stories.count_by_thread(p.thread_id for p in listed)
    for practice in listed:
        names = [t.name for t in thread_tags.get(practice.thread_id, [])]
        url = thread_url(loaded.config.base_url, community.slug, practice.thread_id)
        told = stories.get(practice.thread_id, 0)
        if args.json:
            print(json.dumps(_practice_json(practice, names, url, told), ensure_ascii=False))
        else:
            tags_shown = " ".join(f"#{n}" for n in names)
            told_shown = f"  ({told} stor{'y' if told == 1 else 'ies'})" if told else ""
            head = f"{practice.thread_id:>7}  {practice.state.value:<9} {practice.title}"
            print(f"{head}  {tags_shown}{told_shown}")
    if not args.json:
        print(f"{len(listed)} practice{'' if len(listed) == 1 else 's'}", file=sys.stderr)
    return 0


def _practice_json(practice: PracticeRecord, tags: list[str], url: str, stories: int) -> dict[str, object]:
    """The stable ``--json`` shape of one practice (documented in the README)."""
    return {
        "thread": practice.thread_id,
        "title": practice.title,
        "state": practice.state.value,
        "summary": practice.summary,
        "tags": tags,
        "url": url,
        "proposed_by": practice.proposed_by,
        "confirmed_by": practice.confirmed_by,
        "created_at": practice.created_at.isoformat(),
        "confirmed_at": practice.confirmed_at.isoformat() if practice.confirmed_at else None,
        "updated_at": practice.updated_at.isoformat(),
        "stories": stories,
    }


async def _export(store: Store, loaded: LoadedConfig, args: argparse.Namespace) -> int:
    community = await _context(store, loaded, args.community)
    if community is None:
        return 1
    entries = await store.practices.catalogue(community.id)
    view = catalogue_view(
        entries,
        community=community.config.name,
        description=community.config.description,
        slug=community.slug,
        base_url=loaded.config.base_url,
        taxonomy=community.taxonomy,
        now=datetime.now(UTC),
    )
    try:
        html_path, md_path = write_catalogue(view, Path(args.out))
    except OSError as error:
        print(f"icop: cannot write the catalogue to {args.out}: {error.strerror}", file=sys.stderr)
        return 1
    count = f"{len(entries)} practice{'' if len(entries) == 1 else 's'}"
    print(f"{count} in {len(view.sections)} sections: {html_path}, {md_path}")
    return 0
