"""The one Jinja2 environment of the bridge: relay mail, notices, digests and archive pages.

Every template is rendered through here so the safety settings are decided once: HTML templates are
autoescaped (what a stranger wrote can only reach a page as text, or as ``Markup`` the sanitiser
produced), every template is strict about undefined variables (a misspelt name fails a test instead
of sending a blank), and text templates are not escaped (``&`` stays ``&`` in a plain-text mail);
Markdown templates (``.md.j2``) are not HTML-escaped either, their user text goes through ``| md``.
Templates come in pairs, ``NAME.txt.j2`` and ``NAME.html.j2``, rendered together by ``render_pair``.

The templates live in the top-level ``templates/`` folder of the repository. An installed package may
carry them as package data (``bridge/templates``) or as shared data (``<prefix>/share/icop-bridge``);
all three places are looked up, in that order after an explicit directory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
SHARE_NAME = "icop-bridge"
SIGNATURE_SEPARATOR = "-- "


class TemplatesNotFound(RuntimeError):
    """No templates folder in any of the places an installation may have put it."""


def find_template_dir() -> Path | None:
    """The templates folder of a checkout or a data-files install; None when neither has one."""
    candidates = (
        Path(__file__).resolve().parent.parent / "templates",
        Path(sys.prefix) / "share" / SHARE_NAME / "templates",
    )
    return next((path for path in candidates if path.is_dir()), None)


def _default_loader() -> BaseLoader:
    packaged = resources.files("bridge").joinpath("templates")
    if packaged.is_dir():
        return PackageLoader("bridge", "templates")
    found = find_template_dir()
    if found is None:
        raise TemplatesNotFound(
            "no templates folder: looked in the bridge package, next to it, and in "
            f"{Path(sys.prefix) / 'share' / SHARE_NAME}"
        )
    return FileSystemLoader(found)


def format_size(size: int) -> str:
    """A file size as people read it: 930 bytes, 12 KB, 3.4 MB."""
    if size < 1000:
        return f"{size} bytes" if size != 1 else "1 byte"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!~])")


def markdown_text(value: str) -> str:
    """``value`` as literal text in a Markdown document: its markup characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


FILTERS: Mapping[str, Callable[..., Any]] = {"filesize": format_size, "md": markdown_text}


class Renderer:
    """Owns the Jinja2 environment; cheap to share, safe to use from any task (templates are cached
    and rendering has no side effects)."""

    def __init__(self, template_dir: Path | str | None = None) -> None:
        loader = FileSystemLoader(template_dir) if template_dir is not None else _default_loader()
        self.environment = Environment(
            loader=loader,
            autoescape=select_autoescape(
                enabled_extensions=("html.j2", "html", "htm", "xml.j2"),
                disabled_extensions=("txt.j2", "txt", "md.j2"),
                default_for_string=True,
                default=True,
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.environment.filters.update(FILTERS)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render one template by its full name (``email/post.txt.j2``)."""
        return self.environment.get_template(name).render(context)

    def render_pair(self, name: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """``(text, html)`` of the pair ``NAME.txt.j2`` / ``NAME.html.j2`` with one context."""
        text = self.render(name + TEXT_SUFFIX, context)
        html = self.render(name + HTML_SUFFIX, context)
        return _tidy_text(text), html


def _tidy_text(text: str) -> str:
    """Trailing spaces off every line but the signature separator ``-- `` (readers of flowed text
    would take them for soft breaks), and exactly one final newline."""
    lines = [line if line == SIGNATURE_SEPARATOR else line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"
