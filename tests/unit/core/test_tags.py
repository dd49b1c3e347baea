"""Tag reading: where a hashtag counts and where it does not, subjects, folding, the taxonomy,
keyword suggestions, a core member's mail lines, and what an edit changes."""

from __future__ import annotations

import pytest

from bridge.core.model import TagSource
from bridge.core.tags.filing import FiledTag, KeywordMode, PostTags, edit_changes, read_post_tags
from bridge.core.tags.hashtags import hashtags_in_text
from bridge.core.tags.mail_lines import read_mail_commands
from bridge.core.tags.names import fold_tag, is_tag_name, match_key
from bridge.core.tags.subjects import tags_in_subject
from bridge.core.tags.taxonomy import Suggestion, TagDefinition, Taxonomy, TaxonomyError
from bridge.formatting.tag_text import readable_text, strip_leading_lines

TAXONOMY = Taxonomy(
    [
        TagDefinition("estimation", "Estimation", aliases=("estimates", "estimating", "estimação")),
        TagDefinition("story-points", "Story points"),
        TagDefinition("risk", "Risk management", keywords=("risk register", "pre-mortem")),
        TagDefinition("retrospectives", "Retrospectives", keywords=("retrospective",)),
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do you size work? #estimation", ["estimation"]),
        ("#Estimação and #risk, then #estimação again", ["Estimação", "risk"]),
        ("(#risk) #retro.", ["risk", "retro"]),
        ("#story_points #Story-Points", ["story_points"]),
        ("tagged #risk-", ["risk"]),
        ("日本語も #日本語 OK", ["日本語"]),
    ],
)
def test_hashtags_in_prose_are_read(text: str, expected: list[str]) -> None:
    """Each gets its tags as written, in order, each folded name once."""
    assert hashtags_in_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "> #quoted from the previous mail",
        "  >> #deeply quoted",
        "run `git log #HEAD` first",
        "``a `#tick` inside``",
        "```\n#include <stdio.h>\n```",
        "~~~python\n# comment\nx = 1  #notatag\n~~~",
        "see https://example.com/page#section and http://x.test/#/route",
        "www.example.com/#anchor",
        "join #pm-practice:example.com for chat",
        "C# and F# are languages",
        "it&#39;s fine",
        "issue#4 and #12 and #2026",
        "write to me at ana#lists@example.org",
        "# A heading is not a tag",
        "a/#path and \\#escaped",
    ],
)
def test_hashtags_in_quotes_code_urls_and_non_words_are_not(text: str) -> None:
    """Each gets no tag: the # there is not the author tagging their words."""
    assert hashtags_in_text(text) == []


PATCH = """Here is the fix, #portability is the point.

diff --git a/lib/database.cc b/lib/database.cc
index aa1fb25..ad3a81b 100644
--- a/lib/database.cc
+++ b/lib/database.cc
@@ -20,6 +20,7 @@
 #include "notmuch-private.h"
+#include <stdint.h>
+#define HASH_SIZE 64
-#old-tag-in-removed-line
 }
\\ No newline at end of file
Tested on FreeBSD. #review please
"""


def test_patches_and_preprocessor_lines_are_code_but_the_same_words_in_prose_are_tags() -> None:
    """A patch mailed unfenced (as developers' lists do) files none of its lines; the prose around it
    files its own tags. C directives are code anywhere in a line; the words alone stay tags."""
    assert hashtags_in_text(PATCH) == ["portability", "review"]
    prose = "try #define _GNU_SOURCE 1 before #include <stdio.h>, #ifdef HAVE_X and #endif /* X */ #build"
    assert hashtags_in_text(prose) == ["build"]
    assert hashtags_in_text("#if 0\n#pragma once\n#else\n#undef NDEBUG") == []
    assert hashtags_in_text("Talk of #include, #define your goals, #Agile") == ["include", "define", "Agile"]
    assert hashtags_in_text("@@ not a hunk @@ #retro\n+1 from me #estimation") == ["retro", "estimation"]


