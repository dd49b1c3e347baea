"""IANA time zones by name, the one way the product reads them."""

from __future__ import annotations

from datetime import UTC, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """The IANA zone ``name``; UTC for a missing or unknown one (a stored zone may predate a tzdata,
    and a page, a mail or a reminder must still be written)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
