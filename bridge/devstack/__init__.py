"""The local stack of real servers (Synapse, Dovecot, Postfix, PostgreSQL) on 127.0.0.1.

Used by the test fixtures, by ``scripts/stack`` and by the demo: every server runs in a temp dir on a free
port, is started as a child process, and is stopped (SIGTERM, then SIGKILL) when its owner stops.
"""
