"""The one allow-list sanitiser for HTML from either side of the bridge.

Mail HTML and Matrix ``formatted_body`` are both written by strangers. Whatever is shown in
the room, put in an email or an archive page first goes through ``sanitize_html``: the tag
and attribute list the Matrix spec recommends for ``org.matrix.custom.html``, links that
cannot run code or leak the reader's page, and no remote image that would tell a sender
who read the message and when. Ammonia (via nh3) makes the final decision on every tag;
the tree pass before it only reshapes what Ammonia cannot (images into links, reply
fallbacks away, nesting capped).
"""

from __future__ import annotations

import re

import nh3

from bridge.formatting.html_tree import (
    Element,
    Text,
    ancestors,
    iter_elements,
    parse_fragment,
    remove,
    replace,
    serialize,
    tag_set,
)
from bridge.formatting.urls import (
    EMBEDDED_IMAGE_SCHEMES,
    LINK_SCHEMES,
    REMOTE_IMAGE_SCHEMES,
    url_scheme,
)

ALLOWED_TAGS = tag_set(
    "font del s strike h1 h2 h3 h4 h5 h6 blockquote p a ul ol sup sub li b i u strong "
    "em code hr br div table thead tbody tr th td caption pre span img details "
    "summary"
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "font": {"color", "data-mx-bg-color", "data-mx-color"},
    "span": {"data-mx-bg-color", "data-mx-color", "data-mx-spoiler", "data-mx-maths"},
    "div": {"data-mx-maths"},
    "a": {"href"},
    "img": {"width", "height", "alt", "title", "src"},
    "ol": {"start"},
    "code": {"class"},
}
LINK_REL = "noopener noreferrer nofollow"
REPLY_FALLBACK_TAG = "mx-reply"
IMAGE_LINK_TEXT = "image"

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_COLOR_NAME = re.compile(r"[a-zA-Z]{3,20}")
_DIMENSION = re.compile(r"[0-9]{1,4}")
_LIST_START = re.compile(r"-?[0-9]{1,9}")
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.\-]{1,40}")


def sanitize_html(html: str) -> str:
    """Return ``html`` reduced to the Matrix allow-list; safe to render anywhere."""
    tree = parse_fragment(html)  # reply fallbacks, scripts and styles are gone already
    for link in list(iter_elements(tree, "a")):
        if url_scheme(link.attrs.get("href", "")) not in LINK_SCHEMES:
            replace(link, list(link.children))  # a link to nowhere safe is just its text
    for image in list(iter_elements(tree, "img")):
        _rewrite_image(image)
    return _CLEANER.clean(serialize(tree))


def is_tracking_pixel(image: Element) -> bool:
    """A 0x0 or 1x1 image exists only to report that a message was opened."""
    sizes = [image.attrs.get("width", "").strip(), image.attrs.get("height", "").strip()]
    return any(size in {"0", "1", "0px", "1px"} for size in sizes)


def _rewrite_image(image: Element) -> None:
    src = image.attrs.get("src", "").strip()
    scheme = url_scheme(src)
    if scheme in EMBEDDED_IMAGE_SCHEMES:
        return
    label = (image.attrs.get("alt") or image.attrs.get("title") or "").strip()
    if scheme not in REMOTE_IMAGE_SCHEMES:
        replace(image, [Text(label)] if label else [])
    elif is_tracking_pixel(image):
        remove(image)
    elif any(a.tag == "a" for a in ancestors(image)):
        replace(image, [Text(label or IMAGE_LINK_TEXT)])
    else:
        link = Element("a", {"href": src})
        link.append(Text(label or IMAGE_LINK_TEXT))
        replace(image, [link])


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    """Per-value limits Ammonia's attribute list cannot express; must never raise."""
    if name in {"data-mx-color", "data-mx-bg-color"}:
        return value if _HEX_COLOR.fullmatch(value) else None
    if name == "color":
        return value if _HEX_COLOR.fullmatch(value) or _COLOR_NAME.fullmatch(value) else None
    if name == "href":
        return value if url_scheme(value) in LINK_SCHEMES else None
    if name == "src":
        return value if url_scheme(value) in EMBEDDED_IMAGE_SCHEMES else None
    if name in {"width", "height"}:
        return value if _DIMENSION.fullmatch(value) else None
    if name == "start":
        return value if _LIST_START.fullmatch(value) else None
    if name == "class":
        kept = [c for c in value.split() if _LANGUAGE_CLASS.fullmatch(c)]
        return " ".join(kept) if tag == "code" and kept else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style", REPLY_FALLBACK_TAG},
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    link_rel=LINK_REL,
    tag_attribute_values={"a": {"target": {"_blank"}}},
    url_schemes=set(LINK_SCHEMES | EMBEDDED_IMAGE_SCHEMES),
    url_relative="deny",
)
