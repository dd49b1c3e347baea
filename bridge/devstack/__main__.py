"""``python -m bridge.devstack``: run the local stack in the foreground, or find stacks left behind.

``up`` starts Synapse, Dovecot and Postfix (or the SMTP relay), prints where to connect, optionally writes
the same as JSON for scripts, and stops everything on Ctrl-C, SIGTERM or SIGHUP. ``leftovers`` lists
stacks whose owner died without stopping them (``--clean`` kills their processes and removes their dirs).

Exit codes: 0 stopped cleanly, 1 the stack did not start, 2 usage, 3 it did not stop cleanly,
4 servers of an abandoned stack still running (``leftovers`` without ``--clean``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from bridge.devstack.mail import MAIL_PASSWORD
from bridge.devstack.process import StackError, kill_processes
from bridge.devstack.stack import SmtpServerKind, Stack, abandoned_stacks

EXIT_START_FAILED = 1
EXIT_STOP_FAILED = 3
EXIT_LEFTOVERS = 4
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class StopRequested(BaseException):
    """Raised in the main thread by a stop signal, so ``finally`` blocks run as on Ctrl-C."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return up(
            json_path=args.json,
            keep=args.keep,
            smtp_server=args.smtp,
            users=args.user,
            password=args.password,
        )
    return leftovers(clean=args.clean)


def up(
    *,
    json_path: Path | None,
    keep: bool,
    smtp_server: SmtpServerKind | None,
    users: list[str],
    password: str,
) -> int:
    """Run the stack until a stop signal."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _request_stop)
    try:
        stack = Stack(smtp_server=smtp_server, keep=True if keep else None).start()
    except StackError as error:
        print(error, file=sys.stderr)
        return EXIT_START_FAILED
    except StopRequested:
        return 0
    try:
        registered = [stack.register_user(name, password) for name in users]
        described = stack.describe()
        described["users"] = [vars(user) for user in registered]
        print(_summary(stack, described), flush=True)
        if json_path is not None:
            _write_atomically(json_path, json.dumps(described, indent=2) + "\n")
        while True:
            signal.pause()
    except StopRequested:
        print("stopping", flush=True)
        exit_status = 0
    except StackError as error:  # a --user could not be registered
        print(error, file=sys.stderr)
        exit_status = EXIT_START_FAILED
    finally:
        for signum in STOP_SIGNALS:  # from here on, nothing must cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        if json_path is not None:
            json_path.unlink(missing_ok=True)
        stopped_cleanly = _stop(stack)
    return exit_status if stopped_cleanly else EXIT_STOP_FAILED


def _stop(stack: Stack) -> bool:
    try:
        stack.stop()
    except StackError as error:
        print(error, file=sys.stderr)
        return False
    return True


def leftovers(*, clean: bool) -> int:
    """Report (or clean up) stacks whose owner died."""
    abandoned = abandoned_stacks()
    for root, processes in abandoned.items():
        print(f"{root}: {len(processes)} process(es) still running")
        for process in processes:
            print(f"  {process.pid} {process.command}")
        if clean:
            kill_processes(processes)
            shutil.rmtree(root, ignore_errors=True)
            print(f"  killed and removed {root}")
    if not abandoned:
        print("no abandoned stacks")
    # Only a server still running is a failure; a dir whose servers are gone is reported, not fatal.
    running = any(processes for processes in abandoned.values())
    return EXIT_LEFTOVERS if running and not clean else 0


def _request_stop(signum: int, frame: FrameType | None) -> NoReturn:
    for stop_signal in STOP_SIGNALS:  # the first one stops; more must not cut the stop short
        signal.signal(stop_signal, signal.SIG_IGN)
    raise StopRequested(signal.Signals(signum).name)


def _summary(stack: Stack, described: dict[str, Any]) -> str:
    startup = described["startup_seconds"]
    each = ", ".join(f"{name} {s:.2f} s" for name, s in startup.items() if name != "total")
    lines = [
        f"icop dev stack ready in {startup['total']:.2f} s ({each})",
        f"  Matrix  {stack.homeserver_url}  server name {stack.server_name}",
        f"  IMAP    {stack.imap_host}:{stack.imap_port}  any address, password {stack.mail_password}",
        f"  SMTP    {stack.smtp_host}:{stack.smtp_port}  {stack.smtp_server}, any recipient",
        f"  files   {stack.root}",
    ]
    lines += [f"  user    {user['user_id']}  token {user['access_token']}" for user in described["users"]]
    lines.append(f"pid {os.getpid()}: Ctrl-C or SIGTERM stops it")
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    """Readers polling for the file never see half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge.devstack", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    up_command = commands.add_parser("up", help="run the stack in the foreground")
    up_command.add_argument(
        "--json", type=Path, help="write where to connect to FILE once ready (removed on stop)"
    )
    up_command.add_argument("--keep", action="store_true", help="keep the temp dir after stop")
    up_command.add_argument(
        "--smtp", choices=["postfix", "relay"], help="SMTP server (default: postfix when root)"
    )
    up_command.add_argument(
        "--user", action="append", default=[], metavar="NAME", help="register @NAME:localhost"
    )
    up_command.add_argument(
        "--password", default=MAIL_PASSWORD, help="password of --user accounts (default: %(default)s)"
    )
    leftovers_command = commands.add_parser("leftovers", help="find stacks whose owner died")
    leftovers_command.add_argument(
        "--clean", action="store_true", help="kill their processes and remove their dirs"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
