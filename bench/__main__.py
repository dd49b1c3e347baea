"""``python -m bench`` (``make bench``): the relay benchmark on a local stack; see bench/relay.py."""

import asyncio

from bench.relay import main

raise SystemExit(asyncio.run(main()))
