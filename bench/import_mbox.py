"""Import rate from mbox, end to end, as a ratio to Python's ``mailbox`` module parsing the same file.

One run: generate (once) a realistic archive under ``var/bench-import/`` (``bench/mbox_corpus.py``),
time ``mailbox.mbox`` merely parsing every message (the baseline), then time ``icop import mbox``'s
own path (split, read in worker processes, thread, store a batch per transaction) into a fresh
SQLite store, and into PostgreSQL (``ICOP_BENCH_POSTGRES_URL``, else a throwaway cluster when
PostgreSQL is installed). Results go to ``bench/results/import-<UTC time>.json`` with the machine's
cores and load average, and a summary to stdout.

``ICOP_BENCH_IMPORT_MESSAGES`` sets the archive size (default 50,000); ``ICOP_BENCH_JOBS`` the
worker processes (default: every core).
"""

from __future__ import annotations

import asyncio
import io
import json
import mailbox
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mbox_corpus import LIST, generate
from bridge.config.schema import CommunityConfig, MemberConfig
from bridge.importer.mbox import MboxFile
from bridge.importer.mbox_import import import_mbox
from bridge.importer.progress import Progress
from bridge.relay.community import CommunityContext, sync_community
from bridge.store import Database, Store
from bridge.store.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
MESSAGES = int(os.environ.get("ICOP_BENCH_IMPORT_MESSAGES", "50000"))


def mailbox_rate(path: Path) -> tuple[int, float]:
    """Messages and seconds for ``mailbox.mbox`` to parse every message of ``path``."""
    started = time.perf_counter()
    count = 0
    for message in mailbox.mbox(str(path), create=False):
        count += 1 if message is not None else 0
    return count, time.perf_counter() - started


async def import_rate(url: str, path: Path, size: int, jobs: int | None) -> dict[str, Any]:
    database = Database(url)
    await database.open()
    try:
        await upgrade(database)
        store = Store(database)
        config = CommunityConfig(
            slug="pm-practice",
            name="PM",
            room="#pm:example.com",
            list_address=LIST,
            subject_prefix="pm",
            member=[MemberConfig(name="Ana Souza", email="ana@example.org")],
        )
        community = CommunityContext(config, await sync_community(store, config))
        progress = Progress(size, unit="bytes", out=io.StringIO(), err=io.StringIO(), terminal=False)
        started = time.perf_counter()
        await import_mbox(store, community, [MboxFile(path)], progress, jobs=jobs)
        elapsed = time.perf_counter() - started
        tally = progress.tally
        counts = await database.fetch(
            'SELECT (SELECT COUNT(*) FROM "post") AS posts, (SELECT COUNT(*) FROM "thread") AS threads'
        )
        return {
            "seconds": round(elapsed, 2),
            "messages": tally.seen,
            "imported": tally.imported,
            "already_stored": tally.already_stored,
            "failed": tally.failed,
            "skipped": tally.skipped,
            "posts": int(counts[0]["posts"]),
            "threads": int(counts[0]["threads"]),
            "rate": round(tally.seen / elapsed, 1),
        }
    finally:
        await database.close()


def _postgres_url() -> tuple[str | None, Any]:
    configured = os.environ.get("ICOP_BENCH_POSTGRES_URL")
    if configured:
        return configured, None
    try:
        from bridge.devstack.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
    except Exception as error:  # PostgreSQL not installed here: the SQLite figure stands alone
        print(f"no PostgreSQL for the benchmark: {error}", file=sys.stderr)
        return None, None
    return cluster.url, cluster


async def main() -> int:
    jobs = int(os.environ["ICOP_BENCH_JOBS"]) if os.environ.get("ICOP_BENCH_JOBS") else None
    path = generate(ROOT / "var" / "bench-import" / f"list-{MESSAGES}.mbox", MESSAGES)
    load_before = os.getloadavg()
    size = path.stat().st_size
    count, seconds = mailbox_rate(path)
    baseline = {"messages": count, "seconds": round(seconds, 2), "rate": round(count / seconds, 1)}
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_before": load_before},
        "file": {"messages": count, "bytes": size},
        "jobs": jobs or os.cpu_count(),
        "mailbox_parse": baseline,
    }
    with tempfile.TemporaryDirectory() as folder:
        sqlite = await import_rate(f"sqlite://{folder}/bench.sqlite3", path, size, jobs)
    results["sqlite"] = {**sqlite, "ratio": round(sqlite["rate"] / baseline["rate"], 3)}
    url, cluster = _postgres_url()
    if url is not None:
        try:
            postgres = await import_rate(url, path, size, jobs)
            results["postgres"] = {**postgres, "ratio": round(postgres["rate"] / baseline["rate"], 3)}
        finally:
            if cluster is not None:
                cluster.stop()
    results["machine"]["load_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"archive: {count:,} messages, {size / 1e6:.0f} MB; cores {os.cpu_count()}, load {load_before}")
    print(f"mailbox.mbox parsing: {baseline['rate']:,.0f} messages/s")
    for engine in ("sqlite", "postgres"):
        if engine in results:
            r = results[engine]
            print(f"import into {engine}: {r['rate']:,.0f} messages/s (ratio {r['ratio']}), {r['seconds']} s")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
