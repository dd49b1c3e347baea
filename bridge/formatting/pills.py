"""Matrix mentions ("pills") to names and back.

In the room a mention is a link to ``https://matrix.to/#/@user:server`` that clients draw
as a pill and that notifies the person. In an email it is just the name. Going out, pills
become the name they show; coming in, ``@Full Name`` for a known member becomes a pill
again, but only when the name points at exactly one person, so a mail can never ping the
wrong member.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

from bridge.formatting.charset import scrub_surrogates
from bridge.formatting.html_tree import (
    ROOT_TAG,
    Element,
    Node,
    Text,
    iter_elements,
    parse_fragment,
    replace,
    rewrite_text,
    serialize,
    splice_text,
    text_content,
)

MATRIX_TO_PREFIX = "https://matrix.to/#/"
NOT_MENTIONABLE_INSIDE = frozenset({"a", "code", "pre"})

_MATRIX_URI_KINDS = {"u": "@", "r": "#", "roomid": "!"}
_HTML_TAG = re.compile(
    r"</?(?:a|b|i|u|s|p|br|hr|em|strong|code|pre|div|span|font|del|strike|sup|sub|ul|ol|li|"
    r"blockquote|h[1-6]|table|thead|tbody|tr|th|td|caption|img|details|summary|mx-reply|"
    r"html|body)\b[^<>]*>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_SPACES = re.compile(r"[ \t\xa0]+")


def matrix_to_user_link(user_id: str) -> str:
    """The matrix.to permalink of a user, the form clients turn into a pill."""
    return MATRIX_TO_PREFIX + quote(user_id, safe="@:")


def matrix_to_target(href: str) -> str | None:
    """The user, room alias or room id a mention link points at; None for anything else.

    Accepts ``https://matrix.to/#/…`` permalinks and ``matrix:u/…`` URIs; links to a
    single event are not mentions.
    """
    href = href.strip()
    if href.startswith(MATRIX_TO_PREFIX):
        target = unquote(href[len(MATRIX_TO_PREFIX) :].partition("?")[0])
        if target[:1] in {"@", "#", "!"} and "/" not in target and ":" in target:
            return target
        return None
    if href.lower().startswith("matrix:"):
        kind, _, rest = href[len("matrix:") :].partition("?")[0].partition("/")
        sigil = _MATRIX_URI_KINDS.get(kind)
        rest = unquote(rest)
        if sigil and rest and "/" not in rest and ":" in rest:
            return sigil + rest
    return None


def pills_to_names(html: str) -> str:
    """Replace user and room pills by the text they show; other links stay links."""
    tree = parse_fragment(html)
    for link in list(iter_elements(tree, "a")):
        target = matrix_to_target(link.attrs.get("href", ""))
        if target is not None:
            shown = _SPACES.sub(" ", text_content(link)).strip()
            replace(link, [Text(shown or target)])
    return serialize(tree)


def mentioned_user_ids(html: str) -> list[str]:
    """User ids of the pills in ``html``, first mention first, each once (for m.mentions)."""
    found: dict[str, None] = {}
    for link in iter_elements(parse_fragment(html), "a"):
        target = matrix_to_target(link.attrs.get("href", ""))
        if target is not None and target.startswith("@"):
            found[target] = None
    return list(found)


def names_to_pills(text_or_html: str, members: Mapping[str, str]) -> str:
    """Turn ``@Full Name`` mentions of members into pills; returns HTML.

    ``members`` maps display name to Matrix user id. Matching ignores case; a name shared
    by two people is left as text. Text already inside a link or code is not touched.
    Input that contains HTML tags or entities is read as HTML, anything else as plain
    text (escaped, line breaks kept as ``<br>``).
    """
    tree = parse_fragment(text_or_html) if looks_like_html(text_or_html) else _text_tree(text_or_html)
    members_by_key = _unambiguous_members(members)
    if members_by_key:
        pattern = _mention_pattern(_SPACES.sub(" ", name).strip() for name in members)
        rewrite_text(
            tree,
            lambda text: _pill_mentions(text, pattern, members_by_key),
            NOT_MENTIONABLE_INSIDE,
        )
    return serialize(tree)


def looks_like_html(text: str) -> bool:
    """True when ``text`` has a formatting tag or an entity; ``<a@b.org>`` is not a tag."""
    return bool(_HTML_TAG.search(text) or _ENTITY.search(text))


def _unambiguous_members(members: Mapping[str, str]) -> dict[str, tuple[str, str] | None]:
    """Case-folded name to (display name, user id); None where two people share it."""
    by_key: dict[str, tuple[str, str] | None] = {}
    for name, user_id in members.items():
        shown = _SPACES.sub(" ", name).strip()
        if not shown or not user_id:
            continue
        key = shown.casefold()
        if key not in by_key:
            by_key[key] = (shown, user_id)
        else:
            existing = by_key[key]
            if existing is not None and existing[1] != user_id:
                by_key[key] = None
    return by_key


def _mention_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """``@`` and one of the names, longest first, spaces matching any run of blanks.

    Ambiguous names stay in the pattern so that "@Ana Souza" (two people) is never read
    as "@Ana" (one person) followed by "Souza".
    """
    longest_first = sorted({n for n in names if n}, key=len, reverse=True)
    alternatives = "|".join(r"[ \t\xa0]+".join(map(re.escape, name.split(" "))) for name in longest_first)
    return re.compile(rf"(?<![\w@])@({alternatives})(?!\w)", re.IGNORECASE)


def _pill_mentions(
    text: str, pattern: re.Pattern[str], members_by_key: dict[str, tuple[str, str] | None]
) -> list[Node] | None:
    spans: list[tuple[int, int, Node]] = []
    for match in pattern.finditer(text):
        member = members_by_key.get(_SPACES.sub(" ", match.group(1)).casefold())
        if member is not None:
            spans.append((match.start(), match.end(), _pill(*member)))
    return splice_text(text, spans)


def _pill(shown: str, user_id: str) -> Element:
    pill = Element("a", {"href": matrix_to_user_link(user_id)})
    pill.append(Text(shown))
    return pill


def _text_tree(text: str) -> Element:
    root = Element(ROOT_TAG)
    for index, line in enumerate(scrub_surrogates(text).replace("\r\n", "\n").split("\n")):
        if index:
            root.append(Element("br"))
        if line:
            root.append(Text(line))
    return root
