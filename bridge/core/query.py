"""The search query language (DESIGN §6.4), parsed once into a small tree that each engine compiles.

    risk register               both words, anywhere in a post's subject or text
    "risk register"             the phrase
    -budget  -"cost model"      without the word, without the phrase (also -tag:x, -from:y, -( … ))
    estimation OR forecasting   either; OR binds tighter than the implicit AND: a b OR c = a (b OR c)
    (a OR b) -(c d)             grouping
    retro*                      a word beginning with "retro" (at least two letters before the star)
    from:ana  from:example.org  the author's name or address; each word matches the start of a word
    subject:kick-off            in the thread's subject
    tag:Estimación              filed under the tag (folded like tags: case, diacritics, spaces)
    channel:email|matrix  community:SLUG  is:practice
    after:2024-01-31            posted on or after that day, 00:00 UTC; before:D — posted before D 00:00 UTC

A query may be filters alone. Words are cut and folded as ``bridge.core.folding`` says, so a word with
punctuation inside (``e-mail``, ``ana@example.org``) is the phrase of its parts. An unknown ``name:``
prefix is text, as in most search boxes (``http://…`` keeps working). A malformed query raises
``QueryError`` naming the 1-based character position; the message is meant for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from bridge.core.folding import fold, fold_tag, split_words
from bridge.core.model import Channel

MIN_PREFIX_LETTERS = 2
MAX_QUERY_LENGTH = 1000
MAX_DEPTH = 20
MAX_TERMS = 40  # each word, phrase and filter is a lookup; a wall of them would only load the server


class QueryError(ValueError):
    """A query that cannot be read; ``position`` is 1-based, ``str()`` is ``query error at N: why``."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"query error at {position}: {reason}")
        self.position = position
        self.reason = reason


class Field(StrEnum):
    """Where a term is looked for."""

    TEXT = "text"  # the thread's subject and the post's text
    SUBJECT = "subject"  # the thread's subject only
    AUTHOR = "author"  # the author's display name and address


class FilterKind(StrEnum):
    TAG = "tag"
    CHANNEL = "channel"
    COMMUNITY = "community"
    AFTER = "after"
    BEFORE = "before"
    PRACTICE = "practice"


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must follow each other (one word, or a phrase); ``prefix`` lets the last one be
    the start of a word. ``words`` are as written: each engine folds them as it folds the text."""

    words: tuple[str, ...]
    field: Field = Field.TEXT
    prefix: bool = False

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(fold(w) for w in self.words)


@dataclass(frozen=True, slots=True)
class Filter:
    """A condition on what a post is rather than what it says. ``value`` is a folded tag name, a
    channel, a community slug, a UTC midnight (``AFTER``/``BEFORE``), or None (``PRACTICE``)."""

    kind: FilterKind
    value: str | Channel | datetime | None = None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Term | Filter | And | Or | Not

_TEXT_PREFIXES = {"from": Field.AUTHOR, "subject": Field.SUBJECT}
_FILTER_PREFIXES = ("tag", "channel", "community", "after", "before", "is")
_DELIMITERS = frozenset('()"')


def parse_query(text: str) -> Node:
    """The tree of ``text``; raises ``QueryError`` for a malformed query."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(MAX_QUERY_LENGTH + 1, f"a query may be at most {MAX_QUERY_LENGTH} characters long")
    parser = _Parser(text)
    node = parser.parse()
    simplified = _simplify(node)
    if simplified is None:
        raise QueryError(1, "nothing to search for: give words, a phrase or a filter such as tag:NAME")
    return simplified


