"""The tokenizer: browser-like reading of malformed markup, in linear time."""

import time

import pytest

from bridge.formatting.html_tokens import Characters, EndTag, StartTag, tokenize


@pytest.mark.parametrize(
    ("markup", "tokens"),
    [
        ("plain", [Characters("plain")]),
        ("<B CLASS=x>t</B>", [StartTag("b", [("class", "x")]), Characters("t"), EndTag("b")]),
        (
            "<a href='x' title=\"y\" alt=z hidden>",
            [StartTag("a", [("href", "x"), ("title", "y"), ("alt", "z"), ("hidden", "")])],
        ),
        ("<br/><br />", [StartTag("br"), StartTag("br")]),
        ("a < b and 3<4", [Characters("a < b and 3<4")]),
        ("x<!-- hidden -->y", [Characters("x"), Characters("y")]),
        ("x<!-->y", [Characters("x"), Characters("y")]),
        ("<!DOCTYPE html><?xml version='1.0'?>t", [Characters("t")]),
        ("</>t", [Characters("t")]),
        ("x</ not a tag>y", [Characters("x"), Characters("y")]),
        ("&lt;b&gt; &amp; &eacute; &#233; &#xe9;", [Characters("<b> & é é é")]),
        ("a\r\nb\rc", [Characters("a\nb\nc")]),
        ("nul\x00byte", [Characters("nulbyte")]),
        ("ends with </", [Characters("ends with </")]),
    ],
)
def test_reads_markup_like_a_browser(markup: str, tokens: list[object]) -> None:
    assert list(tokenize(markup)) == tokens


def test_script_content_is_raw_text_up_to_its_end_tag() -> None:
    tokens = list(tokenize("<script>if (a<b) { x = '</p>' }</script>after"))
    assert tokens == [
        StartTag("script"),
        Characters("if (a<b) { x = '</p>' }"),
        EndTag("script"),
        Characters("after"),
    ]


def test_end_tag_of_raw_text_is_found_whatever_its_case() -> None:
    tokens = list(tokenize("<style>p{}</STYLE >x"))
    assert tokens[-2:] == [EndTag("style"), Characters("x")]


@pytest.mark.parametrize(
    "markup",
    ["text<a href='unclosed", "text<a ", "text<!-- never closed", "text<script>x"],
)
def test_constructs_left_open_run_to_the_end(markup: str) -> None:
    tokens = list(tokenize(markup))
    assert tokens[0] == Characters("text")
    assert all(not isinstance(token, StartTag) or token.name == "script" for token in tokens)


def test_attribute_values_keep_bare_ampersands_of_urls() -> None:
    (tag,) = list(tokenize('<a href="https://e.org/?id=1&sect=2&amp;copy=3&#38;x=4">'))
    assert isinstance(tag, StartTag)
    assert tag.attrs == [("href", "https://e.org/?id=1&sect=2&copy=3&x=4")]


def test_quoted_attribute_value_may_contain_a_closing_bracket() -> None:
    assert list(tokenize('<a title="a>b">x')) == [StartTag("a", [("title", "a>b")]), Characters("x")]


@pytest.mark.parametrize(
    "hostile",
    ["<a " * 20_000, '<x a="' * 20_000, "<!--a>" * 20_000, "<" * 50_000, "</" * 30_000, "&#" * 30_000],
)
def test_hostile_input_takes_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    list(tokenize(hostile))
    assert time.perf_counter() - started < 1.0
