"""The relay: ingest from either channel into the store, deliver from the outbox to the other channel.

It composes the pure rules of ``bridge.core`` with the store and the adapters; it owns no protocol code.
"""
