"""``python -m bench [relay|archive|digest]`` (``make bench``: all of them): the benchmarks, each on a
local stack or a generated store; see bench/relay.py, bench/archive.py and bench/digest.py.
``ICOP_BENCH=NAME`` picks one as well."""

import asyncio
import os
import sys

from bench import archive, digest, relay

MODULES = {"relay": relay, "archive": archive, "digest": digest}
chosen = sys.argv[1:] or ([os.environ["ICOP_BENCH"]] if os.environ.get("ICOP_BENCH") else list(MODULES))
unknown = [name for name in chosen if name not in MODULES]
if unknown:
    raise SystemExit(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(MODULES)}")
code = 0
for name in chosen:
    code |= asyncio.run(MODULES[name].main())
raise SystemExit(code)
