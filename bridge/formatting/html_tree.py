"""A small, forgiving HTML tree shared by the conversion layer.

Mail clients and chat clients send HTML that no browser author would sign: unclosed tags,
Word markup, thousands of nested elements. Every conversion here (sanitising, plain text,
quote trimming, mentions) needs the same thing first: a tree that always comes out of
``parse_fragment`` whatever the input, is never deeper than the Matrix spec's 100 levels,
and has already lost the parts nobody should ever see (scripts, styles, comments).

The builder follows the browser's rules only as far as they matter for readable text:
implicit closing of ``p``, ``li``, table rows and cells; void elements; stray end tags
ignored. It is not a security boundary: ``sanitize.sanitize_html`` hands its output to
the allow-list sanitiser, which is.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from bridge.formatting.html_tokens import EndTag, StartTag, Token, tokenize


def tag_set(names: str) -> frozenset[str]:
    """A set of tag names written as one space-separated string."""
    return frozenset(names.split())


MAX_DEPTH = 100
"""Deepest nesting kept; the Matrix spec forbids more than 100 levels."""

VOID_TAGS = tag_set("area base br col embed hr img input link meta param source track wbr")
DROPPED_WITH_CONTENT = tag_set(
    "script style title template iframe object noscript svg math textarea select mx-reply"
)
"""Never shown to a reader: dangerous or meaningless outside a browser page, or (``mx-reply``)
a Matrix reply fallback, which the spec tells clients to strip with its content."""
TRANSPARENT_TAGS = frozenset({"html", "head", "body"})
METADATA_TAGS = frozenset({"meta", "link", "base"})
"""Document metadata that mail clients leave in the body; it says nothing to a reader."""
PARAGRAPH_CLOSERS = tag_set(
    "address article aside blockquote center details dl div fieldset figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table ul"
)
PARAGRAPH_SCOPE_LIMITS = frozenset({"table", "td", "th", "caption", "button"})
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass(eq=False)
class Text:
    """A run of character data, entities already decoded."""

    data: str
    parent: Element | None = None


@dataclass(eq=False)
class Element:
    """An element with lower-cased tag and attribute names."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    parent: Element | None = None

    def append(self, node: Node) -> None:
        node.parent = self
        self.children.append(node)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


Node = Element | Text
ROOT_TAG = "#root"


def parse_fragment(markup: str) -> Element:
    """Parse ``markup`` into a tree under a ``#root`` element; never raises."""
    builder = _TreeBuilder()
    for token in tokenize(markup):
        builder.feed(token)
    return builder.root


def serialize(node: Node) -> str:
    """Serialise ``node``; for an element other than the root, the element itself too."""
    parts: list[str] = []
    if isinstance(node, Text):
        return html.escape(node.data, quote=False)
    if node.tag == ROOT_TAG:
        for child in node.children:
            _serialize_into(child, parts)
    else:
        _serialize_into(node, parts)
    return "".join(parts)


def _serialize_into(node: Node, parts: list[str]) -> None:
    if isinstance(node, Text):
        parts.append(html.escape(node.data, quote=False))
        return
    attrs = "".join(f' {name}="{html.escape(value)}"' for name, value in node.attrs.items())
    parts.append(f"<{node.tag}{attrs}>")
    if node.tag in VOID_TAGS:
        return
    for child in node.children:
        _serialize_into(child, parts)
    parts.append(f"</{node.tag}>")


def iter_nodes(root: Element) -> Iterator[Node]:
    """Every descendant of ``root`` in document order (not ``root`` itself)."""
    stack: list[Node] = list(reversed(root.children))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Element):
            stack.extend(reversed(node.children))


def iter_elements(root: Element, tag: str | None = None) -> Iterator[Element]:
    for node in iter_nodes(root):
        if isinstance(node, Element) and (tag is None or node.tag == tag):
            yield node


def ancestors(node: Node) -> Iterator[Element]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def text_content(node: Node) -> str:
    if isinstance(node, Text):
        return node.data
    return "".join(n.data for n in iter_nodes(node) if isinstance(n, Text))


def remove(node: Node) -> None:
    if node.parent is not None:
        node.parent.children.remove(node)
        node.parent = None


def replace(node: Node, replacements: list[Node]) -> None:
    parent = node.parent
    if parent is None:
        return
    index = parent.children.index(node)
    for new in replacements:
        new.parent = parent
    parent.children[index : index + 1] = replacements
    node.parent = None


def remove_from(node: Node) -> None:
    """Remove ``node`` and everything after it in document order."""
    current: Node = node
    while current.parent is not None:
        siblings = current.parent.children
        index = siblings.index(current)
        del siblings[index + (0 if current is node else 1) :]
        current = current.parent


