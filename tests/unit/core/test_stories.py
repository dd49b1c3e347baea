"""Value stories read from a post: the words kept, the thread cited, the marker never a tag, and the
room command's arguments."""

from __future__ import annotations

import pytest

from bridge.core.commands import CommandError, parse_command
from bridge.core.commands.stories import StoriesCommand, StoryCommand
from bridge.core.stories import cited_thread, excerpt, story_post_text, story_words
from bridge.core.tags.filing import read_post_tags
from bridge.core.tags.taxonomy import Taxonomy


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Poker halved our overruns. #story", "Poker halved our overruns."),
        (
            "#Story  we now   estimate together\n\n\n\nand it works",
            "we now estimate together\n\nand it works",
        ),
        ("#story #estimation kept", "#estimation kept"),
        ("#storytelling is not the marker", "#storytelling is not the marker"),
    ],
)
def test_the_story_is_the_text_without_its_marker(text: str, words: str) -> None:
    assert story_words(text) == words


def test_story_marks_a_post_and_is_never_a_tag() -> None:
    found = read_post_tags("It helped. #story #estimation", Taxonomy([]))
    assert found.story
    assert found.names() == {"estimation"}
    assert not read_post_tags("> #story quoted\n`#story` in code", Taxonomy([])).story
    assert read_post_tags(story_post_text("It helped."), Taxonomy([])).story


def test_a_story_cites_the_first_other_thread_it_links_to() -> None:
    own = 7
    text = "See https://x.org/c/pm/t/7 and https://x.org/c/pm/t/12 and https://x.org/c/ops/t/3"
    assert cited_thread(text, "pm", own) == 12
    assert cited_thread("no link", "pm", own) == own
    assert cited_thread("https://x.org/c/ops/t/3", "pm", own) == own


def test_excerpt_cuts_at_a_word() -> None:
    assert excerpt("short  one") == "short one"
    assert excerpt("word " * 50, limit=20) == "word word word word…"


def test_the_story_commands_parse() -> None:
    assert parse_command("!icop story We cut our overruns in half.") == StoryCommand(
        "We cut our overruns in half."
    )
    assert parse_command("!icop stories") == StoriesCommand()
    too_short = parse_command("!icop story ok")
    assert isinstance(too_short, CommandError)
    assert too_short.message.startswith("Tell the story in a sentence or more")
    assert isinstance(parse_command("!icop stories please"), CommandError)
