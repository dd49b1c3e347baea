"""The catalogue document: grouped by tag with each practice described once, escaped everywhere,
self-contained; and as a person sees it, in headless Chromium on screen and printed."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bridge.archive.catalogue import catalogue_view, write_catalogue
from bridge.core.model import Channel, PracticeState, TagSource
from bridge.core.tags.taxonomy import TagDefinition, Taxonomy
from bridge.store import AppliedTag, CatalogueEntry, PracticeRecord, StoryRecord
from tests.fixtures.required import missing

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TAXONOMY = Taxonomy(
    [
        TagDefinition("estimation", "Estimation", "Sizing work and forecasting."),
        TagDefinition("risk", "Risk management"),
    ]
)
ARTEFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artefacts" / "catalogue"


def entry(
    number: int,
    title: str,
    tags: list[str],
    summary: str = "",
    contributors: tuple[str, ...] = (),
    stories: tuple[str, ...] = (),
) -> CatalogueEntry:
    practice = PracticeRecord(
        id=number,
        community_id=1,
        thread_id=100 + number,
        title=title,
        summary=summary,
        state=PracticeState.CONFIRMED,
        proposed_by=None,
        confirmed_by="@kenji:x",
        created_at=T0,
        confirmed_at=datetime(2026, 4, 1, tzinfo=UTC),
        updated_at=T0,
    )
    applied = tuple(AppliedTag(t, t.title(), TagSource.HASHTAG, None, T0) for t in tags)
    told = tuple(
        StoryRecord(
            n, 1, 100 + number, 500 + n, "Siobhán Murphy", "s@x.ie", None, Channel.EMAIL, text, T0, title
        )
        for n, text in enumerate(stories)
    )
    return CatalogueEntry(
        practice, f"Subject {number}", applied, contributors, 4, T0, datetime(2026, 3, 20, tzinfo=UTC), told
    )


ENTRIES = [
    entry(
        1,
        "Planning poker <script>alert(1)</script>",
        ["risk", "estimation"],
        "Everyone **estimates at once**, then talks.\n\n<b>raw</b> stays text.",
        ("Ana Souza", "Kenji *Watanabe*"),
        ("Our estimates were off by 10% instead of 50% <i>this</i> quarter.",),
    ),
    entry(2, "Reference classes", ["estimation"], "Compare with finished projects."),
    entry(3, "Async stand-ups", ["kanban"]),
    entry(4, "Blameless reviews", []),
]


def view() -> object:
    return catalogue_view(
        ENTRIES,
        community="Project Management Practice",
        description="Leads compare how they plan.",
        slug="pm-practice",
        base_url="https://icop.example.com",
        taxonomy=TAXONOMY,
        now=datetime(2026, 5, 1, tzinfo=UTC),
    )


def test_sections_follow_the_taxonomy_then_free_tags_then_untagged() -> None:
    catalogue = view()
    sections = [
        (s.label, [p.title for p in s.practices], [p.title for p in s.see_also]) for s in catalogue.sections
    ]  # type: ignore[attr-defined]
    assert sections == [
        ("Estimation", ["Planning poker <script>alert(1)</script>", "Reference classes"], []),
        ("Risk management", [], ["Planning poker <script>alert(1)</script>"]),
        ("Kanban", ["Async stand-ups"], []),
        ("Other practices", ["Blameless reviews"], []),
    ]


def test_the_html_is_self_contained_and_escapes_what_people_wrote(tmp_path: Path) -> None:
    html_path, md_path = write_catalogue(view(), tmp_path / "out")  # type: ignore[arg-type]
    html = html_path.read_text()
    assert "<script>" not in html
    assert "Planning poker &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>estimates at once</strong>" in html  # the summary's Markdown
    assert "&lt;b&gt;raw&lt;/b&gt; stays text" in html
    assert not re.search(r"<(link|script|img|iframe)\b|\ssrc=|@import|url\(", html)
    assert 'href="https://icop.example.com/c/pm-practice/t/101"' in html
    assert "Contributors: Ana Souza, Kenji *Watanabe*" in html
    assert "Discussed 2026-03-02 to 2026-03-20 · 4 posts · confirmed 2026-04-01" in html
    assert "1 value story: how it helped" in html
    assert (
        "<blockquote>Our estimates were off by 10% instead of 50% &lt;i&gt;this&lt;/i&gt; quarter."
        "<cite>Siobhán Murphy, 2026-03-02</cite></blockquote>"
    ) in html
    markdown = md_path.read_text()
    assert "### Planning poker \\<script\\>alert(1)\\</script\\>" in markdown
    assert "- Contributors: Ana Souza, Kenji \\*Watanabe\\*" in markdown
    assert "- Discussion: [Subject 1](https://icop.example.com/c/pm-practice/t/101)" in markdown
    assert "See also *Planning poker \\<script\\>alert(1)\\</script\\>*, under Estimation." in markdown
    assert "Everyone **estimates at once**, then talks." in markdown
    assert "- Value stories (1): how it helped" in markdown
    assert "  > Our estimates were off by 10% instead of 50% \\<i\\>this\\</i\\> quarter." in markdown
    assert "  > — Siobhán Murphy, 2026-03-02" in markdown


def test_an_empty_catalogue_says_how_practices_are_made(tmp_path: Path) -> None:
    empty = catalogue_view(
        [], community="C", description="", slug="c", base_url="https://x", taxonomy=TAXONOMY, now=T0
    )
    html_path, md_path = write_catalogue(empty, tmp_path)
    assert "!icop practice TITLE" in html_path.read_text()
    assert "0 practices as of 2026-03-02" in md_path.read_text()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("chromium (scripts/bootstrap installs it)")
    return found


def test_the_catalogue_in_chromium_on_screen_and_printed(tmp_path: Path) -> None:
    """The rendered page has every section and entry; the screenshot and the PDF are kept in
    var/test-artefacts/catalogue for a person to look at."""
    chromium = _chromium()
    html_path, _ = write_catalogue(view(), tmp_path / "out")  # type: ignore[arg-type]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = html_path.as_uri()
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert dom.count("<article") == 4
    assert dom.count("<h2>") == 4
    assert "<script>alert" not in dom
    screenshot, pdf = ARTEFACTS / "catalogue.png", ARTEFACTS / "catalogue.pdf"
    for path in (screenshot, pdf):
        path.unlink(missing_ok=True)
    subprocess.run(
        [*flags, "--window-size=1000,1600", f"--screenshot={screenshot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    subprocess.run(
        [*flags, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert screenshot.stat().st_size > 20_000  # a page of text, not a blank
