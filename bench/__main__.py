"""``python -m bench [relay|search]`` (``make bench`` runs both): see bench/relay.py and bench/search.py."""

import asyncio
import sys

from bench import relay, search

BENCHMARKS = {"relay": relay.main, "search": search.main}

chosen = sys.argv[1:] or list(BENCHMARKS)
unknown = [name for name in chosen if name not in BENCHMARKS]
if unknown:
    print(
        f"bench: unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr
    )
    raise SystemExit(2)
code = 0
for name in chosen:
    code = asyncio.run(BENCHMARKS[name]()) or code
raise SystemExit(code)
