"""The domain: posts, threads, people, relay rules. Pure Python, no protocol or database I/O.

Adapters (``bridge.matrix``, ``bridge.email``) convert protocol events into these objects and the core's
decisions back into protocol calls; the store persists them.
"""
