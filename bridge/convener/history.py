"""A community's indicators over several periods at once: the report page's trends and comparison, and
the monthly mail's months.

The facts are read from the store once, up to the end of the latest period (``CommunityFactsRepository``),
and every period is computed from them by the pure ``bridge.core.indicators.compute``. The computing
runs in a worker thread: a community with a long history takes a while, and the daemon's loop (the
relay, the other pages) must not wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from bridge.core.indicators import CommunityFacts, Report, compute
from bridge.store import Database
from bridge.store.community_facts import CommunityFactsRepository


async def reports_over(
    db: Database,
    community_id: int,
    slug: str,
    time_zone: str,
    periods: Sequence[tuple[datetime, datetime]],
) -> list[Report]:
    """One report per ``[since, until)`` period, in the order given."""
    if not periods:
        return []
    facts = await CommunityFactsRepository(db).load(
        community_id, slug, time_zone, max(until for _, until in periods)
    )
    return await asyncio.to_thread(_compute_each, facts, list(periods))


def _compute_each(facts: CommunityFacts, periods: list[tuple[datetime, datetime]]) -> list[Report]:
    return [compute(facts, since, until) for since, until in periods]