def text_terms(node: Node) -> list[Term]:
    """The terms a result matches because of what it says (not under a ``-``): what a snippet marks."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, And | Or):
        return [term for item in node.items for term in text_terms(item)]
    return []


# -- the parser -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" ")" "-" "OR" "AND" "word" "phrase" "filter"
    position: int  # 0-based index of the token's first character
    text: str = ""  # word or phrase text; for a filter, its value
    name: str = ""  # for a filter, its name (lowercase)
    value_position: int = 0
    prefix: bool = False  # a word or quoted value followed by "*"


class _Parser:
    """Recursive descent over a token list: ``or := and ("OR" and)*`` is wrong for search boxes, where
    people expect ``a b OR c`` to mean ``a (b OR c)``; so ``and := or+`` and ``or := unary ("OR" unary)*``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        terms = [t for t in self.tokens if t.kind in ("word", "phrase", "filter")]
        if len(terms) > MAX_TERMS:
            raise QueryError(
                terms[MAX_TERMS].position + 1,
                f"a query may hold at most {MAX_TERMS} words, phrases and filters",
            )

    def parse(self) -> Node | None:
        if not self.tokens:
            raise QueryError(1, "the query is empty")
        node = self._conjunction(top=True)
        if self.index < len(self.tokens):  # only a stray ")" stops the top-level conjunction
            token = self.tokens[self.index]
            raise QueryError(token.position + 1, "unexpected ')' without a matching '('")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _conjunction(self, *, top: bool) -> Node | None:
        items: list[Node | None] = []
        while (token := self._peek()) is not None and token.kind != ")":
            if token.kind == "AND":
                if not items:
                    raise QueryError(token.position + 1, "AND needs a term before it")
                self.index += 1
                following = self._peek()
                if following is None or following.kind in (")", "OR", "AND"):
                    raise QueryError(token.position + 1, "AND needs a term after it")
                continue
            if token.kind == "OR":
                raise QueryError(token.position + 1, "OR needs a term before it")
            items.append(self._disjunction())
        if not items and not top:
            return None
        kept = [item for item in items if item is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(tuple(kept))

    def _disjunction(self) -> Node | None:
        items = [self._unary()]
        while (token := self._peek()) is not None and token.kind == "OR":
            self.index += 1
            following = self._peek()
            if following is None or following.kind in (")", "OR", "AND"):
                raise QueryError(token.position + 1, "OR needs a term after it")
            items.append(self._unary())
        kept = [item for item in items if item is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def _unary(self) -> Node | None:
        token = self.tokens[self.index]
        if token.kind == "-":
            self.index += 1
            following = self._peek()
            if following is None or following.kind in (")", "OR", "AND", "-"):
                raise QueryError(
                    token.position + 1, "'-' must stand right before the word, phrase or filter to leave out"
                )
            item = self._primary()
            return Not(item) if item is not None else None
        return self._primary()

    def _primary(self) -> Node | None:
        token = self.tokens[self.index]
        self.index += 1
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(token.position + 1, f"more than {MAX_DEPTH} nested parentheses")
            inner = self._conjunction(top=False)
            closing = self._peek()
            if closing is None or closing.kind != ")":
                raise QueryError(token.position + 1, "'(' is never closed")
            if inner is None and self.tokens[self.index - 1].kind == "(":
                raise QueryError(token.position + 1, "empty parentheses")
            self.index += 1
            self.depth -= 1
            return inner
        if token.kind == ")":  # pragma: no cover - the conjunction loop stops before it
            raise QueryError(token.position + 1, "unexpected ')'")
        if token.kind in ("word", "phrase"):
            return _term(token.text, Field.TEXT, token.prefix, token.position)
        if token.kind == "filter":
            return _filter(token)
        raise QueryError(token.position + 1, f"unexpected {token.kind}")  # pragma: no cover


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char, index))
            index += 1
        elif char == "-" and index + 1 < length and not text[index + 1].isspace():
            tokens.append(_Token("-", index))  # words swallow inner hyphens: only a leading one excludes
            index += 1
        elif char == '"':
            start = index
            value, index, prefix = _quoted(text, index)
            tokens.append(_Token("phrase", start, value, prefix=bool(prefix)))
        else:
            start = index
            while index < length and not text[index].isspace() and text[index] not in _DELIMITERS:
                index += 1
            word = text[start:index]
            name, colon, rest = word.partition(":")
            lowered = name.lower()
            if colon and (lowered in _TEXT_PREFIXES or lowered in _FILTER_PREFIXES):
                value_start = start + len(name) + 1
                if not rest and index < length and text[index] == '"':
                    rest, index, prefix = _quoted(text, index)
                    tokens.append(_Token("filter", start, rest, lowered, value_start + 1, bool(prefix)))
                    continue
                if not rest:
                    raise QueryError(start + 1, f"{lowered}: needs a value right after the colon")
                prefix = rest.endswith("*")
                tokens.append(_Token("filter", start, rest.rstrip("*"), lowered, value_start, prefix))
            elif word in ("OR", "AND"):
                tokens.append(_Token(word, start))
            else:
                prefix = word.endswith("*") and len(word) > 1
                tokens.append(_Token("word", start, word[:-1] if prefix else word, prefix=prefix))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int, int]:
    """The text between the quote at ``start`` and its closing quote; the index after it (and after a
    ``*`` right behind it), and 1 when that ``*`` is there."""
    end = text.find('"', start + 1)
    if end < 0:
        raise QueryError(start + 1, "the quote '\"' is never closed")
    after = end + 1
    if after < len(text) and text[after] == "*":
        return text[start + 1 : end], after + 1, 1
    return text[start + 1 : end], after, 0


