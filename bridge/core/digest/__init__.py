"""Digests in the core: when each reader's digest is due, and which threads, practices, tags and people
it shows. Pure functions over plain values, no I/O: ``bridge/digest/`` feeds them from the store."""
