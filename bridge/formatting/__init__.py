"""Pure text and HTML conversion shared by the Matrix and email adapters.

No I/O here: sanitising HTML from either side, HTML to plain text, Markdown to HTML,
trimming quoted history from mail replies, decoding mail charsets and Matrix mentions.
"""

from bridge.formatting.charset import decode_bytes
from bridge.formatting.html_text import html_to_text
from bridge.formatting.markdown import looks_like_markdown, markdown_to_html
from bridge.formatting.pills import (
    matrix_to_user_link,
    mentioned_user_ids,
    names_to_pills,
    pills_to_names,
)
from bridge.formatting.quotes import strip_quoted_html, strip_quoted_text
from bridge.formatting.sanitize import sanitize_html

__all__ = [
    "decode_bytes",
    "html_to_text",
    "looks_like_markdown",
    "markdown_to_html",
    "matrix_to_user_link",
    "mentioned_user_ids",
    "names_to_pills",
    "pills_to_names",
    "sanitize_html",
    "strip_quoted_html",
    "strip_quoted_text",
]
