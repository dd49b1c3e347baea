"""Digests: readers' subscriptions, the schedule inside the daemon, rendering and sending."""
