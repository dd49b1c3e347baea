"""Archive addresses: one form everywhere, whatever the base URL's trailing slash or the slug's characters."""

from __future__ import annotations

from bridge.core.links import (
    community_url,
    login_url,
    practices_url,
    report_url,
    search_url,
    subscribe_url,
    tag_url,
    thread_url,
)

BASE = "https://icop.example.com/"


def test_paths_follow_the_web_contract() -> None:
    assert community_url(BASE, "pm") == "https://icop.example.com/c/pm/"
    assert thread_url(BASE, "pm", 42) == "https://icop.example.com/c/pm/t/42"
    assert tag_url(BASE, "pm", "estimation") == "https://icop.example.com/c/pm/tag/estimation"
    assert practices_url(BASE, "pm") == "https://icop.example.com/c/pm/practices"
    assert subscribe_url(BASE, "pm") == "https://icop.example.com/c/pm/subscribe"
    assert report_url(BASE, "pm") == "https://icop.example.com/c/pm/report"
    assert login_url(BASE) == "https://icop.example.com/login"


def test_base_url_with_a_path_and_no_trailing_slash() -> None:
    assert thread_url("https://example.com/icop", "pm", 7) == "https://example.com/icop/c/pm/t/7"


def test_queries_and_tags_are_escaped() -> None:
    assert search_url(BASE, "pm", '"risk log" tag:x&y') == (
        "https://icop.example.com/c/pm/search?q=%22risk+log%22+tag%3Ax%26y"
    )
    assert tag_url(BASE, "pm", "a/b") == "https://icop.example.com/c/pm/tag/a%2Fb"
