"""Matrix mentions: pills to names for mail, names to pills for the room."""

import pytest

from bridge.formatting.pills import (
    matrix_to_target,
    matrix_to_user_link,
    mentioned_user_ids,
    names_to_pills,
    pills_to_names,
)

MEMBERS = {
    "Ana Souza": "@ana:example.com",
    "Bo Chen": "@bo:example.com",
    "Ana": "@ana.lima:example.org",
    "Chris": "@chris:example.com",
    "chris": "@chris2:example.net",
    "Jürgen Groß": "@juergen:example.de",
}


def pill(user_id: str, name: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{name}</a>'


@pytest.mark.parametrize(
    ("user_id", "link"),
    [
        ("@ana:example.com", "https://matrix.to/#/@ana:example.com"),
        ("@ana/ops+x:example.com", "https://matrix.to/#/@ana%2Fops%2Bx:example.com"),
    ],
)
def test_user_link_is_a_matrix_to_permalink(user_id: str, link: str) -> None:
    assert matrix_to_user_link(user_id) == link


@pytest.mark.parametrize(
    ("href", "target"),
    [
        ("https://matrix.to/#/@ana:example.com", "@ana:example.com"),
        ("https://matrix.to/#/%40ana%3Aexample.com", "@ana:example.com"),
        ("https://matrix.to/#/#pm-practice:example.com?via=example.com", "#pm-practice:example.com"),
        ("https://matrix.to/#/!abc:example.com", "!abc:example.com"),
        ("matrix:u/ana:example.com?action=chat", "@ana:example.com"),
        ("matrix:r/pm-practice:example.com", "#pm-practice:example.com"),
        ("https://matrix.to/#/!abc:example.com/$event", None),
        ("https://matrix.to/#/@nohomeserver", None),
        ("https://example.com/#/@ana:example.com", None),
        ("matrix:roomid/abc:example.com/e/event:example.com", None),
    ],
)
def test_mention_targets(href: str, target: str | None) -> None:
    assert matrix_to_target(href) == target


def test_user_and_room_pills_become_their_text() -> None:
    html = (
        f"<p>Thanks {pill('@ana:example.com', 'Ana Souza')}, see "
        '<a href="https://matrix.to/#/#pm:example.com">#pm:example.com</a> and '
        '<a href="https://e.org">the notes</a></p>'
    )
    assert pills_to_names(html) == (
        '<p>Thanks Ana Souza, see #pm:example.com and <a href="https://e.org">the notes</a></p>'
    )


def test_pill_without_text_falls_back_to_the_id() -> None:
    assert pills_to_names('<a href="https://matrix.to/#/@ana:example.com"></a>') == "@ana:example.com"


def test_event_permalinks_stay_links() -> None:
    html = '<a href="https://matrix.to/#/!r:example.com/$ev">that message</a>'
    assert pills_to_names(html) == html


def test_pill_text_is_escaped_when_it_becomes_text() -> None:
    html = '<a href="https://matrix.to/#/@x:e.com">&lt;b&gt;Mallory&lt;/b&gt;</a>'
    assert pills_to_names(html) == "&lt;b&gt;Mallory&lt;/b&gt;"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Hi @Ana Souza!", f"Hi {pill('@ana:example.com', 'Ana Souza')}!"),
        ("hi @ana souza", f"hi {pill('@ana:example.com', 'Ana Souza')}"),
        ("@Ana can you?", f"{pill('@ana.lima:example.org', 'Ana')} can you?"),
        (
            "@Bo Chen and @Ana Souza",
            f"{pill('@bo:example.com', 'Bo Chen')} and {pill('@ana:example.com', 'Ana Souza')}",
        ),
        ("@Jürgen Groß", pill("@juergen:example.de", "Jürgen Groß")),
        ("@Chris (two people)", "@Chris (two people)"),
        ("@Anastasia is not Ana", "@Anastasia is not Ana"),
        ("mail ana@Bo Chen", "mail ana@Bo Chen"),
        ("no mention of Ana Souza", "no mention of Ana Souza"),
        ("a < b & @Bo Chen", f"a &lt; b &amp; {pill('@bo:example.com', 'Bo Chen')}"),
        ("line one\n@Bo Chen", f"line one<br>{pill('@bo:example.com', 'Bo Chen')}"),
        (
            "write to <ana@example.org> @Bo Chen",
            f"write to &lt;ana@example.org&gt; {pill('@bo:example.com', 'Bo Chen')}",
        ),
    ],
)
def test_names_become_pills_in_plain_text(text: str, html: str) -> None:
    assert names_to_pills(text, MEMBERS) == html


def test_a_longer_ambiguous_name_never_pings_a_shorter_one() -> None:
    members = {"Ana": "@ana:e.com", "Ana Souza": "@ana1:e.com", "ana souza": "@ana2:e.com"}
    assert names_to_pills("@Ana Souza", members) == "@Ana Souza"


def test_same_person_listed_twice_is_not_ambiguous() -> None:
    members = {"Bo Chen": "@bo:e.com", "bo chen": "@bo:e.com"}
    assert names_to_pills("@bo chen", members) == pill("@bo:e.com", "Bo Chen")


def test_html_input_is_read_as_html_and_links_and_code_are_left_alone() -> None:
    html = (
        "<p>@Bo Chen, see <a href='https://e.org'>@Ana Souza</a> "
        "<code>@Ana Souza</code></p><pre>@Bo Chen</pre>"
    )
    assert names_to_pills(html, MEMBERS) == (
        f'<p>{pill("@bo:example.com", "Bo Chen")}, see <a href="https://e.org">@Ana Souza</a> '
        "<code>@Ana Souza</code></p><pre>@Bo Chen</pre>"
    )


def test_no_members_returns_the_input_as_html() -> None:
    assert names_to_pills("@Someone: 1 < 2", {}) == "@Someone: 1 &lt; 2"


def test_mentioned_user_ids_lists_each_user_pill_once_in_order() -> None:
    html = (
        f"{pill('@bo:example.com', 'Bo')} {pill('@ana:example.com', 'Ana')} "
        f"{pill('@bo:example.com', 'Bo again')} "
        '<a href="https://matrix.to/#/#room:example.com">room</a>'
    )
    assert mentioned_user_ids(html) == ["@bo:example.com", "@ana:example.com"]


def test_round_trip_from_names_to_pills_and_back() -> None:
    text = "Thanks @Ana Souza and @Bo Chen"
    assert pills_to_names(names_to_pills(text, MEMBERS)) == "Thanks Ana Souza and Bo Chen"
