"""HTML to readable plain text, for the text part of relayed mail and for Matrix ``body``.

Readers on the plain-text side should see what an HTML reader sees: paragraphs, list
items, quoted passages and where links point, not markup or a single run-on line. The
rendering follows the browser where it matters to a reader (whitespace collapsing,
``<br>``, blocks) and falls back to the plain-text conventions of mail (``> `` quotes,
``- `` bullets, ``text <url>``) for everything else.
"""

from __future__ import annotations

import re

from bridge.formatting.html_tree import (
    HEADING_TAGS,
    Element,
    Node,
    Text,
    ancestors,
    iter_elements,
    iter_nodes,
    parse_fragment,
    tag_set,
    text_content,
)
from bridge.formatting.pills import matrix_to_target
from bridge.formatting.sanitize import is_tracking_pixel
from bridge.formatting.urls import LINK_SCHEMES, REMOTE_IMAGE_SCHEMES, url_scheme

SPACED_BLOCKS = tag_set("p blockquote pre table dl figure hr details") | HEADING_TAGS
"""Blocks a browser sets apart with a margin: a blank line before and after."""

LINE_BLOCKS = tag_set(
    "address article aside caption center dd div dt fieldset figcaption footer form "
    "header legend li main nav section summary tr ul ol"
)
"""Blocks that start on a new line without a gap."""

RULE = "---"
CELL_SEPARATOR = " | "

_COLLAPSIBLE = re.compile(r"[ \t\n\r\f\xa0]+")
"""Whitespace a browser collapses; no-break spaces too, which mail clients use as padding."""
_TABLE_SECTIONS = frozenset({"thead", "tbody", "tfoot"})


def html_to_text(html: str) -> str:
    """Render ``html`` as plain text; never raises."""
    writer = _TextWriter()
    writer.render_children(parse_fragment(html))
    return writer.finish()