def test_an_unclosed_fence_hides_the_rest_and_a_closed_one_only_itself() -> None:
    assert hashtags_in_text("#before\n```\n#inside\n```\n#after") == ["before", "after"]
    assert hashtags_in_text("#before\n```\n#inside forever") == ["before"]


def test_html_bodies_keep_code_and_quotes_out_and_blocks_apart() -> None:
    html = (
        "<p>We use #estimation</p><pre><code>#define X</code></pre>"
        "<blockquote><p>#quoted</p></blockquote><p>and <code>#code</code> with <b>#risk</b></p>"
        '<p><a href="https://x.test/#frag">https://x.test/#frag</a></p><p>end#</p><p>#retro</p>'
    )
    assert hashtags_in_text(readable_text(html)) == ["estimation", "risk", "retro"]


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Estimação", "estimacao"),
        ("#Story_Points", "story-points"),
        ("STORY--points", "story-points"),
        ("Straße", "strasse"),
        ("résumé.review", "resume-review"),
        ("#--", ""),
    ],
)
def test_names_fold_case_diacritics_and_separators(written: str, folded: str) -> None:
    assert fold_tag(written) == folded


def test_matching_ignores_separators_and_names_need_a_letter() -> None:
    assert match_key("Story_Points") == match_key("storypoints") == "storypoints"
    assert not is_tag_name("2026")
    assert is_tag_name("q3-2026")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[estimation] How do you size work?", ["estimation"]),
        ("Re: [pm] [estimation, risk] How?", ["estimation", "risk"]),
        ("AW: Fwd: [pm] [Risk] [retro] x", ["Risk", "retro"]),
        ("[pm] Budget", []),
        ("[Project Kickoff] Minutes", []),
        ("Budget [draft]", []),
        ("[2026] Plans", []),
        (None, []),
    ],
)
def test_subject_tags_are_the_leading_groups_without_the_lists_own(
    subject: str | None, expected: list[str]
) -> None:
    """The list prefix ``pm`` is never a tag; a group with spaces is a title; only leading groups count."""
    assert tags_in_subject(subject, ["pm"]) == expected


def test_the_taxonomy_maps_aliases_and_spellings_onto_one_tag() -> None:
    for written in ("estimation", "Estimates", "ESTIMATING", "estimação", "Estimacao", "es-ti-mation"):
        assert TAXONOMY.resolve(written) == "estimation", written
    assert TAXONOMY.resolve("StoryPoints") == "story-points"
    assert TAXONOMY.resolve("Kanban") == "kanban"  # a free tag
    assert TAXONOMY.resolve("practice") is None  # proposes a practice instead
    assert TAXONOMY.label("estimation") == "Estimation"
    assert TAXONOMY.label("kanban") == "kanban"


def test_taxonomy_only_communities_drop_unknown_hashtags() -> None:
    strict = Taxonomy(TAXONOMY.definitions, free_tags=False)
    assert strict.resolve("Kanban") is None
    assert strict.resolve("estimates") == "estimation"


@pytest.mark.parametrize(
    ("definitions", "problem"),
    [
        ([TagDefinition("risk", "Risk"), TagDefinition("risks", "Risks", aliases=("RISK",))], "already"),
        ([TagDefinition("practice", "Practices")], "#practice proposes"),
        ([TagDefinition("risk", "Risk", aliases=("--",))], "no letters"),
    ],
)
def test_a_taxonomy_where_two_tags_claim_one_spelling_is_refused(
    definitions: list[TagDefinition], problem: str
) -> None:
    with pytest.raises(TaxonomyError, match=problem):
        Taxonomy(definitions)


def test_keywords_suggest_whole_words_folded() -> None:
    text = "Our RISK   Register and the pre-mortem; retrospectives are different"
    assert TAXONOMY.suggest(text) == [Suggestion("risk", "risk register")]
    assert TAXONOMY.suggest("a retrospective on Friday") == [Suggestion("retrospectives", "retrospective")]
    assert TAXONOMY.suggest("riskregister") == []


