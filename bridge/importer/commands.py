"""``icop import mbox|matrix``: check the arguments, open the store, run the import, say how it went.

Exit codes: 0 when every message was read (messages that could not be imported are named and counted,
not fatal); 1 when a file could not be read to its end or the homeserver failed; 2 for an unknown
community, a missing file or a bad ``--since``; 3 for a schema newer than the code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bridge.commands import with_store
from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.importer.mbox import MboxFile
from bridge.importer.mbox_import import import_mbox
from bridge.importer.progress import Progress
from bridge.relay.community import CommunityContext, stored_community
from bridge.store import Store


def import_command(loaded: LoadedConfig, args: argparse.Namespace) -> int:
    config = next((c for c in loaded.config.community if c.slug == args.community), None)
    if config is None:
        print(f"icop: import: no community {args.community!r} in {loaded.path}", file=sys.stderr)
        return 2
    if args.import_command == "mbox":
        files = []
        for name in args.files:
            path = Path(name)
            if not path.is_file():
                what = "not a file (name the mbox files themselves)" if path.exists() else "no such file"
                print(f"icop: import mbox: {name}: {what}", file=sys.stderr)
                return 2
            files.append(MboxFile(path, name))
        if args.jobs is not None and args.jobs < 1:
            print("icop: import mbox: --jobs must be at least 1", file=sys.stderr)
            return 2
        return asyncio.run(with_store(loaded, lambda store: _mbox(store, config, files, args.jobs)))
    since = None
    if args.since:
        since = parse_since(args.since)
        if since is None:
            print(
                f"icop: import matrix: --since {args.since!r}: give a day (YYYY-MM-DD) or an ISO 8601 time",
                file=sys.stderr,
            )
            return 2
    from bridge.importer.matrix_import import import_matrix_command

    return asyncio.run(with_store(loaded, lambda store: import_matrix_command(store, loaded, config, since)))


async def community_context(store: Store, config: CommunityConfig) -> CommunityContext:
    """The community as the daemon knows it; set up from config first when the daemon never ran."""
    return CommunityContext(config, await stored_community(store, config))


async def _mbox(store: Store, config: CommunityConfig, files: list[MboxFile], jobs: int | None) -> int:
    community = await community_context(store, config)
    progress = Progress(sum(f.size for f in files), unit="bytes")
    try:
        result = await import_mbox(store, community, files, progress, jobs=jobs)
    finally:
        progress.close()
    progress.finish()
    return 1 if result.unreadable_files else 0


def parse_since(value: str) -> datetime | None:
    """``YYYY-MM-DD`` (that day, 00:00 UTC) or an ISO 8601 time (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
