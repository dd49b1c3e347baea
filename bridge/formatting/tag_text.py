"""HTML bodies as the tag reader needs them: the author's words, without code, quotes or replies.

``bridge.core.tags.hashtags`` reads hashtags from text. An HTML body says more than its text does about
what is not prose: ``<code>``, ``<pre>``, ``<kbd>``, ``<samp>`` hold code, ``<blockquote>`` quotes
someone else, ``<mx-reply>`` is a Matrix reply fallback (dropped by the tree already). ``readable_text``
keeps only the rest, one line per block, so a hashtag can neither hide in code nor be glued across
two blocks. ``strip_leading_lines`` takes the first lines of a body away (the ``Tags:`` lines of a core
member's mail) without touching the markup of what follows.
"""

from __future__ import annotations

from bridge.formatting.html_text import LINE_BLOCKS, SPACED_BLOCKS
from bridge.formatting.html_tree import Element, Node, Text, parse_fragment, remove, serialize, tag_set

NOT_PROSE = tag_set("code pre kbd samp tt blockquote var")
BLOCKS = SPACED_BLOCKS | LINE_BLOCKS | tag_set("td th br")


def readable_text(html: str) -> str:
    """The words of ``html`` outside code and quotes, a line per block."""
    parts: list[str] = []
    _collect(parse_fragment(html), parts)
    return "".join(parts)


def _collect(element: Element, parts: list[str]) -> None:
    for child in element.children:
        if isinstance(child, Text):
            parts.append(child.data)
        elif child.tag in NOT_PROSE:
            parts.append("\n" if child.tag in BLOCKS else " ")
        else:
            block = child.tag in BLOCKS
            if block:
                parts.append("\n")
            _collect(child, parts)
            if block:
                parts.append("\n")


def strip_leading_lines(html: str, count: int) -> str:
    """``html`` without its first ``count`` non-blank lines of text (a line ends at a block or
    ``<br>``); blocks left empty go with them."""
    root = parse_fragment(html)
    for _ in range(count):
        if not _remove_first_line(root):
            break
    while root.children and not (isinstance(root.children[0], Element) and _has_text(root.children[0])):
        if isinstance(root.children[0], Text) and root.children[0].data.strip():
            break
        remove(root.children[0])  # the blank lines that separated the removed ones from the text
    return serialize(root).strip()


def _remove_first_line(root: Element) -> bool:
    start = _first_text(root)
    if start is None:
        return False
    block = _block_of(start, root)
    sequence = _inline_run(block, start)
    for node in sequence:
        if isinstance(node, Text) and "\n" in node.data.lstrip("\n"):
            # A line break inside a text run (white-space: pre): keep what follows it.
            head = node.data.lstrip("\n")
            node.data = head.split("\n", 1)[1]
            break
        remove(node)
        if isinstance(node, Element) and node.tag == "br":
            break
    while block is not root and not _has_text(block):
        parent = block.parent
        remove(block)
        if parent is None:
            break
        block = parent
    return True


def _first_text(root: Element) -> Text | None:
    stack: list[Node] = list(reversed(root.children))
    while stack:
        node = stack.pop()
        if isinstance(node, Text):
            if node.data.strip():
                return node
        else:
            stack.extend(reversed(node.children))
    return None


def _block_of(node: Node, root: Element) -> Element:
    parent = node.parent
    while parent is not None and parent is not root and parent.tag not in BLOCKS:
        parent = parent.parent
    return parent if parent is not None else root


def _inline_run(block: Element, start: Text) -> list[Node]:
    """``start`` and the inline nodes after it in its block, up to and including the next ``<br>``,
    as siblings at the level just below ``block`` (an inline element holding ``start`` goes whole)."""
    top: Node = start
    while top.parent is not None and top.parent is not block:
        top = top.parent
    siblings = block.children
    run: list[Node] = []
    for node in siblings[siblings.index(top) :]:
        if isinstance(node, Element) and node.tag in BLOCKS and node.tag != "br":
            break
        run.append(node)
        if isinstance(node, Element) and node.tag == "br":
            break
    return run


def _has_text(element: Element) -> bool:
    stack: list[Node] = list(element.children)
    while stack:
        node = stack.pop()
        if isinstance(node, Text):
            if node.data.strip():
                return True
        elif node.tag in ("img", "hr"):
            return True
        else:
            stack.extend(node.children)
    return False
