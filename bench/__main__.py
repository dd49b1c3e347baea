"""``python -m bench [relay|archive|digest|import|search]`` (``make bench``: all of them): the benchmarks,
each on a local stack or a generated store; see bench/relay.py, bench/archive.py, bench/digest.py,
bench/import_mbox.py and bench/search.py. ``ICOP_BENCH=NAME`` picks one as well."""

import asyncio
import os
import sys

from bench import archive, digest, import_mbox, relay, search

BENCHMARKS = {
    "relay": relay.main,
    "archive": archive.main,
    "digest": digest.main,
    "import": import_mbox.main,
    "search": search.main,
}
chosen = sys.argv[1:] or ([os.environ["ICOP_BENCH"]] if os.environ.get("ICOP_BENCH") else list(BENCHMARKS))
unknown = [name for name in chosen if name not in BENCHMARKS]
if unknown:
    raise SystemExit(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
code = 0
for name in chosen:
    code |= asyncio.run(BENCHMARKS[name]())
raise SystemExit(code)
