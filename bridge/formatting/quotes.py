"""Trim quoted history and signatures from email replies before they reach the room.

A mail reply usually carries the whole thread below it; in the room that thread is already
there, one message above. What reaches the chat is what the person wrote: the quoted
tail, the "On … wrote:" line that introduces it, Outlook's header block, the signature
and "Sent from my iPhone" go. Quotes followed by new text are an interleaved answer and
stay. When nothing would be left, the message is returned unchanged: a bare forward or a
quote-only mail is still better shown than lost.
"""

from __future__ import annotations

from bridge.formatting.charset import scrub_surrogates
from bridge.formatting.html_tree import (
    Element,
    Node,
    Text,
    ancestors,
    iter_nodes,
    parse_fragment,
    remove,
    remove_from,
    serialize,
    tag_set,
    text_content,
)
from bridge.formatting.reply_markers import (
    has_date_or_address,
    is_attribution,
    is_bare_attribution,
    is_dated_attribution,
    is_header_block,
    is_mobile_signature,
    is_original_message_marker,
    is_separator_line,
    is_signature_separator,
    is_worn_signature_separator,
    mentions_forward,
    normalize_space,
    starts_with_from_field,
)

MAX_WORN_SIGNATURE_LINES = 8
"""A bare "--" starts a signature only when this few lines follow it."""

MAX_ATTRIBUTION_LINES = 4
"""Long names and addresses wrap an attribution over a few lines."""

HISTORY_IDS = frozenset(
    {
        "divRplyFwdMsg",
        "appendonsend",
        "mail-editor-reference-message-container",
        "OLK_SRC_BODY_SECTION",
        "stopSpelling",
    }
)
"""Outlook marks where the quoted message starts with these ids."""
HISTORY_CLASSES = frozenset({"yahoo_quoted"})
SIGNATURE_CLASSES = frozenset({"gmail_signature", "moz-signature"})
SIGNATURE_IDS = frozenset({"Signature"})
ATTRIBUTION_CLASSES = frozenset({"gmail_attr", "moz-cite-prefix"})
BLOCK_TAGS = tag_set("p div li td th pre h1 h2 h3 h4 h5 h6 blockquote")
_MAX_TRIM_ROUNDS = 20


