"""The one template environment: HTML autoescaped, text not, undefined names fail loudly."""

from pathlib import Path

import jinja2
import pytest
from markupsafe import Markup

from bridge.rendering import Renderer, find_template_dir, format_size


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "t.txt.j2").write_text("Hi {{ name }} & {{ html }}\n-- \n{{ '-- ' }}\n\n\n")
    (tmp_path / "t.html.j2").write_text("<p>Hi {{ name }}</p>{{ html }}")
    return tmp_path


def test_html_is_escaped_and_text_is_not(templates: Path) -> None:
    text, html = Renderer(templates).render_pair("t", {"name": "<b>Ana</b> & Bo", "html": Markup("<i>x</i>")})
    assert html == "<p>Hi &lt;b&gt;Ana&lt;/b&gt; &amp; Bo</p><i>x</i>"
    assert text.startswith("Hi <b>Ana</b> & Bo & <i>x</i>\n")


def test_text_keeps_the_signature_separator_and_ends_with_one_newline(templates: Path) -> None:
    text, _ = Renderer(templates).render_pair("t", {"name": "Ana", "html": ""})
    assert text.endswith("\n-- \n")
    assert text.count("-- \n") == 2


def test_undefined_variables_fail(templates: Path) -> None:
    with pytest.raises(jinja2.UndefinedError):
        Renderer(templates).render_pair("t", {"name": "Ana"})


def test_the_repository_templates_are_found() -> None:
    found = find_template_dir()
    assert found is not None
    assert (found / "email" / "post.txt.j2").is_file()
    assert Renderer().environment.get_template("email/post.html.j2") is not None


@pytest.mark.parametrize(
    ("size", "label"),
    [(1, "1 byte"), (930, "930 bytes"), (12_300, "12 KB"), (3_400_000, "3.4 MB"), (50_000_000_000, "50 GB")],
)
def test_file_sizes(size: int, label: str) -> None:
    assert format_size(size) == label


@pytest.mark.parametrize("name", ["post", "edit", "batch", "notice"])
def test_every_email_template_comes_in_a_pair(name: str) -> None:
    found = find_template_dir()
    assert found is not None
    assert (found / "email" / f"{name}.txt.j2").is_file()
    assert (found / "email" / f"{name}.html.j2").is_file()
