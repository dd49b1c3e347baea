"""HTML rendered as the plain text a mail reader or a Matrix body shows."""

import pytest

from bridge.formatting.html_text import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello <b>world</b></p><p>Second</p>", "Hello world\n\nSecond"),
        ("<p>  lots   of\n  space  </p>", "lots of space"),
        ("one<br>two<br><br>four", "one\ntwo\n\nfour"),
        ("<div>Gmail line</div><div><br></div><div>next</div>", "Gmail line\n\nnext"),
        ("<div>a</div><div>b</div>", "a\nb"),
        (
            "<p class=MsoNormal>Hi<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p>Text</p>",
            "Hi\n\nText",
        ),
        ("<h1>Title</h1>body<h2>Part</h2>more", "Title\n\nbody\n\nPart\n\nmore"),
        ("<p>a</p><hr><p>b</p>", "a\n\n---\n\nb"),
        ("Tom &amp; Jerry &lt;3 &eacute;t&eacute; &#x1F600;", "Tom & Jerry <3 été 😀"),
        ("<script>alert(1)</script><style>p{color:red}</style>visible", "visible"),
        ("<p>unclosed <b>bold <i>italic</p><p>next", "unclosed bold italic\n\nnext"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_blocks_and_whitespace(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<a href="https://e.org/x">the docs</a>', "the docs <https://e.org/x>"),
        ('<a href="https://e.org/x">https://e.org/x</a>', "https://e.org/x"),
        ('<a href="mailto:ana@example.org">ana@example.org</a>', "ana@example.org"),
        ('<a href="https://e.org/x"></a>', "https://e.org/x"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href="#section">jump</a>', "jump"),
        ('<a href="https://matrix.to/#/@ana:example.com">Ana Souza</a>: hi', "Ana Souza: hi"),
        (
            '<a href="https://matrix.to/#/!r:e.com/$ev">this message</a>',
            "this message <https://matrix.to/#/!r:e.com/$ev>",
        ),
    ],
)
def test_links(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_nested_lists_are_indented_under_their_item() -> None:
    html = (
        "<ul><li>one</li><li>two<ul><li>two a</li><li>two b</li></ul></li><li>three</li></ul>"
        '<ol start="3"><li>third</li><li>fourth<ol><li>inner</li></ol></li></ol>'
    )
    assert html_to_text(html) == (
        "- one\n- two\n  - two a\n  - two b\n- three\n\n3. third\n4. fourth\n   1. inner"
    )


def test_list_item_continuation_lines_align_with_the_item_text() -> None:
    assert html_to_text("<ol><li>first line<br>second line</li></ol>") == ("1. first line\n   second line")


def test_blockquotes_are_prefixed_and_nest() -> None:
    html = "<p>Intro</p><blockquote><p>quoted</p><blockquote>deeper</blockquote></blockquote><p>after</p>"
    assert html_to_text(html) == "Intro\n\n> quoted\n>\n> > deeper\n\nafter"


def test_preformatted_text_is_kept_verbatim() -> None:
    html = "<p>Run:</p><pre>\nif x:\n    print(  'y' )\n</pre><p>done</p>"
    assert html_to_text(html) == "Run:\n\nif x:\n    print(  'y' )\n\ndone"


def test_code_block_inside_a_quote_keeps_its_indentation() -> None:
    assert html_to_text("<blockquote><pre>a\n  b</pre></blockquote>") == "> a\n>   b"


def test_data_tables_become_pipe_separated_rows() -> None:
    html = (
        "<table><caption>Roster</caption><thead><tr><th>Name</th><th>Role</th></tr></thead>"
        "<tbody><tr><td>Ana</td><td>Convener</td></tr><tr><td>Bo<br>Chen</td><td></td></tr></tbody></table>"
    )
    assert html_to_text(html) == "Roster\nName | Role\nAna | Convener\nBo Chen |"


def test_layout_tables_of_one_column_read_as_ordinary_blocks() -> None:
    html = "<table><tr><td><p>First paragraph</p><p>Second</p></td></tr><tr><td>Footer</td></tr></table>"
    assert html_to_text(html) == "First paragraph\n\nSecond\n\nFooter"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (
            '<img src="https://cdn.example/logo.png" alt="Logo">',
            "[image: Logo <https://cdn.example/logo.png>]",
        ),
        ('<img src="https://cdn.example/logo.png">', "[image <https://cdn.example/logo.png>]"),
        ('<img src="cid:part1@example.org" alt="chart">', "[image: chart]"),
        ('<img src="mxc://example.com/abc" alt="cat">', "[image: cat]"),
        ('Hi<img src="https://t.example/o.gif" width="1" height="1">', "Hi"),
    ],
)
def test_images(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_linked_image_shows_both_targets() -> None:
    html = '<a href="https://shop.example"><img src="https://cdn/x.png" alt="Shop"></a>'
    assert html_to_text(html) == "[image: Shop <https://cdn/x.png>] <https://shop.example>"


def test_matrix_reply_fallback_is_not_rendered() -> None:
    html = "<mx-reply><blockquote>In reply to <b>orig</b></blockquote></mx-reply>answer"
    assert html_to_text(html) == "answer"


def test_deep_nesting_and_garbage_never_raise() -> None:
    assert html_to_text("<ul><li>" * 3_000 + "deep").endswith("deep")
    assert html_to_text("<blockquote>" * 3_000 + "deep").endswith("deep")
    assert html_to_text("<<<>>> </ <a href=") == "<<<>>>"
