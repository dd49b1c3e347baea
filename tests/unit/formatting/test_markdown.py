"""Markdown from chat or mail rendered as safe HTML."""

import pytest

from bridge.formatting.markdown import looks_like_markdown, markdown_to_html
from bridge.formatting.sanitize import LINK_REL

REL = f'rel="{LINK_REL}"'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Hello", "<p>Hello</p>"),
        ("Hello\nworld\n\nSecond", "<p>Hello<br>\nworld</p>\n<p>Second</p>"),
        ("**bold** and *em* and ~~gone~~", "<p><strong>bold</strong> and <em>em</em> and <s>gone</s></p>"),
        ("`x < y`", "<p><code>x &lt; y</code></p>"),
        ("# Title", "<h1>Title</h1>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
        ("```python\nprint(1)\n```", '<pre><code class="language-python">print(1)\n</code></pre>'),
        ("a & b < c", "<p>a &amp; b &lt; c</p>"),
        ("", ""),
    ],
)
def test_commonmark_is_rendered(text: str, html: str) -> None:
    assert markdown_to_html(text) == html


def test_tables_are_rendered() -> None:
    html = markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<table>" in html
    assert "<th>a</th>" in html
    assert "<td>2</td>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<b>not bold</b>",
    ],
)
def test_raw_html_is_shown_as_text(text: str) -> None:
    html = markdown_to_html(text)
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "text",
    ["[click](javascript:alert(1))", "[click](vbscript:x)", "[click](data:text/html,x)"],
)
def test_links_to_unsafe_schemes_never_become_links(text: str) -> None:
    assert "href" not in markdown_to_html(text)


def test_markdown_links_get_rel_and_stay() -> None:
    assert markdown_to_html("[docs](https://e.org/docs)") == (
        f'<p><a href="https://e.org/docs" {REL}>docs</a></p>'
    )


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("see https://e.org/page.", "https://e.org/page"),
        ("(https://e.org/a_(b))", "https://e.org/a_(b)"),
        ("at https://e.org/x?y=1&z=2, ok", "https://e.org/x?y=1&amp;z=2"),
    ],
)
def test_bare_urls_become_links(text: str, url: str) -> None:
    assert f'<a href="{url}" {REL}>{url}</a>' in markdown_to_html(text)


def test_urls_inside_code_are_not_linked() -> None:
    assert "<a" not in markdown_to_html("`https://e.org`")


def test_images_are_not_loaded_but_linked() -> None:
    assert markdown_to_html("![chart](https://e.org/c.png)") == (
        f'<p><a href="https://e.org/c.png" {REL}>chart</a></p>'
    )


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("Just a sentence.", False),
        ("Two lines\nof plain text\n\nand a paragraph", False),
        ("A link https://e.org stays plain", False),
        ("Ünïcode & ampersand < angle", False),
        ("**bold**", True),
        ("_em_", True),
        ("`code`", True),
        ("# heading", True),
        ("- item", True),
        ("1. item", True),
        ("> quote", True),
        ("[x](https://e.org)", True),
        ("\\*escaped\\*", True),
        ("&amp; entity", True),
        ("```\nfence\n```", True),
    ],
)
def test_looks_like_markdown(text: str, markdown: bool) -> None:
    assert looks_like_markdown(text) is markdown
