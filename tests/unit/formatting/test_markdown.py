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


def _full_path(text: str) -> str:
    """What ``markdown_to_html`` gives through markdown-it, the tree and the sanitiser, always."""
    from bridge.formatting import markdown

    tree = markdown.parse_fragment(markdown._RENDERER.render(text))
    markdown.rewrite_text(tree, markdown._link_bare_urls, markdown.NOT_LINKIFIED_INSIDE)
    return markdown.sanitize_html(markdown.serialize(tree)).strip()


@pytest.mark.parametrize("seed", range(4))
def test_plain_text_shortcut_gives_exactly_what_the_full_path_gives(seed: int) -> None:
    """Plain prose skips markdown-it (an archive import renders millions of mails); on thousands of
    random texts, prose-like and hostile, the shortcut either declines or matches byte for byte."""
    import random

    from bridge.formatting.markdown import _plain_paragraphs

    rng = random.Random(seed)
    prose = [
        *"abcdefghij ABC éßжあ日😀 0123456789 .,;:'\"?()/%$€@-+={}^",
        "\n",
        "\n\n",
        " \n",
        "the plan ",
        "it's ",
    ]
    hostile = [
        *"\t!*_#>&<\\~|[]`\r\xa0\u2003\u200b\ufeff\u0301\x0b\udc80",
        "http://x.org",
        "1. ",
        "- ",
        "    ",
        "===",
    ]
    shortcut = 0
    for _ in range(1500):
        pool = prose + (hostile if rng.random() < 0.3 else [])
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 120)))
        if not text.strip():
            continue
        fast = _plain_paragraphs(text)
        if fast is not None:
            shortcut += 1
            assert fast == _full_path(text), repr(text)
    assert shortcut > 300  # the shortcut is really taken, not just declined


@pytest.mark.parametrize(
    "text",
    [
        "- a list",
        "1. first",
        "1) first",
        "Title\n===",
        "x\n---",
        "    code",
        "a *b*",
        "see https://x.org",
        "a\tb",
        "x\u2003",
        "R&D",
        "a <b>",
        "a\\b",
        "#tag",
        "x  \ny",
        "a\xa0b",
        "!",
    ],
)
def test_the_shortcut_declines_what_markdown_would_change(text: str) -> None:
    from bridge.formatting.markdown import _plain_paragraphs

    fast = _plain_paragraphs(text)
    assert fast is None or fast == _full_path(text)
