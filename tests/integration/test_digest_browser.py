"""The digest page opened in real headless Chromium (Debian's ``chromium``), light and dark, with the
screenshots kept in ``var/artifacts/browser/`` to be looked at. No driver library: Chromium's own
``--screenshot`` and ``--dump-dom`` switches are enough for a page that needs no interaction."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bridge.digest.render import MAX_HTML_BYTES, DigestRenderer
from tests.fixtures.required import missing
from tests.unit.digest.test_render import LINKS, issue

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        missing("Debian's chromium (scripts/bootstrap installs it)")
    return found


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=True,
    )


def test_the_digest_renders_in_chromium_light_and_dark(tmp_path: Path) -> None:
    rendered = DigestRenderer().render(issue())
    _, html = rendered.personal(name="Siobhán Murphy", address="siobhan@example.ie", links=LINKS)
    assert len(html.encode()) < MAX_HTML_BYTES
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {"light": ARTIFACTS / "digest-light.png", "dark": ARTIFACTS / "digest-dark.png"}
    for scheme, shot in shots.items():
        shot.unlink(missing_ok=True)
        dark = ["--force-dark-mode"] if scheme == "dark" else []
        run_chromium(
            tmp_path / scheme, *dark, f"--screenshot={shot}", "--window-size=700,1900", page.as_uri()
        )
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 20_000  # a page with text on it, not a blank canvas
    assert shots["light"].read_bytes() != shots["dark"].read_bytes()  # the dark-mode rules applied
    dom = run_chromium(tmp_path / "dom", "--dump-dom", page.as_uri()).stdout.decode()
    # What a reader sees is the text, escaped, never markup from a post.
    assert "Top discussions" in dom
    assert "<script>alert(1)</script>" not in dom
    assert "Was this digest useful?" in dom