def _term(text: str, field: Field, prefix: bool, position: int) -> Term | None:
    found = split_words(text)
    if not found:
        return None  # punctuation alone (a stray "&" or "--") says nothing to search for
    if prefix and len(found[-1]) < MIN_PREFIX_LETTERS:
        raise QueryError(
            position + 1, f"a word ending in * needs at least {MIN_PREFIX_LETTERS} letters before the *"
        )
    return Term(found, field, prefix)


def _filter(token: _Token) -> Node | None:
    name, value, at = token.name, token.text, token.value_position + 1
    if name in _TEXT_PREFIXES:
        field = _TEXT_PREFIXES[name]
        # An author is found by part of a name or address: the last word may be the start of a word.
        term = _term(value, field, token.prefix or field is Field.AUTHOR, token.value_position)
        if term is None:
            raise QueryError(at, f"{name}: needs letters or digits to look for")
        return term
    if token.prefix:
        raise QueryError(at, f"{name}: takes no '*'")
    if name == "tag":
        tag = fold_tag(value)
        if not tag:
            raise QueryError(at, "tag: needs a tag name")
        return Filter(FilterKind.TAG, tag)
    if name == "channel":
        try:
            return Filter(FilterKind.CHANNEL, Channel(value.lower()))
        except ValueError:
            raise QueryError(at, f"channel: is email or matrix, not {value!r}") from None
    if name == "community":
        return Filter(FilterKind.COMMUNITY, value.lower())
    if name in ("after", "before"):
        return Filter(FilterKind(name), _day(value, name, at))
    if value.lower() != "practice":  # name == "is"
        raise QueryError(at, f"is: knows only is:practice, not is:{value}")
    return Filter(FilterKind.PRACTICE)


def _day(value: str, name: str, at: int) -> datetime:
    try:
        if len(value) != 10:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(at, f"{name}: wants a date as YYYY-MM-DD, not {value!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- simplification -------------------------------------------------------------------------------
def _simplify(node: Node | None) -> Node | None:
    """Flatten nested ANDs and ORs, drop empty parts; a double negation is the thing itself."""
    if node is None or isinstance(node, Term | Filter):
        return node
    if isinstance(node, Not):
        inner = _simplify(node.item)
        if inner is None:
            return None
        return inner.item if isinstance(inner, Not) else Not(inner)
    kind = type(node)
    flat: list[Node] = []
    for item in node.items:
        simple = _simplify(item)
        if simple is None:
            continue
        flat.extend(simple.items if isinstance(simple, kind) else (simple,))
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def with_tag_aliases(node: Node, aliases: Mapping[str, str]) -> Node:
    """``node`` with every ``tag:`` naming an alias of the taxonomy turned into its tag (both folded)."""
    if isinstance(node, Filter):
        if node.kind is FilterKind.TAG and isinstance(node.value, str) and node.value in aliases:
            return Filter(FilterKind.TAG, aliases[node.value])
        return node
    if isinstance(node, Not):
        return Not(with_tag_aliases(node.item, aliases))
    if isinstance(node, And | Or):
        return type(node)(tuple(with_tag_aliases(item, aliases) for item in node.items))
    return node
