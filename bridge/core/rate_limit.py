"""How many times one key (a client address, a person) may do something within a sliding window.

Sign-in requests send mail and chat messages on a stranger's say-so; without a limit the form is a way
to flood a member's mailbox or to make the bridge spam. Pure: the caller passes the clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass
class SlidingWindow:
    """At most ``limit`` events per key within ``seconds``; remembers at most ``max_keys`` keys
    (the least recently seen are forgotten first, so a flood of keys cannot exhaust memory)."""

    limit: int
    seconds: float
    max_keys: int = 10_000
    _events: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict, init=False, repr=False)

    def allow(self, key: str, now: float) -> bool:
        """Count one event for ``key`` at ``now`` if it is within the limit; False (nothing counted)
        when the key is over it."""
        events = self._events.pop(key, None) or deque()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        allowed = len(events) < self.limit
        if allowed:
            events.append(now)
        if events:
            self._events[key] = events
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        return allowed