def strip_quoted_text(text: str) -> str:
    """The new part of a plain-text reply; the original when nothing new is left."""
    text = scrub_surrogates(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = _cut_at_unquoted_history(_cut_at_quoted_headers(lines))
    for _ in range(_MAX_TRIM_ROUNDS):
        trimmed = _drop_mobile_signature(_cut_at_signature(_drop_trailing_quote(lines)))
        if trimmed == lines:
            break
        lines = trimmed
    result = "\n".join(line.rstrip() for line in lines).strip("\n")
    return result if result.strip() else text


def _cut_at_quoted_headers(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        if is_original_message_marker(line) or (
            starts_with_from_field(line)
            and is_header_block("\n".join(lines[index : index + 8]))
            and not mentions_forward("\n".join(lines[max(0, index - 3) : index]))
        ):
            return _without_trailing_separator(lines[:index])
    return lines


def _cut_at_unquoted_history(lines: list[str]) -> list[str]:
    """Some clients (Yahoo, some phones) put history under "On … wrote:" without ``>``.

    Only an attribution below the last quoted line counts, and only one that names a time,
    a year or an address, so a sentence like "On Monday the team wrote:" is left alone.
    """
    last_quoted = max((i for i, line in enumerate(lines) if _is_quoted(line)), default=-1)
    for end in range(last_quoted + 1, len(lines)):
        if not lines[end].rstrip().endswith(":"):
            continue
        start = _attribution_start(lines, end + 1, dated_only=True)
        if start <= end and has_date_or_address(" ".join(lines[start : end + 1])):
            return lines[:start]
    return lines


def _without_trailing_separator(lines: list[str]) -> list[str]:
    end = _last_filled(lines, len(lines))
    if end > 0 and is_separator_line(lines[end - 1]):
        return lines[: end - 1]
    return lines


def _cut_at_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if "--" not in line:  # both separators contain it; most lines do not (this runs on every mail)
            continue
        if is_signature_separator(line):
            return lines[:index]
        if is_worn_signature_separator(line) and _few_filled(lines, index + 1, MAX_WORN_SIGNATURE_LINES):
            return lines[:index]
    return lines


def _few_filled(lines: list[str], start: int, most: int) -> bool:
    """Whether at most ``most`` of ``lines[start:]`` have any text (without copying them)."""
    filled = 0
    for index in range(start, len(lines)):
        filled += bool(lines[index].strip())
        if filled > most:
            return False
    return True


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    end = _last_filled(lines, len(lines))
    start = end
    while start > 0 and (_is_quoted(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    if not any(_is_quoted(line) for line in lines[start:end]):
        return lines
    above = _last_filled(lines, start)
    return lines[: _attribution_start(lines, above)]


def _attribution_start(lines: list[str], end: int, dated_only: bool = False) -> int:
    """Where an attribution ending just above ``end`` starts; ``end`` when there is none."""
    for size in range(1, MAX_ATTRIBUTION_LINES + 1):
        chunk = lines[max(0, end - size) : end]
        if len(chunk) < size or not all(line.strip() for line in chunk):
            break
        if is_dated_attribution(" ".join(chunk)):
            return end - size
    if not dated_only and end > 0 and is_bare_attribution(lines[end - 1]):
        return end - 1
    return end


def _drop_mobile_signature(lines: list[str]) -> list[str]:
    end = _last_filled(lines, len(lines))
    if end > 0 and is_mobile_signature(lines[end - 1]):
        return lines[: end - 1]
    return lines


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _last_filled(lines: list[str], end: int) -> int:
    """The index just after the last non-blank line before ``end``."""
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return end


# -- HTML ----------------------------------------------------------------------------


def strip_quoted_html(html: str) -> str:
    """The new part of an HTML reply as an HTML fragment; the original when none is left.

    The result is not sanitised: it still goes through ``sanitize_html`` before display.
    """
    html = scrub_surrogates(html)
    tree = parse_fragment(html)
    cut = _first_history_marker(tree)
    if cut is not None:
        remove_from(cut)
    removed_quote = False
    for _ in range(_MAX_TRIM_ROUNDS):
        leaf = _last_substantive_leaf(tree)
        if leaf is None:
            return html
        quote = _outermost_blockquote(leaf)
        if quote is not None:
            remove(quote)
            removed_quote = True
            continue
        attribution = _attribution_around(leaf) if removed_quote else None
        block = attribution or _mobile_signature_around(leaf)
        if block is None:
            _remove_after(leaf)
            break
        remove(block)
    if _last_substantive_leaf(tree) is None:
        return html
    return serialize(tree)


def _first_history_marker(tree: Element) -> Node | None:
    """The first node, outside any quote, from which everything is history or signature."""
    for node in iter_nodes(tree):
        if any(a.tag == "blockquote" for a in ancestors(node)):
            continue
        if isinstance(node, Element):
            if _is_history_or_signature(node):
                return node
            continue
        if is_worn_signature_separator(node.data.replace("\xa0", " ")) and _next_is_break(node):
            return node
        if is_original_message_marker(node.data) or (
            starts_with_from_field(node.data) and is_header_block(text_content(_block_of(node)))
        ):
            return _block_of(node)
    return None


def _is_history_or_signature(element: Element) -> bool:
    element_id = element.attrs.get("id", "")
    classes = element.classes()
    return bool(
        element_id in HISTORY_IDS
        or element_id in SIGNATURE_IDS
        or classes & HISTORY_CLASSES
        or classes & SIGNATURE_CLASSES
        or element.attrs.get("data-smartmail") == "gmail_signature"
    )


def _next_is_break(node: Text) -> bool:
    if node.parent is None:
        return False
    siblings = node.parent.children
    index = siblings.index(node)
    following = siblings[index + 1 : index + 2]
    return bool(following) and isinstance(following[0], Element) and following[0].tag == "br"


def _block_of(node: Node) -> Node:
    for ancestor in ancestors(node):
        if ancestor.tag in BLOCK_TAGS:
            return ancestor
    return node


def _last_substantive_leaf(tree: Element) -> Node | None:
    last: Node | None = None
    for node in iter_nodes(tree):
        if isinstance(node, Text):
            if node.data.strip(" \t\n\r\f\xa0"):
                last = node
        elif node.tag in {"img", "hr"}:
            last = node
    return last


def _outermost_blockquote(node: Node) -> Element | None:
    found: Element | None = None
    for ancestor in ancestors(node):
        if ancestor.tag == "blockquote":
            found = ancestor
    return found


def _attribution_around(leaf: Node) -> Node | None:
    for ancestor in ancestors(leaf):
        if ancestor.classes() & ATTRIBUTION_CLASSES:
            return ancestor
    block = _block_of(leaf)
    if block is not leaf and is_attribution(text_content(block)):
        return block
    if isinstance(leaf, Text) and is_attribution(leaf.data):
        return leaf
    return None


def _mobile_signature_around(leaf: Node) -> Node | None:
    block = _block_of(leaf)
    if block is not leaf and is_mobile_signature(normalize_space(text_content(block))):
        return block
    if isinstance(leaf, Text) and is_mobile_signature(leaf.data):
        return leaf
    return None


def _remove_after(node: Node) -> None:
    """Drop what trails ``node`` in document order: empty wrappers, breaks, spaces."""
    current = node
    while current.parent is not None:
        siblings = current.parent.children
        del siblings[siblings.index(current) + 1 :]
        current = current.parent
