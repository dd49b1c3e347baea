"""A realistic list archive for the import benchmark, generated (never committed) under ``var/``.

Shaped like the mail of a working list: threads of one to a dozen messages (a reply quotes its parent
and carries In-Reply-To and References), a few replies whose parent is missing, bodies of a few lines
to a few screens (log-normal), and the MIME mix of real clients: plain text (most of it, often
``format=flowed``), ``multipart/alternative`` with HTML, HTML only, small attachments, and charsets
beyond UTF-8 (ISO-8859-1 quoted-printable, KOI8-R base64, Shift_JIS, undeclared Windows-1252). The
same seed gives the same file.
"""

from __future__ import annotations

import base64
import math
import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

_WORD_TEXT = (
    "estimate plan project team sprint review risk budget scope stakeholder backlog velocity "
    "forecast retrospective meeting deadline milestone dependency resource delivery quality client "
    "feedback process practice template workshop lesson learned agile kanban scrum waterfall hybrid "
    "remote the a of to and in we our it is that for on with this was as be are have at by from "
    "they you "
)
WORDS = tuple(_WORD_TEXT.split())
NAMES = [
    ("Ana Souza", "ana@example.org"),
    ("Bo Lind", "bo@example.org"),
    ("Kenji Watanabe", "kenji@example.jp"),
    ("Siobhán Murphy", "siobhan@example.ie"),
    ("Marcus Webb", "marcus@example.com"),
    ("Lena Fischer", "lena@example.de"),
    ("José García", "jose@example.es"),
    ("Ivan Petrov", "ivan@example.ru"),
    ("Priya Nair", "priya@example.in"),
    ("Zoe Martin", "zoe@example.fr"),
]
LIST = "pm-practice@lists.example.com"


def _words(rng: random.Random, count: int) -> str:
    # Zipf-ish: the common words come up far more often than the rare ones.
    picked = [WORDS[min(len(WORDS) - 1, int(rng.paretovariate(1.2)) - 1)] for _ in range(count)]
    return " ".join(picked)


def _paragraphs(rng: random.Random) -> str:
    size = max(8, int(math.exp(rng.gauss(4.3, 0.9))))  # words: median ~75, a long tail of long mails
    out, left = [], size
    while left > 0:
        n = min(left, rng.randint(15, 60))
        text = _words(rng, n).capitalize() + "."
        out.append("\n".join(text[i : i + 72] for i in range(0, len(text), 72)))
        left -= n
    return "\n\n".join(out)


def _message(
    rng: random.Random, number: int, when: datetime, parent: tuple[str, str, str] | None
) -> EmailMessage:
    name, address = NAMES[rng.randrange(len(NAMES))]
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = LIST
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<m{number}.{rng.getrandbits(32):x}@{address.split('@')[1]}>"
    body = _paragraphs(rng)
    if parent is not None:
        parent_id, references, subject = parent
        message["Subject"] = subject if subject.startswith("Re:") else "Re: " + subject
        message["In-Reply-To"] = parent_id
        message["References"] = references
        body += f"\n\nOn {when:%a, %d %b %Y}, someone wrote:\n> " + _words(rng, 30) + "\n> " + _words(rng, 20)
    else:
        message["Subject"] = "[pm] " + _words(rng, rng.randint(3, 8)).capitalize()
    body += "\n\n-- \n" + name
    kind = rng.random()
    if kind < 0.05:
        charset, cte, text = rng.choice(
            [
                ("iso-8859-1", "quoted-printable", "Réunion à déplacer: é è à ç.\n"),
                ("koi8-r", "base64", "Оценка сроков проекта.\n"),
                ("shift_jis", "base64", "見積もりの方法について。\n"),
            ]
        )
        content = (text + body).encode(charset, "replace").decode(charset)
        message.set_content(content, charset=charset, cte=cte)
    elif kind < 0.60:
        message.set_content(body)
    elif kind < 0.80:
        message.set_content(body)
        html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        message.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
    elif kind < 0.88:
        html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        message.set_content(f"<html><body><div>{html}</div></body></html>", subtype="html")
    else:
        message.set_content(body)
        size = int(math.exp(rng.gauss(9.5, 0.8)))  # ~13 kB median
        data = rng.randbytes(size)
        maintype, subtype, filename = rng.choice(
            [("application", "pdf", "plan.pdf"), ("image", "png", "board.png"), ("text", "csv", "risks.csv")]
        )
        if maintype == "text":
            message.add_attachment(base64.b64encode(data).decode(), subtype=subtype, filename=filename)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def generate(path: Path, count: int, *, seed: int = 9) -> Path:
    """Write ``count`` messages to ``path`` (an mbox) unless it is already there; returns the path."""
    if path.exists():
        return path
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    when = datetime(2012, 1, 2, 8, 0, tzinfo=UTC)
    open_threads: list[list[tuple[str, str, str]]] = []
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        for number in range(count):
            when += timedelta(minutes=rng.expovariate(1 / 45))
            parent = None
            if open_threads and rng.random() < 0.7:
                thread = rng.choice(open_threads[-40:])
                parent = rng.choice(thread[-3:])
                if rng.random() < 0.02:  # a parent the archive never had
                    parent = (f"<lost{number}@example.org>", f"<lost{number}@example.org>", parent[2])
            message = _message(rng, number, when, parent)
            entry = (
                message["Message-ID"],
                f"{parent[1]} {message['Message-ID']}" if parent else message["Message-ID"],
                str(message["Subject"]),
            )
            if parent is None:
                open_threads.append([entry])
            else:
                next((t for t in open_threads if any(e[0] == parent[0] for e in t)), open_threads[-1]).append(
                    entry
                )
            out.write(f"From {message['From'].addresses[0].addr_spec} {when:%a %b %d %H:%M:%S %Y}\n".encode())
            out.write(message.as_bytes().replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n\n")
            if len(open_threads) > 200:
                del open_threads[:100]
    partial.rename(path)
    return path
