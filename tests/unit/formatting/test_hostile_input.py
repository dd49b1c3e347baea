"""Every public conversion returns valid text for any input, and quickly."""

import random
import re
from collections.abc import Callable

import pytest

from bridge.formatting import (
    decode_bytes,
    html_to_text,
    looks_like_markdown,
    markdown_to_html,
    names_to_pills,
    pills_to_names,
    sanitize_html,
    strip_quoted_html,
    strip_quoted_text,
)


def _random_markup(seed: int) -> str:
    pieces = [
        "<",
        ">",
        "</",
        "<!--",
        "-->",
        '"',
        "'",
        "=",
        "&",
        "#",
        ";",
        "a",
        "p",
        "li",
        "td",
        "script",
        "blockquote",
        " ",
        "\n",
        "> ",
        "-- ",
        "@Ana",
        "\x00",
        "\udc80",
        "é",
        "😀",
    ]
    generator = random.Random(seed)
    return "".join(generator.choice(pieces) for _ in range(400))


HOSTILE = [
    "",
    "\x00\x01\x02",
    "lone \udc80 surrogate \ud800",
    "<div>" * 2_000,
    "</div>" * 2_000,
    "<a " * 2_000,
    "<!--" * 2_000,
    "> " * 2_000,
    ">\n" * 2_000,
    "<table><tr><td>" * 500,
    "<ol start=999999999999999999999><li>x",
    '<img src="https://x" width="1" height="99999999999999999">',
    "<mx-reply>" * 300 + "x",
    "\u202etext reversed\u202c <b>bidi</b>",
    *(_random_markup(seed) for seed in range(20)),
]

CONVERSIONS: list[tuple[str, Callable[[str], object]]] = [
    ("sanitize_html", sanitize_html),
    ("html_to_text", html_to_text),
    ("markdown_to_html", markdown_to_html),
    ("looks_like_markdown", looks_like_markdown),
    ("strip_quoted_text", strip_quoted_text),
    ("strip_quoted_html", strip_quoted_html),
    ("pills_to_names", pills_to_names),
    ("names_to_pills", lambda text: names_to_pills(text, {"Ana": "@ana:e.com", "ana": "@a2:e.com"})),
]


@pytest.mark.parametrize(("name", "convert"), CONVERSIONS, ids=[n for n, _ in CONVERSIONS])
def test_conversions_return_encodable_text_for_hostile_input(
    name: str, convert: Callable[[str], object]
) -> None:
    for hostile in HOSTILE:
        result = convert(hostile)
        if isinstance(result, str):
            result.encode("utf-8")  # no lone surrogates: JSON and SMTP would fail on them
        else:
            assert isinstance(result, bool), name


@pytest.mark.parametrize("hostile", HOSTILE[:14])
def test_sanitised_hostile_input_has_no_active_content(hostile: str) -> None:
    cleaned = sanitize_html(hostile).lower()
    assert "<script" not in cleaned
    assert "<mx-reply" not in cleaned
    assert not re.search(r"<[^>]*\son\w*=", cleaned)  # no event handler attributes


def test_random_bytes_always_decode() -> None:
    generator = random.Random(7)
    for _ in range(200):
        data = bytes(generator.randrange(256) for _ in range(generator.randrange(64)))
        label = generator.choice([None, "utf-8", "us-ascii", "shift_jis", "iso-2022-jp", "bogus"])
        assert isinstance(decode_bytes(data, label), str)