def test_a_post_files_hashtags_new_subject_tags_and_proposes_a_practice() -> None:
    found = read_post_tags(
        "We keep a risk register. #Estimates #practice #kanban",
        TAXONOMY,
        subject="[estimation] [retro] Sizing",
        list_prefixes=["pm"],
    )
    assert found.tags == (
        FiledTag("estimation", TagSource.HASHTAG, "Estimates"),
        FiledTag("kanban", TagSource.HASHTAG, "kanban"),
        FiledTag("retro", TagSource.SUBJECT, "retro"),
    )
    assert found.suggested == (Suggestion("risk", "risk register"),)
    assert found.practice


def test_a_reply_files_only_the_subject_tags_its_thread_does_not_carry() -> None:
    """The list repeats the thread's [tags] in every reply; they must not undo an untag."""
    found = read_post_tags(
        "ok",
        TAXONOMY,
        subject="Re: [pm] [estimation] [risk] Sizing",
        thread_subject="[estimation] Sizing",
        list_prefixes=["pm"],
    )
    assert [(t.name, t.source) for t in found.tags] == [("risk", TagSource.SUBJECT)]


def test_keyword_modes_apply_offer_or_ignore() -> None:
    text = "a retrospective"
    applied = read_post_tags(text, TAXONOMY, keywords=KeywordMode.APPLY)
    assert applied.tags == (FiledTag("retrospectives", TagSource.KEYWORD, "retrospective"),)
    assert applied.suggested == ()
    assert read_post_tags(text, TAXONOMY, keywords=KeywordMode.OFF) == PostTags()
    assert read_post_tags("#Retrospectives a retrospective", TAXONOMY).suggested == ()  # already filed


def test_an_edit_moves_only_what_the_text_decided() -> None:
    before = read_post_tags("#risk #kanban", TAXONOMY, subject="[retro] x")
    after = read_post_tags("#kanban #estimation #practice", TAXONOMY, subject="[retro] x")
    changes = edit_changes(before, after)
    assert [t.name for t in changes.added] == ["estimation"]
    assert changes.removed == ("risk",)
    assert changes.practice_added
    assert not changes.practice_removed


@pytest.mark.parametrize(
    ("text", "add", "remove", "practice", "rest"),
    [
        ("Tags: estimation, #risk\n\nMy reply", ("estimation", "risk"), (), None, "My reply"),
        ("\n  tag: kanban -budget\nHi", ("kanban",), ("budget",), None, "Hi"),
        ("Practice: Planning poker\nTags: estimation\n\nHi", ("estimation",), (), "Planning poker", "Hi"),
        ("PRACTICE:\nHi", (), (), "", "Hi"),
    ],
)
def test_mail_command_lines_at_the_top_are_read_and_taken_out(
    text: str, add: tuple[str, ...], remove: tuple[str, ...], practice: str | None, rest: str
) -> None:
    commands = read_mail_commands(text)
    assert (commands.add, commands.remove, commands.practice, commands.text) == (add, remove, practice, rest)
    assert commands.any


@pytest.mark.parametrize(
    "text", ["Hi\nTags: estimation", "> Tags: estimation\nHi", "Tagsoup: no", "Tags are nice: #x"]
)
def test_lines_that_are_not_leading_commands_stay_text(text: str) -> None:
    """Each gets nothing asked and its text unchanged."""
    commands = read_mail_commands(text)
    assert not commands.any
    assert commands.text == text


@pytest.mark.parametrize(
    ("html", "lines", "expected"),
    [
        ("<p>Tags: a</p><p>Hello <b>you</b></p>", 1, "<p>Hello <b>you</b></p>"),
        ("<div>Tags: a</div><div><br></div><div>Hi</div>", 1, "<div>Hi</div>"),
        ("<p>Tags: a<br>Practice: b<br>Hi <i>there</i></p>", 2, "<p>Hi <i>there</i></p>"),
        ("<p>Tags: <b>a, b</b><br>Hi</p>", 1, "<p>Hi</p>"),
        ("<pre>Tags: a\nHi</pre>", 1, "<pre>Hi</pre>"),
    ],
)
def test_leading_lines_leave_html_without_touching_the_rest(html: str, lines: int, expected: str) -> None:
    assert strip_leading_lines(html, lines) == expected
