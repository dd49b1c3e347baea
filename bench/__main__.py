"""``python -m bench [relay] [import]`` (``make bench``: both): the benchmarks; see each module."""

import asyncio
import sys

from bench import import_mbox, relay

CHOSEN = sys.argv[1:] or ["relay", "import"]
BENCHMARKS = {"relay": relay.main, "import": import_mbox.main}

code = 0
for name in CHOSEN:
    if name not in BENCHMARKS:
        raise SystemExit(f"unknown benchmark {name!r}: choose from {', '.join(BENCHMARKS)}")
    code = asyncio.run(BENCHMARKS[name]()) or code
raise SystemExit(code)