class _TextWriter:
    """Walks the tree once, emitting finished lines; the tree is at most 100 levels deep."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.inline: list[str] = []
        self.prefix = ""
        self.marker_prefix: str | None = None
        self.blank_prefix: str | None = None
        self.in_pre = False

    # -- output ----------------------------------------------------------------------

    def write(self, text: str) -> None:
        if self.in_pre:
            first, *rest = text.split("\n")
            self.inline.append(first)
            for line in rest:
                self.end_line(force=True)
                self.inline.append(line)
            return
        text = _COLLAPSIBLE.sub(" ", text)
        if not self.inline or self.inline[-1].endswith(" "):
            text = text.lstrip(" ")
        if text:
            self.inline.append(text)

    def end_line(self, force: bool = False) -> None:
        """Finish the current line; with ``force`` even an empty one (``<br>``)."""
        line = "".join(self.inline).replace("\xa0", " ").rstrip()
        self.inline.clear()
        if not line.strip() and not force:
            return
        if self.blank_prefix is not None and self.lines:
            self.lines.append(self.blank_prefix)
        self.blank_prefix = None
        if self.marker_prefix is not None and line:
            self.lines.append(self.marker_prefix + line)
            self.marker_prefix = None
        else:
            self.lines.append((self.prefix + line).rstrip())

    def request_blank(self) -> None:
        self.end_line()
        blank = self.prefix.rstrip()
        if self.blank_prefix is None or len(blank) < len(self.blank_prefix):
            self.blank_prefix = blank

    def finish(self) -> str:
        self.end_line()
        return _tidy(self.lines)

    # -- structure -------------------------------------------------------------------

    def render_children(self, element: Element) -> None:
        for child in element.children:
            self.render(child)

    def render(self, node: Node) -> None:
        if isinstance(node, Text):
            self.write(node.data)
            return
        tag = node.tag
        if tag == "br":
            self.end_line(force=True)
        elif tag == "img":
            self.write_image(node)
        elif tag == "a":
            self.render_link(node)
        elif tag == "hr":
            self.request_blank()
            self.write(RULE)
            self.request_blank()
        elif tag == "pre":
            self.render_pre(node)
        elif tag == "blockquote":
            self.render_with_prefix(node, "> ")
        elif tag in {"ul", "ol"}:
            self.render_list(node)
        elif tag == "table":
            self.render_table(node)
        elif tag in SPACED_BLOCKS:
            self.request_blank()
            self.render_children(node)
            self.request_blank()
        elif tag in LINE_BLOCKS:
            self.end_line()
            self.render_children(node)
            self.end_line()
        else:
            self.render_children(node)

    def render_with_prefix(self, node: Element, prefix: str) -> None:
        self.request_blank()
        outer = self.prefix
        self.prefix = outer + prefix
        self.render_children(node)
        self.end_line()
        self.prefix = outer
        self.request_blank()

    def render_pre(self, node: Element) -> None:
        self.request_blank()
        self.in_pre = True
        text = text_content(node)
        self.write(text[1:] if text.startswith("\n") else text)
        self.in_pre = False
        self.end_line()
        self.request_blank()

    def render_list(self, node: Element) -> None:
        nested = any(a.tag == "li" for a in ancestors(node))
        if nested:
            self.end_line()
        else:
            self.request_blank()
        number = _list_start(node)
        for child in node.children:
            if not (isinstance(child, Element) and child.tag == "li"):
                self.render(child)
                continue
            marker = f"{number}. " if node.tag == "ol" else "- "
            number += 1
            self.end_line()
            outer = self.prefix
            self.marker_prefix = outer + marker
            self.prefix = outer + " " * len(marker)
            self.render_children(child)
            self.end_line()
            self.marker_prefix = None
            self.prefix = outer
        if not nested:
            self.request_blank()

    def render_link(self, node: Element) -> None:
        href = node.attrs.get("href", "").strip()
        if url_scheme(href) not in LINK_SCHEMES or matrix_to_target(href) is not None:
            self.render_children(node)
            return
        label = _COLLAPSIBLE.sub(" ", text_content(node)).strip()
        has_image = any(True for _ in iter_elements(node, "img"))
        if not label and not has_image:
            self.write(href)
            return
        self.render_children(node)
        if label not in {href, href.removeprefix("mailto:")} or has_image:
            self.write(f" <{href}>")

    def write_image(self, node: Element) -> None:
        if is_tracking_pixel(node):
            return
        alt = _COLLAPSIBLE.sub(" ", node.attrs.get("alt", "")).strip()
        src = node.attrs.get("src", "").strip()
        parts = [f"image: {alt}" if alt else "image"]
        if url_scheme(src) in REMOTE_IMAGE_SCHEMES:
            parts.append(f"<{src}>")
        self.write(f"[{' '.join(parts)}]")

    def render_table(self, table: Element) -> None:
        rows = _table_rows(table)
        cells_by_row = [[_cell_text(cell) for cell in _row_cells(row)] for row in rows]
        if not any(sum(1 for text in cells if text) > 1 for cells in cells_by_row):
            # A layout table: one column of content, rendered as ordinary blocks.
            self.end_line()
            for row in rows:
                for cell in _row_cells(row):
                    self.end_line()
                    self.render_children(cell)
                    self.end_line()
            self.end_line()
            return
        self.request_blank()
        for caption in (c for c in table.children if isinstance(c, Element)):
            if caption.tag == "caption":
                self.write(_cell_text(caption))
                self.end_line()
        for cells in cells_by_row:
            if any(cells):
                self.write(CELL_SEPARATOR.join(cells))
                self.end_line()
        self.request_blank()


def _list_start(node: Element) -> int:
    start = node.attrs.get("start", "1").strip()
    return int(start) if re.fullmatch(r"-?[0-9]{1,9}", start) else 1


def _table_rows(table: Element) -> list[Element]:
    rows: list[Element] = []
    for child in table.children:
        if isinstance(child, Element) and child.tag == "tr":
            rows.append(child)
        elif isinstance(child, Element) and child.tag in _TABLE_SECTIONS:
            rows.extend(c for c in child.children if isinstance(c, Element) and c.tag == "tr")
    return rows


def _row_cells(row: Element) -> list[Element]:
    return [c for c in row.children if isinstance(c, Element) and c.tag in {"td", "th"}]


def _cell_text(cell: Element) -> str:
    pieces: list[str] = []
    for node in iter_nodes(cell):
        if isinstance(node, Text):
            pieces.append(node.data)
        elif node.tag == "br":
            pieces.append(" ")
    return _COLLAPSIBLE.sub(" ", "".join(pieces)).strip()


def _tidy(lines: list[str]) -> str:
    """Collapse runs of blank lines and trim blank lines at both ends."""
    tidy: list[str] = []
    for line in lines:
        blank = not line.strip(" >")
        if blank and (not tidy or not tidy[-1].strip(" >")):
            continue
        tidy.append(line)
    while tidy and not tidy[-1].strip(" >"):
        tidy.pop()
    return "\n".join(tidy)
