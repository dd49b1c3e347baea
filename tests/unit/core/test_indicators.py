"""Every value indicator on one built community whose answers are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.core.indicators import (
    CYCLES_NEEDING_STORIES,
    DEFINITIONS,
    CommunityFacts,
    FeedbackFact,
    MemberFact,
    PostFact,
    ReactionFact,
    StoryFact,
    ValueCycle,
    cited_threads,
    compute,
)
from bridge.core.model import Channel, Role

EMAIL, MATRIX = Channel.EMAIL, Channel.MATRIX
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


MEMBERS = [
    MemberFact("p:1", "Ana", Role.CONVENER, "America/Sao_Paulo"),
    MemberFact("p:2", "Bo", Role.CORE, "Europe/Berlin"),
    MemberFact("p:3", "Kim", Role.MEMBER, "America/New_York"),
    MemberFact("p:4", "Lu", Role.MEMBER, "Asia/Tokyo"),
    MemberFact("p:5", "Rita", Role.READER, "Europe/Dublin", reads_digest=True),
    MemberFact("p:6", "Old", Role.MEMBER, "Europe/London"),
    MemberFact("p:7", "Mo", Role.MEMBER, "Africa/Nairobi", reads_digest=True),
    MemberFact("p:8", "Zoe", Role.MEMBER, "Australia/Sydney"),
]

POSTS = [
    # thread 1: old, started in June by Old (email); Kim answers it in the period from chat.
    PostFact(1, 1, "p:6", EMAIL, at(6, 1)),
    PostFact(2, 1, "p:3", MATRIX, at(11, 3), parent_id=1),
    # thread 2: Ana asks by mail, Bo answers in chat 2 h later, Ana answers him by mail.
    PostFact(3, 2, "p:1", EMAIL, at(11, 2, 9)),
    PostFact(4, 2, "p:2", MATRIX, at(11, 2, 11), parent_id=3),
    PostFact(5, 2, "p:1", EMAIL, at(11, 2, 12), parent_id=4),
    # thread 3: Lu, new, asks in chat; nobody else answers; Lu adds a detail the next day.
    PostFact(6, 3, "p:4", MATRIX, at(11, 5)),
    PostFact(7, 3, "p:4", MATRIX, at(11, 6), parent_id=6),
    # thread 4: Zoe, new, posts once; Ana answers 6 h later and then links the June thread.
    PostFact(8, 4, "p:8", EMAIL, at(11, 10)),
    PostFact(9, 4, "p:1", EMAIL, at(11, 10, 6), parent_id=8),
    PostFact(10, 4, "p:1", EMAIL, at(11, 11), parent_id=9, cited_threads=(1, 4)),
    # thread 5: before the period (Bo, then Ana), so neither is new in November.
    PostFact(11, 5, "p:2", MATRIX, at(10, 20)),
    PostFact(13, 5, "p:1", EMAIL, at(10, 21), parent_id=11),
    # at the period's end exactly: not in the period (half-open), and Kim's return comes too late.
    PostFact(12, 1, "p:3", MATRIX, UNTIL),
    # a stranger long ago: never counted as a lapsed member.
    PostFact(14, 5, "stranger@example.net", EMAIL, at(1, 5)),
]

FACTS = CommunityFacts(
    posts=POSTS,
    thread_tags={1: ["estimation"], 2: ["estimation", "risk"], 3: ["risk"], 4: ["onboarding"], 5: ["risk"]},
    members=MEMBERS,
    practices_confirmed=[at(11, 15), at(9, 1)],
    reactions=[
        ReactionFact(3, "p:7", at(11, 3)),  # Mo only reacts: engaged all the same
        ReactionFact(3, "p:5", at(11, 3)),  # a reader reacting is not a member who may post
        ReactionFact(3, "@passer:example.com", at(11, 3)),
        ReactionFact(3, "p:6", at(10, 3)),  # before the period
    ],
    feedback=[
        FeedbackFact(True, at(11, 9)),
        FeedbackFact(True, at(11, 16)),
        FeedbackFact(False, at(11, 23)),
        FeedbackFact(True, at(10, 2)),
    ],
    stories=[StoryFact(1, "p:3", at(11, 20)), StoryFact(2, "p:4", UNTIL)],
)


def test_each_indicator_on_the_built_community() -> None:
    values = compute(FACTS, SINCE, UNTIL).values
    assert values["posts"] == 9  # ids 2-10
    assert values["threads"] == 3  # threads 2, 3 and 4 start in November
    assert values["participants"] == 5  # Kim, Ana, Bo, Lu, Zoe
    assert values["new_participants"] == 3  # Kim, Lu, Zoe; Ana and Bo wrote in October
    assert values["by_channel"] == {"matrix": 4, "email": 5}
    assert values["cross_channel_replies"] == 3  # 2 (chat→mail), 4 (chat→mail), 5 (mail→chat)
    assert values["median_first_response_hours"] == 4.0  # 2 h and 6 h; thread 3 never answered
    assert values["unanswered_threads"] == 1  # Lu's
    assert values["practices"] == 1
    assert values["practices_total"] == 2
    assert values["tags"] == {"estimation": 2, "risk": 2, "onboarding": 1}
    assert values["regions"] == {"America": 2, "Asia": 1, "Australia": 1, "Europe": 1}
    assert values["readers"] == 2  # Rita and Mo
    assert values["engaged_share"] == round(6 / 7, 3)  # five posters and Mo, of seven who may post
    assert values["newcomer_return"] == {"newcomers": 3, "returned": 1, "share": 0.333}  # only Lu
    # Ana wrote 4 of 9, so she and Lu (2) are the fewest who wrote half.
    assert values["concentration"] == {"people_for_half": 2, "share_of_participants": 0.4}
    assert values["lapsed_contributors"] == 1  # Old, silent since June
    assert values["reuse"] == 2  # Kim answering June's thread; Ana linking it
    assert values["cross_region_replies"] == 4  # 2, 4, 5 and 9; 7 and 10 answer themselves
    assert values["digest_usefulness"] == {"useful": 2, "not_useful": 1, "share": 0.667}
    assert values["stories"] == 1


def test_an_empty_period_has_zeros_and_no_invented_averages() -> None:
    values = compute(FACTS, at(3, 1), at(4, 1)).values
    assert values["posts"] == 0
    assert values["median_first_response_hours"] is None
    assert values["newcomer_return"] == {"newcomers": 0, "returned": 0, "share": None}
    assert values["concentration"] == {"people_for_half": 0, "share_of_participants": None}
    assert values["digest_usefulness"] == {"useful": 0, "not_useful": 0, "share": None}


def test_the_json_form_carries_the_period_and_every_contract_key() -> None:
    report = compute(FACTS, SINCE, UNTIL).as_json()
    assert report["since"] == "2026-11-01T00:00:00+00:00"
    contract = {
        "posts", "threads", "participants", "new_participants", "by_channel", "cross_channel_replies",
        "median_first_response_hours", "unanswered_threads", "practices", "tags", "regions", "readers",
    }  # fmt: skip
    assert contract <= report.keys()
    assert set(DEFINITIONS) <= report.keys()
    assert not any("money" in key or "cost" in key or "revenue" in key for key in report)


def test_every_cycle_is_covered_and_the_story_cycles_are_named() -> None:
    cycles = {cycle for cycle, _ in DEFINITIONS.values()}
    assert {ValueCycle.IMMEDIATE, ValueCycle.POTENTIAL, ValueCycle.APPLIED, ValueCycle.REALIZED} <= cycles
    assert CYCLES_NEEDING_STORIES == (ValueCycle.APPLIED, ValueCycle.REALIZED, ValueCycle.REFRAMING)


def test_archive_links_to_threads_of_this_community_are_found() -> None:
    text = "See https://icop.example.com/c/pm/t/12 and /c/pm/t/12 again, not /c/other/t/3 or /c/pm/t/x"
    assert cited_threads(text, "pm") == (12,)
