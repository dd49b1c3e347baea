"""The query language (DESIGN §6.4): what each spelling means, and the position every mistake names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.core.folding import fold, fold_tag, split_words
from bridge.core.model import Channel
from bridge.core.query import (
    And,
    Field,
    Filter,
    FilterKind,
    Not,
    Or,
    QueryError,
    Term,
    parse_query,
    text_terms,
    with_tag_aliases,
)


def word(*words: str, field: Field = Field.TEXT, prefix: bool = False) -> Term:
    return Term(words, field, prefix)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("risk", word("risk")),
        ("risk register", And((word("risk"), word("register")))),
        ('"risk register"', word("risk", "register")),
        ("-budget", Not(word("budget"))),
        ('risk -"cost model"', And((word("risk"), Not(word("cost", "model"))))),
        ("a OR b", Or((word("a"), word("b")))),
        # OR binds tighter than the implicit AND, as in mail search boxes.
        ("a b OR c", And((word("a"), Or((word("b"), word("c")))))),
        ("(a OR b) -(c d)", And((Or((word("a"), word("b"))), Not(And((word("c"), word("d"))))))),
        ("a AND b", And((word("a"), word("b")))),
        ("a or b", And((word("a"), word("or"), word("b")))),  # only OR in capitals is the operator
        ("retro*", word("retro", prefix=True)),
        ('"risk reg"*', word("risk", "reg", prefix=True)),
        ("e-mail", word("e", "mail")),  # a word with punctuation inside is the phrase of its parts
        ("state-of-the-art", word("state", "of", "the", "art")),
        ("http://x.org/a", word("http", "x", "org", "a")),  # an unknown prefix is text
        ("from:ana", word("ana", field=Field.AUTHOR, prefix=True)),  # part of a name is enough
        ("FROM:example.org", word("example", "org", field=Field.AUTHOR, prefix=True)),
        ('from:"Ana Souza"', word("Ana", "Souza", field=Field.AUTHOR, prefix=True)),
        ("subject:kick-off", word("kick", "off", field=Field.SUBJECT)),
        ("tag:Estimación", Filter(FilterKind.TAG, "estimacion")),
        ('tag:"Risk Log"', Filter(FilterKind.TAG, "risk-log")),
        ("channel:Email", Filter(FilterKind.CHANNEL, Channel.EMAIL)),
        ("community:PM-Practice", Filter(FilterKind.COMMUNITY, "pm-practice")),
        ("after:2024-01-31", Filter(FilterKind.AFTER, datetime(2024, 1, 31, tzinfo=UTC))),
        ("before:2024-02-29", Filter(FilterKind.BEFORE, datetime(2024, 2, 29, tzinfo=UTC))),
        ("is:practice", Filter(FilterKind.PRACTICE)),
        ("-tag:x", Not(Filter(FilterKind.TAG, "x"))),
        ("risk !!! &", word("risk")),  # punctuation alone says nothing and is dropped
        ("((risk))", word("risk")),
        ("a (b (c OR d))", And((word("a"), word("b"), Or((word("c"), word("d")))))),
    ],
)
def test_parses(query: str, tree: object) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query error at 1: the query is empty"),
        ("   ", "query error at 1: the query is empty"),
        ("risk (owner", "query error at 6: '(' is never closed"),
        ("risk owner)", "query error at 11: unexpected ')' without a matching '('"),
        ('risk "owner', "query error at 6: the quote '\"' is never closed"),
        ("OR risk", "query error at 1: OR needs a term before it"),
        ("risk OR", "query error at 6: OR needs a term after it"),
        ("risk OR OR x", "query error at 6: OR needs a term after it"),
        ("(OR x)", "query error at 2: OR needs a term before it"),
        ("AND x", "query error at 1: AND needs a term before it"),
        ("x AND", "query error at 3: AND needs a term after it"),
        ("x ()", "query error at 3: empty parentheses"),
        ("x --y", "query error at 3: '-' must stand right before the word, phrase or filter to leave out"),
        ("a*", "query error at 1: a word ending in * needs at least 2 letters before the *"),
        ("risk from:", "query error at 6: from: needs a value right after the colon"),
        ("from:!!", "query error at 6: from: needs letters or digits to look for"),
        ("tag:#", "query error at 5: tag: needs a tag name"),
        ("tag:x*", "query error at 5: tag: takes no '*'"),
        ("channel:fax", "query error at 9: channel: is email or matrix, not 'fax'"),
        ("is:done", "query error at 4: is: knows only is:practice, not is:done"),
        ("after:2024-1-31", "query error at 7: after: wants a date as YYYY-MM-DD, not '2024-1-31'"),
        ("x before:2024-02-30", "query error at 10: before: wants a date as YYYY-MM-DD, not '2024-02-30'"),
        (
            "!!! ???",
            "query error at 1: nothing to search for: give words, a phrase or a filter such as tag:NAME",
        ),
        ("(" * 21 + "x" + ")" * 21, "query error at 21: more than 20 nested parentheses"),
        ("x" * 1001, "query error at 1001: a query may be at most 1000 characters long"),
        ("a " * 41, "query error at 81: a query may hold at most 40 words, phrases and filters"),
    ],
)
def test_malformed_queries_name_the_position(query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(query)
    assert str(raised.value) == message


def test_what_a_snippet_marks() -> None:
    tree = parse_query('risk -budget (poker OR "lead time") from:ana tag:x')
    assert text_terms(tree) == [
        word("risk"),
        word("poker"),
        word("lead", "time"),
        word("ana", field=Field.AUTHOR, prefix=True),
    ]


def test_tag_aliases_become_their_tag() -> None:
    tree = parse_query("tag:Estimating -tag:estimates tag:risk")
    aliases = {"estimating": "estimation", "estimates": "estimation"}
    assert with_tag_aliases(tree, aliases) == And(
        (
            Filter(FilterKind.TAG, "estimation"),
            Not(Filter(FilterKind.TAG, "estimation")),
            Filter(FilterKind.TAG, "risk"),
        )
    )


def test_words_fold_case_and_diacritics_like_the_index() -> None:
    assert fold("Accentué ÉCOLE Straße") == "accentue ecole straße"  # unicode61 lowers, keeps ß
    assert split_words("ana@example.org, l'école — 2024!") == ("ana", "example", "org", "l", "école", "2024")
    assert split_words("日本語 テキスト") == ("日本語", "テキスト")
    assert fold_tag(" #Risk  Log_2 ") == "risk-log-2"
    assert fold_tag("Estimación") == "estimacion"
