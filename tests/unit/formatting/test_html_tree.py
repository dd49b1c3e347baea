"""The forgiving tree every conversion starts from."""

import pytest

from bridge.formatting.html_tree import (
    MAX_DEPTH,
    Element,
    Text,
    iter_elements,
    parse_fragment,
    remove_from,
    serialize,
    splice_text,
)


def depth_of(element: Element) -> int:
    children = [c for c in element.children if isinstance(c, Element)]
    return 1 + max((depth_of(c) for c in children), default=0)


@pytest.mark.parametrize(
    ("markup", "serialized"),
    [
        ("<p>one<p>two", "<p>one</p><p>two</p>"),
        ("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>"),
        ("<ul><li>a<ul><li>inner</ul><li>b</ul>", "<ul><li>a<ul><li>inner</li></ul></li><li>b</li></ul>"),
        (
            "<table><tr><td>1<td>2<tr><td>3</table>",
            "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>",
        ),
        ("<p>para<div>block</div>", "<p>para</p><div>block</div>"),
        ("<b>bold</i>still bold</b>", "<b>boldstill bold</b>"),
        ("<br></br>", "<br><br>"),
        ("<div/>content", "<div>content</div>"),
        ("<html><head><title>T</title></head><body><p>b</p></body></html>", "<p>b</p>"),
        ('<meta charset="utf-8"><link rel="stylesheet" href="x.css"><base href="/">t', "t"),
        ("<script>x</script><style>y</style><iframe>z</iframe>kept", "kept"),
        ("a &amp; b &lt;c&gt;", "a &amp; b &lt;c&gt;"),
        ('<a title="say &quot;hi&quot;" href=x>l</a>', '<a title="say &quot;hi&quot;" href="x">l</a>'),
        ('<a href="1" href="2">dup</a>', '<a href="1">dup</a>'),
    ],
)
def test_builds_the_tree_a_reader_would_see(markup: str, serialized: str) -> None:
    assert serialize(parse_fragment(markup)) == serialized


def test_nesting_beyond_the_limit_is_flattened_but_text_kept() -> None:
    tree = parse_fragment("<div>" * 500 + "deep" + "</div>" * 500 + "after")
    assert depth_of(tree) == MAX_DEPTH + 1  # the root plus 100 levels
    assert serialize(tree).endswith("deep" + "</div>" * MAX_DEPTH + "after")


def test_end_tags_past_the_limit_do_not_close_outer_elements() -> None:
    tree = parse_fragment("<p>" + "<b>" * 150 + "x" + "</b>" * 150 + "y</p>z")
    paragraph = next(iter_elements(tree, "p"))
    assert serialize(paragraph).endswith("y</p>")
    assert isinstance(tree.children[-1], Text)
    assert tree.children[-1].data == "z"


def test_remove_from_cuts_everything_after_a_node_in_document_order() -> None:
    tree = parse_fragment("<div><p>keep</p><p id=cut>drop</p><p>drop</p></div><p>drop</p>")
    cut = next(e for e in iter_elements(tree) if e.attrs.get("id") == "cut")
    remove_from(cut)
    assert serialize(tree) == "<div><p>keep</p></div>"


def test_splice_text_replaces_spans_and_keeps_the_rest() -> None:
    marker = Element("b")
    nodes = splice_text("before X after", [(7, 8, marker)])
    assert nodes is not None
    assert [n.data if isinstance(n, Text) else n.tag for n in nodes] == ["before ", "b", " after"]
    assert splice_text("nothing", []) is None