def rewrite_text(
    root: Element,
    rewrite: Callable[[str], list[Node] | None],
    skip_tags: frozenset[str],
) -> None:
    """Replace text outside ``skip_tags`` elements by what ``rewrite`` returns (None: keep).

    Nodes that ``rewrite`` returns are not visited again.
    """
    stack = [root]
    while stack:
        element = stack.pop()
        rebuilt: list[Node] = []
        changed = False
        for child in element.children:
            if isinstance(child, Text):
                replacement = rewrite(child.data)
                if replacement is not None:
                    changed = True
                    for new in replacement:
                        new.parent = element
                    rebuilt.extend(replacement)
                    continue
            elif child.tag not in skip_tags:
                stack.append(child)
            rebuilt.append(child)
        if changed:
            element.children = rebuilt


def splice_text(text: str, spans: Iterable[tuple[int, int, Node]]) -> list[Node] | None:
    """``text`` with each (start, end) span replaced by its node; None when no span.

    Spans must be in order and must not overlap.
    """
    nodes: list[Node] = []
    position = 0
    for start, end, node in spans:
        if start > position:
            nodes.append(Text(text[position:start]))
        nodes.append(node)
        position = end
    if not nodes:
        return None
    if position < len(text):
        nodes.append(Text(text[position:]))
    return nodes


class _TreeBuilder:
    """Builds the tree from tokens with the few browser rules that shape readable text."""

    def __init__(self) -> None:
        self.root = Element(ROOT_TAG)
        self._open: list[Element] = [self.root]
        self._open_counts: Counter[str] = Counter()
        self._skipping: list[str] = []
        # Elements past MAX_DEPTH are not built; their names are kept to match end tags.
        self._too_deep: list[str] = []
        self._too_deep_counts: Counter[str] = Counter()

    @property
    def _current(self) -> Element:
        return self._open[-1]

    def feed(self, token: Token) -> None:
        if isinstance(token, StartTag):
            self.start(token.name, token.attrs)
        elif isinstance(token, EndTag):
            self.end(token.name)
        else:
            self.text(token.data)

    def start(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self._skipping.append(tag)
            return
        if tag in TRANSPARENT_TAGS or tag in METADATA_TAGS:
            return
        self._close_implied_by(tag)
        if len(self._open) > MAX_DEPTH:
            if tag not in VOID_TAGS:
                self._too_deep.append(tag)
                self._too_deep_counts[tag] += 1
            return
        element = Element(tag, _first_wins(attrs))
        self._current.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)
            self._open_counts[tag] += 1

    def end(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag == "br":
            self.start("br", [])
            return
        if self._too_deep_counts[tag]:
            while self._too_deep:
                closed = self._too_deep.pop()
                self._too_deep_counts[closed] -= 1
                if closed == tag:
                    break
            return
        if not self._open_counts[tag]:
            return
        for index in range(len(self._open) - 1, 0, -1):
            if self._open[index].tag == tag:
                self._close_from(index)
                self._too_deep.clear()
                self._too_deep_counts.clear()
                return

    def text(self, data: str) -> None:
        if self._skipping or not data:
            return
        children = self._current.children
        if children and isinstance(children[-1], Text):
            children[-1].data += data
        else:
            self._current.append(Text(data))

    def _close_implied_by(self, tag: str) -> None:
        if tag in PARAGRAPH_CLOSERS:
            self._pop_to_nearest({"p"}, limits=PARAGRAPH_SCOPE_LIMITS)
        if tag in HEADING_TAGS and self._current.tag in HEADING_TAGS:
            self._close_from(len(self._open) - 1)
        if tag == "li":
            self._pop_to_nearest({"li"}, limits=frozenset({"ul", "ol", "table"}))
        elif tag in {"dt", "dd"}:
            self._pop_to_nearest({"dt", "dd"}, limits=frozenset({"dl", "table"}))
        elif tag in {"td", "th"}:
            self._pop_to_nearest({"td", "th"}, limits=frozenset({"tr", "table"}))
        elif tag == "tr":
            self._pop_to_nearest({"tr"}, limits=frozenset({"table"}))
        elif tag in {"thead", "tbody", "tfoot"}:
            self._pop_to_nearest({"thead", "tbody", "tfoot"}, limits=frozenset({"table"}))

    def _pop_to_nearest(self, tags: set[str], limits: frozenset[str]) -> None:
        if not any(self._open_counts[tag] for tag in tags):
            return
        for index in range(len(self._open) - 1, 0, -1):
            tag = self._open[index].tag
            if tag in tags:
                self._close_from(index)
                return
            if tag in limits:
                return

    def _close_from(self, index: int) -> None:
        for element in self._open[index:]:
            self._open_counts[element.tag] -= 1
        del self._open[index:]


def _first_wins(attrs: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in attrs:
        if name not in result and _is_attribute_name(name):
            result[name] = value
    return result


def _is_attribute_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in " \"'<>/=\t\n\f\r")
