"""``python -m bench`` (``make bench``): the relay benchmark on a local stack (bench/relay.py) and the
archive pages at scale (bench/archive.py). ``ICOP_BENCH=relay`` or ``ICOP_BENCH=archive`` runs one."""

import asyncio
import os

from bench import archive, relay

WHICH = os.environ.get("ICOP_BENCH", "all")
code = 0
if WHICH in ("all", "relay"):
    code |= asyncio.run(relay.main())
if WHICH in ("all", "archive"):
    code |= asyncio.run(archive.main())
raise SystemExit(code)
