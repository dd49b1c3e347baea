"""Snippets: escaped text around the best matches, the only markup being <mark> around matched words."""

from __future__ import annotations

from bridge.core.query import parse_query, text_terms
from bridge.core.snippets import make_snippet


def snippet(text: str, query: str, max_chars: int = 200) -> str:
    return make_snippet(text, text_terms(parse_query(query)), max_chars)


def test_words_phrases_and_prefixes_are_marked_as_the_index_matched_them() -> None:
    assert snippet("The Risk register, and one more risk.", "risk") == (
        "The <mark>Risk</mark> register, and one more <mark>risk</mark>."
    )
    assert (
        snippet("A risk and a risk register.", '"risk register"')
        == "A risk and a <mark>risk register</mark>."
    )
    assert snippet("Retrospectives and retro boards.", "retro*") == (
        "<mark>Retrospectives</mark> and <mark>retro</mark> boards."
    )
    assert snippet("Un café accentué.", "accentue cafe") == "Un <mark>café</mark> <mark>accentué</mark>."
    assert snippet("Write to ana@example.org today.", "example.org") == (
        "Write to ana@<mark>example.org</mark> today."
    )


def test_excluded_words_and_authors_are_not_marked() -> None:
    assert snippet("Budget and risk.", "risk -budget from:budget") == "Budget and <mark>risk</mark>."


def test_everything_but_the_marks_is_escaped() -> None:
    assert snippet('<script>alert("x")</script> & risk', "risk") == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; <mark>risk</mark>"
    )
    assert snippet("<b>risk</b>", "b") == "&lt;<mark>b</mark>&gt;risk&lt;/<mark>b</mark>&gt;"


def test_long_text_shows_the_stretch_with_the_most_matches() -> None:
    text = "Intro words here. " * 30 + "Planning poker helps. Poker chips. " + "Outro words. " * 30
    result = snippet(text, "poker", max_chars=80)
    assert result.startswith("…")
    assert result.endswith("…")
    assert result.count("<mark>poker</mark>") + result.count("<mark>Poker</mark>") == 2
    assert len(result.replace("<mark>", "").replace("</mark>", "")) <= 84


def test_without_matches_the_beginning_is_shown_and_whitespace_collapses() -> None:
    assert snippet("First line.\n\n  Second   line.", "tag:x") == "First line. Second line."
    assert snippet("x" * 300, "risk", max_chars=50) == "x" * 50 + "…"


def test_positions_hold_when_folding_would_change_lengths() -> None:
    assert snippet("İstanbul ﬁles: the risk", "risk") == "İstanbul ﬁles: the <mark>risk</mark>"
    assert snippet("Ünïcödé risk_log", "unicode log") == "<mark>Ünïcödé</mark> risk_<mark>log</mark>"
