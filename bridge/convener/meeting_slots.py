"""``icop meetings suggest``: the fairest meeting times for a community, and rotations that share the pain.

Who is invited: active conveners, core team and members (readers only read digests). A member without a
zone of their own has the community's. The scoring is ``bridge.core.meetings``; this module picks the
people and prints the answer as a table or as the JSON lines of DESIGN §6.1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from bridge.core.meetings import Attendee, Rotation, SlotScore
from bridge.core.model import Role
from bridge.store.community_facts import Participant

INVITED_ROLES = frozenset({Role.CONVENER, Role.CORE, Role.MEMBER})


def attendees(participants: Sequence[Participant], default_zone: str) -> list[Attendee]:
    """The people a meeting is for, each in their own zone (the community's when they gave none)."""
    return [
        Attendee(p.email or "", p.name, p.time_zone or default_zone)
        for p in participants
        if p.role in INVITED_ROLES and p.email
    ]


def slot_json(slot: SlotScore) -> str:
    """One line of ``--json``: start (UTC), score, and every member's local start with its offset."""
    return json.dumps(
        {
            "start": slot.start.isoformat(),
            "score": slot.score,
            "duration_minutes": int(slot.duration / timedelta(minutes=1)),
            "mean_pain": slot.mean_pain,
            "worst_pain": slot.worst_pain,
            "members": [
                {
                    "email": t.attendee.email,
                    "name": t.attendee.name,
                    "time_zone": t.attendee.time_zone,
                    "local_start": t.local_start.isoformat(),
                    "pain": round(t.pain, 3),
                }
                for t in slot.attendees
            ],
        },
        ensure_ascii=False,
    )


def slot_lines(rank: int, slot: SlotScore) -> list[str]:
    head = (
        f"{rank:>2}. {slot.start:%a %Y-%m-%d %H:%M} UTC  score {slot.score:5.1f}  "
        f"(mean pain {slot.mean_pain:g}, worst {slot.worst_pain:g})"
    )
    people = [
        f"      {t.local_start:%a %H:%M} {t.attendee.time_zone:<24} {t.attendee.name}"
        + (f"  (pain {t.pain:g})" if t.pain else "")
        for t in sorted(slot.attendees, key=lambda t: (-t.pain, t.attendee.name))
    ]
    return [head, *people]


def rotation_lines(rotation: Rotation) -> list[str]:
    times = " / ".join(f"{s.start:%a %H:%M}" for s in rotation.slots)
    return [
        f"  {len(rotation.slots)} turns: {times} UTC  score {rotation.score:5.1f}  "
        f"(mean pain {rotation.mean_pain:g}, worst {rotation.worst_pain:g}: {', '.join(rotation.worst_off)})"
    ]
