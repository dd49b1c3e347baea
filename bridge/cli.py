"""The ``icop`` command line: check a config, run the daemon, manage the store.

Exit codes (stable, documented in the README): 0 success; 1 a runtime failure (a server unreachable in
``check --online``, the daemon stopped on an error); 2 a usage or config error; 3 the database schema is
newer than this code or not yet upgraded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from bridge import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_SCHEMA = 3

CONFIG_ENV = "ICOP_CONFIG"

if TYPE_CHECKING:
    from bridge.config import LoadedConfig


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line of stderr (exit 2), as scripts expect of every error;
    subcommand parsers are made of this class too."""

    def error(self, message: str) -> NoReturn:
        line = " ".join(f"{self.prog}: error: {message}".split())
        self.exit(EXIT_CONFIG, f"{line} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="icop",
        description="Bridge a community's Matrix room and email list into one conversation.",
    )
    parser.add_argument("--version", action="version", version=f"icop-bridge {__version__}")
    parser.add_argument(
        "--config",
        default=os.environ.get(CONFIG_ENV),
        help=f"config file (TOML); default: ${CONFIG_ENV}",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="override the config's logging.level",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate the config (exit 2 on errors)")
    check.add_argument(
        "--online",
        action="store_true",
        help="also connect to the homeserver, IMAP and SMTP and check credentials and rooms",
    )
    commands.add_parser("run", help="run the bridge daemon until SIGTERM/SIGINT")

    db = commands.add_parser("db", help="manage the store")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="create the database or apply pending migrations")
    db_commands.add_parser("version", help="show the schema version of the database and the code")

    outbox = commands.add_parser("outbox", help="inspect and retry outgoing deliveries")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = outbox_commands.add_parser("list", help="list deliveries (dead ones by default)")
    listing.add_argument(
        "--state",
        default="dead",
        choices=["pending", "sending", "sent", "dead", "cancelled", "all"],
        help="which deliveries to list (default: dead)",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many rows (default 100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    retry = outbox_commands.add_parser("retry", help="send dead deliveries again")
    retry.add_argument("ids", nargs="*", type=int, help="delivery ids (default: every dead delivery)")

    held = commands.add_parser("held", help="posts held for a convener: list, approve, reject, ban")
    held_commands = held.add_subparsers(dest="held_command", required=True, metavar="ACTION")
    held_list = held_commands.add_parser("list", help="list the held posts")
    held_list.add_argument("--community", metavar="SLUG", help="only this community")
    held_list.add_argument("--json", action="store_true", help="one JSON object per line")
    held_commands.add_parser("approve", help="relay a held post").add_argument("id", type=int)
    for action, what in (("reject", "reject a held post"), ("ban", "reject it and refuse its sender")):
        decide = held_commands.add_parser(action, help=what)
        decide.add_argument("id", type=int, help="the held post's number (from icop held list)")
        decide.add_argument("--reason", help="mailed to a sender who wrote by mail")

    from bridge import parked_commands

    parked_commands.add_parser(commands)

    members = commands.add_parser("members", help="list a community's members; reset bounce scores")
    members.add_argument("--community", metavar="SLUG", help="the community (required)")
    members.add_argument("--json", action="store_true", help="one JSON object per line")
    members_commands = members.add_subparsers(dest="members_command", metavar="ACTION")
    reset = members_commands.add_parser(
        "reset-bounces", help="bounce score to 0; resume list mail suspended by bounces"
    )
    reset.add_argument("email", help="the member's address")
    reset.add_argument("--community", metavar="SLUG", default=argparse.SUPPRESS, help="the community")
    _archive_commands(commands)
    _convener_commands(commands)
    _import_parser(commands)
    search = commands.add_parser("search", help="search the archive (the query language is in the README)")
    search.add_argument("query", metavar="QUERY", help="e.g. '\"risk register\" from:ana after:2024-01-01'")
    search.add_argument("--community", metavar="SLUG", help="only this community (default: all)")
    search.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="at most N threads (default 20)"
    )
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    digest = commands.add_parser("digest", help="preview a reader's digest; send the digests that are due")
    digest_commands = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    preview = digest_commands.add_parser("preview", help="the digest a reader would get now")
    preview.add_argument("--community", metavar="SLUG", required=True, help="the community")
    preview.add_argument("--reader", metavar="EMAIL", required=True, help="the reader's address")
    preview.add_argument("--out", metavar="FILE", help="write the whole message (.eml) instead of its text")
    preview.add_argument("--now", metavar="ISO8601", help="as if it were this time (with Z or an offset)")
    send_due = digest_commands.add_parser("send-due", help="send every digest due now, once")
    send_due.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    send_due.add_argument("--now", metavar="ISO8601", help="as if it were this time (with Z or an offset)")
    return parser


_GLOBAL_VALUED = frozenset({"--config", "--log-level"})
_SEARCH_VALUED = frozenset({"--community", "--limit"})
_SEARCH_FLAGS = frozenset({"--json", "-h", "--help"})


def _search_query_as_operand(argv: list[str]) -> list[str]:
    """``icop search -budget`` means the query ``-budget`` (the query language's exclusion), not an
    unknown option: every word after ``search`` that is none of its options is moved behind ``--``."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if argv[index] in _GLOBAL_VALUED else 1
    if index >= len(argv) or argv[index] != "search":
        return argv
    options: list[str] = []
    operands: list[str] = []
    rest = argv[index + 1 :]
    position = 0
    while position < len(rest):
        word = rest[position]
        if word == "--":
            operands.extend(rest[position + 1 :])
            break
        if word in _SEARCH_VALUED:
            options.extend(rest[position : position + 2])
            position += 2
            continue
        if word in _SEARCH_FLAGS or word.partition("=")[0] in _SEARCH_VALUED:
            options.append(word)
        else:
            operands.append(word)
        position += 1
    return [*argv[: index + 1], *options, "--", *operands]


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _convener_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``icop report``, ``icop stories`` and ``icop meetings suggest``: the convener's view of the
    community."""

    report = commands.add_parser("report", help="a community's value indicators over a period")
    report.add_argument("--community", metavar="SLUG", required=True, help="the community")
    report.add_argument(
        "--since", metavar="DATE", help="from DATE 00:00 UTC (default: 30 days before --until)"
    )
    report.add_argument("--until", metavar="DATE", help="up to DATE 00:00 UTC, excluded (default: now)")
    report.add_argument("--format", choices=["table", "json", "csv"], default="table", help="default: table")

    stories = commands.add_parser("stories", help="the value stories members told, newest first")
    stories.add_argument("--community", metavar="SLUG", required=True, help="the community")
    stories.add_argument("--since", metavar="DATE", help="told on or after DATE 00:00 UTC")
    stories.add_argument("--until", metavar="DATE", help="told before DATE 00:00 UTC")
    stories.add_argument("--json", action="store_true", help="one JSON object per line")

    audit = commands.add_parser(
        "audit", help="moderation, tagging, practice and subscription actions: who did what, when"
    )
    audit.add_argument("--community", metavar="SLUG", required=True, help="the community")
    audit.add_argument("--since", metavar="DATE", help="from DATE 00:00 UTC")
    audit.add_argument("--until", metavar="DATE", help="before DATE 00:00 UTC")
    audit.add_argument("--action", metavar="ACTION", help="only this action, e.g. tag.add or post.approve")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")

    meetings = commands.add_parser("meetings", help="meeting times fair to every time zone")
    meetings_commands = meetings.add_subparsers(dest="meetings_command", required=True, metavar="ACTION")
    suggest = meetings_commands.add_parser("suggest", help="rank meeting slots by fairness, best first")
    suggest.add_argument("--community", metavar="SLUG", required=True, help="the community")
    suggest.add_argument("--duration", metavar="MINUTES", type=int, default=60, help="default 60")
    suggest.add_argument("--json", action="store_true", help="one JSON object per line")
    suggest.add_argument(
        "--from", dest="start", metavar="DATE", help="first day to consider (default: tomorrow, UTC)"
    )
    suggest.add_argument("--days", type=int, default=7, choices=range(1, 29), metavar="N", help="days (7)")
    suggest.add_argument("--limit", type=int, default=10, metavar="N", help="slots to list (10)")


def _archive_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``icop tags``, ``icop practices`` and ``icop export catalogue`` (bridge.archive.commands)."""
    tags = commands.add_parser("tags", help="a community's tags with their thread counts; file threads")
    tags.add_argument("--community", metavar="SLUG", help="the community (required)")
    tags.add_argument("--json", action="store_true", help="one JSON object per line")
    tags_commands = tags.add_subparsers(dest="tags_command", metavar="ACTION")
    for action, what in (("add", "file a thread under tags"), ("remove", "take tags off a thread")):
        change = tags_commands.add_parser(action, help=what)
        change.add_argument("thread", type=int, help="the thread's number (as in its archive URL)")
        change.add_argument("tags", nargs="+", metavar="TAG")
        change.add_argument("--community", metavar="SLUG", default=argparse.SUPPRESS, help="the community")

    practices = commands.add_parser("practices", help="a community's practices; confirm, summarise, remove")
    practices.add_argument("--community", metavar="SLUG", help="the community (required)")
    practices.add_argument(
        "--state", default="all", choices=["proposed", "confirmed", "all"], help="which ones (default: all)"
    )
    practices.add_argument("--json", action="store_true", help="one JSON object per line")
    practice_commands = practices.add_subparsers(dest="practices_command", metavar="ACTION")
    confirm = practice_commands.add_parser(
        "confirm", help="make a thread a confirmed practice (or rename it)"
    )
    confirm.add_argument("thread", type=int)
    confirm.add_argument("--title", help="its title (default: the proposal's, else the thread's subject)")
    summary = practice_commands.add_parser("set-summary", help="write a practice's summary")
    summary.add_argument("thread", type=int)
    source = summary.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the summary (Markdown)")
    source.add_argument("--file", help="a file holding the summary (Markdown); - for standard input")
    remove = practice_commands.add_parser("remove", help="withdraw a practice (the thread stays)")
    remove.add_argument("thread", type=int)
    for sub in (confirm, summary, remove):
        sub.add_argument("--community", metavar="SLUG", default=argparse.SUPPRESS, help="the community")

    export = commands.add_parser("export", help="export from the archive")
    export_commands = export.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    catalogue = export_commands.add_parser("catalogue", help="the practice catalogue as HTML and Markdown")
    catalogue.add_argument("--community", metavar="SLUG", required=True, help="the community")
    catalogue.add_argument(
        "--out", metavar="DIR", required=True, help="folder for index.html and catalogue.md"
    )


def _import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = commands.add_parser(
        "import", help="import a list's mail archives or a room's history as posts (nothing is sent)"
    )
    sources = imports.add_subparsers(dest="import_command", required=True, metavar="SOURCE")
    mbox = sources.add_parser(
        "mbox", help="mbox files: Mailman 2 pipermail (.txt, .txt.gz), Mailman 3 / HyperKitty, Google Groups"
    )
    mbox.add_argument("files", nargs="+", metavar="FILE", help="mbox files, plain or gzip")
    mbox.add_argument("--community", required=True, metavar="SLUG", help="the community to import into")
    mbox.add_argument(
        "--jobs", type=int, metavar="N", help="processes reading mail (default: every core for large imports)"
    )
    matrix = sources.add_parser("matrix", help="the community room's history, through the bridge's account")
    matrix.add_argument("--community", required=True, metavar="SLUG", help="the community to import into")
    matrix.add_argument(
        "--since", metavar="DATE", help="only events from this day on (YYYY-MM-DD, UTC) or this ISO 8601 time"
    )


def _stop_during_start_up(signum: int, frame: object) -> None:
    """SIGTERM before the daemon's own handler is installed (imports, migrations): stop, cleanly."""
    raise SystemExit(EXIT_OK)


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_during_start_up)
    args = build_parser().parse_args(_search_query_as_operand(sys.argv[1:] if argv is None else list(argv)))
    # Imported here, after the SIGTERM handler: loading pydantic and friends takes a moment.
    from bridge.config import ConfigError, load_config

    if not args.config:
        print(f"icop: no config: pass --config PATH or set {CONFIG_ENV}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        loaded = load_config(args.config)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_CONFIG
    try:
        return _dispatch(args, loaded)
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (``icop search … | head``): no traceback; stdout is dropped so the
        # interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from bridge import commands

    if args.command == "check":
        return asyncio.run(commands.check(loaded, online=args.online))
    if args.command == "run":
        return commands.run(loaded, log_level=args.log_level)
    if args.command == "db":
        return asyncio.run(commands.db(loaded, args.db_command))
    if args.command == "outbox":
        return asyncio.run(commands.outbox(loaded, args))
    if args.command == "held":
        return asyncio.run(commands.held(loaded, args))
    if args.command == "members":
        return asyncio.run(commands.members(loaded, args))
    if args.command in ("tags", "practices", "export"):
        from bridge.archive import commands as archive

        run = {"tags": archive.tags, "practices": archive.practices, "export": archive.export}[args.command]
        return asyncio.run(run(loaded, args))
    if args.command in ("report", "stories", "audit", "meetings"):
        from bridge.convener import commands as convener

        run_convener = {
            "report": convener.report,
            "stories": convener.stories,
            "audit": convener.audit,
            "meetings": convener.meetings,
        }[args.command]
        return asyncio.run(run_convener(loaded, args))
    if args.command == "digest":
        return asyncio.run(commands.digest(loaded, args))
    if args.command == "parked":
        return asyncio.run(commands.parked(loaded, args))
    if args.command == "import":
        from bridge.importer.commands import import_command

        return import_command(loaded, args)
    if args.command == "search":
        return asyncio.run(commands.search(loaded, args))
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects unknown ones
