"""``python -m bench [relay|digest]`` (``make bench``: both): the benchmarks on a local stack; see
bench/relay.py and bench/digest.py."""

import asyncio
import sys

from bench import digest, relay

chosen = sys.argv[1:] or ["relay", "digest"]
for name in chosen:
    module = {"relay": relay, "digest": digest}[name]
    code = asyncio.run(module.main())
    if code:
        raise SystemExit(code)
