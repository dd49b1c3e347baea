"""The whole local stack: Synapse, Dovecot and an SMTP server, started together, stopped together.

Tests, ``scripts/stack`` and the demo all need the same three servers wired the same way; this module is
the one place that knows how. The servers start side by side (Synapse's 1.5–4 s dominates; the mail
servers are ready in a fraction of that), each in its own temp dir under one root. Stopping is the part
that matters most: every server is stopped even when another fails to, workers that outlive their master
are found and killed, and an ``atexit`` hook covers an owner that forgot.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from bridge.devstack.mail import (
    MAIL_PASSWORD,
    Dovecot,
    Postfix,
    SmtpRelay,
    find_program,
    running_as_root,
)
from bridge.devstack.process import (
    RunningProcess,
    StackError,
    is_running,
    kill_processes,
    process_group_of,
    processes_of,
)
from bridge.devstack.synapse import SERVER_NAME, MatrixUser, Synapse, synapse_python

LOCALHOST = "127.0.0.1"
KEEP_ENV = "ICOP_STACK_KEEP"
SMTP_SERVER_ENV = "ICOP_STACK_SMTP"
ROOT_PARENT = Path("/tmp")
"""Not $TMPDIR: every parent must be traversable by nobody and postfix, and Dovecot's socket paths
must stay short (a per-user temp dir is often 0700, or long)."""
ROOT_PREFIX = "icop-stack-"
OWNER_FILE = "owner.pid"
SmtpServerKind = Literal["postfix", "relay"]


class Server(Protocol):
    """What the stack needs of each server."""

    name: str

    @property
    def process_group(self) -> int | None: ...

    def start(self, timeout: float = ...) -> None: ...

    def stop(self) -> None: ...


def choose_smtp_server() -> SmtpServerKind:
    """Postfix when we may start it (root, installed), else the relay; ``ICOP_STACK_SMTP`` decides first."""
    wanted = os.environ.get(SMTP_SERVER_ENV, "")
    if wanted in ("postfix", "relay"):
        return "postfix" if wanted == "postfix" else "relay"
    if wanted:
        raise StackError(f"{SMTP_SERVER_ENV} must be 'postfix' or 'relay', not {wanted!r}")
    if not running_as_root():
        return "relay"
    try:
        find_program("postfix", "postfix")
    except StackError:
        return "relay"
    return "postfix"


class Stack:
    """Synapse, Dovecot and Postfix (or the SMTP relay) on free ports of 127.0.0.1.

    ``with Stack() as stack:`` starts and stops it; ``start()`` / ``stop()`` do the same by hand.
    The temp dir is removed on stop unless ``keep`` (default: ``ICOP_STACK_KEEP=1``).
    """

    imap_host = LOCALHOST
    smtp_host = LOCALHOST
    mail_password = MAIL_PASSWORD
    server_name = SERVER_NAME

    def __init__(
        self,
        *,
        smtp_server: SmtpServerKind | None = None,
        keep: bool | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.smtp_server: SmtpServerKind = smtp_server or choose_smtp_server()
        self.keep = os.environ.get(KEEP_ENV) == "1" if keep is None else keep
        self.timeout = timeout
        self.startup_seconds = 0.0
        """Wall time of ``start()``: the servers start side by side."""
        self.server_startup_seconds: dict[str, float] = {}
        """Each server's own start-up, launch to ready."""
        self._servers: _Servers | None = None
        self._last_root: Path | None = None
        self._last_groups: list[int] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Stack:
        if self._servers is not None:
            raise StackError(f"the stack in {self._servers.root} is already running")
        self._check_programs()
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=ROOT_PARENT))
        began = time.monotonic()
        try:
            self._servers = self._prepare(root)
            atexit.register(self._stop_at_exit)
            failures = self._start_servers()
        except BaseException:
            if self._servers is None:
                shutil.rmtree(root, ignore_errors=True)
            self._stop_quietly()
            raise
        self.startup_seconds = time.monotonic() - began
        if failures:
            kept = f"\n(files kept in {root})" if self.keep else ""
            self._stop_quietly()
            raise StackError("the stack did not start:\n" + "\n".join(failures) + kept)
        return self

    def stop(self) -> None:
        """Stop every server, kill what outlived them, remove the temp dir; raise if any of it failed."""
        if self._servers is None:
            return
        root, servers = self._servers.root, self._servers.all
        problems: list[str] = []
        with ThreadPoolExecutor(max_workers=len(servers), thread_name_prefix="stack-stop") as pool:
            stops = [(server.name, pool.submit(server.stop)) for server in servers]
        for name, stopped in stops:
            error = stopped.exception()
            if error is not None:
                problems.append(f"{name}: {error}")
        groups = self._servers.process_groups()
        leftovers = _wait_for_exit(root, groups, timeout=5.0)
        if leftovers:
            kill_processes(leftovers)
            problems.append("killed leftovers: " + ", ".join(_describe(p) for p in leftovers))
        self._last_root, self._last_groups = root, groups
        self._servers = None
        atexit.unregister(self._stop_at_exit)  # only now: an interrupted stop is finished at exit
        if not self.keep:
            shutil.rmtree(root, ignore_errors=True)
        if problems:
            raise StackError(f"the stack in {root} did not stop cleanly:\n" + "\n".join(problems))

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def leftover_processes(self) -> list[RunningProcess]:
        """Processes of this stack still alive: all of them while it runs, none once it has stopped."""
        if self._servers is not None:
            root, groups = self._servers.root, self._servers.process_groups()
        elif self._last_root is not None:
            root, groups = self._last_root, self._last_groups
        else:
            return []
        found = processes_of(root, groups)
        master = Postfix.pid_in(root / "smtp")
        if master is not None and all(process.pid != master for process in found):
            found.append(RunningProcess(master, "postfix master (from its pid file)"))
        return found

    # -- where to connect -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._servers is not None

    @property
    def root(self) -> Path:
        """The temp dir holding every server's config, data and log."""
        return self._running().root

    @property
    def homeserver_url(self) -> str:
        return self._running().synapse.url

    @property
    def imap_port(self) -> int:
        return self._running().dovecot.imap_port

    @property
    def smtp_port(self) -> int:
        return self._running().smtp.smtp_port

    # -- one server at a time (outages) ---------------------------------------------------------

    @property
    def server_names(self) -> list[str]:
        """The names ``stop_server`` and ``start_server`` take: synapse, dovecot, postfix or relay."""
        return [server.name for server in self._running().all]

    def stop_server(self, name: str) -> None:
        """Stop one server (an outage), keeping its port and data; ``start_server(name)`` brings it back.

        Returns once every process of that server is gone (leftovers are killed), so its clients see
        connections refused, as in a real outage. The other servers keep running.
        """
        server = self._server(name)
        group = server.process_group
        server.stop()
        if group is None:
            return
        root = self._running().root
        leftovers = _wait_for_group_exit(root, group, timeout=5.0)
        if leftovers:
            kill_processes(leftovers)
            raise StackError(f"{name} did not stop cleanly; killed " + ", ".join(map(_describe, leftovers)))

    def start_server(self, name: str, timeout: float | None = None) -> float:
        """Start a server stopped by ``stop_server`` again, on the same port with the same data.

        Returns its start-up time in seconds; raises StackError (with its log) when it does not come up.
        Dovecot back, Postfix is told to deliver what it deferred meanwhile now, as an admin would.
        """
        server = self._server(name)
        seconds = _timed_start(server, self.timeout if timeout is None else timeout)
        smtp = self._running().smtp
        if isinstance(server, Dovecot) and isinstance(smtp, Postfix):
            smtp.flush()
        return seconds

    def _server(self, name: str) -> Synapse | Dovecot | Postfix | SmtpRelay:
        servers = self._running().all
        for server in servers:
            if server.name == name or (name == "smtp" and server is self._running().smtp):
                return server
        raise StackError(f"no server named {name!r}: the stack runs {', '.join(s.name for s in servers)}")

    def register_user(self, username: str, password: str, admin: bool = False) -> MatrixUser:
        """Create ``@username:localhost`` with a logged-in device (see ``Synapse.register_user``)."""
        return self._running().synapse.register_user(username, password, admin)

    def describe(self) -> dict[str, Any]:
        """Where to connect, as JSON-ready data (the shape of ``python -m bridge.devstack up --json``)."""
        servers = self._running()
        synapse = servers.synapse
        return {
            "root": str(self.root),
            "matrix": {
                "homeserver_url": synapse.url,
                "server_name": self.server_name,
                "registration_shared_secret": synapse.shared_secret,
            },
            "imap": {"host": self.imap_host, "port": self.imap_port, "security": "none"},
            "smtp": {
                "host": self.smtp_host,
                "port": self.smtp_port,
                "security": "none",
                "server": self.smtp_server,
            },
            "mail_password": self.mail_password,
            "startup_seconds": {
                **{name: round(s, 3) for name, s in self.server_startup_seconds.items()},
                "total": round(self.startup_seconds, 3),
            },
            "logs": {server.name: str(server.log_path) for server in servers.all},
        }

    # -- internals ------------------------------------------------------------------------------

    def _prepare(self, root: Path) -> _Servers:
        root.chmod(0o755)  # Dovecot's and Postfix's users must traverse it
        (root / OWNER_FILE).write_text(f"{os.getpid()}\n")
        dovecot = Dovecot(root / "dovecot", stack_root=root)
        smtp_kind = Postfix if self.smtp_server == "postfix" else SmtpRelay
        return _Servers(
            root=root,
            synapse=Synapse(root / "synapse", stack_root=root),
            dovecot=dovecot,
            smtp=smtp_kind(root / "smtp", lmtp_port=dovecot.lmtp_port, stack_root=root),
        )

    def _start_servers(self) -> list[str]:
        servers = self._running().all
        pool = ThreadPoolExecutor(max_workers=len(servers), thread_name_prefix="stack-start")
        starts: list[tuple[str, Future[float]]] = []
        try:
            for server in servers:
                starts.append((server.name, pool.submit(_timed_start, server, self.timeout)))
            pool.shutdown(wait=True)
        except BaseException:
            # Interrupted (Ctrl-C): a start still under way would launch its server after the stop
            # that follows, and leak it. Let the starts finish (they are bounded by their timeout).
            _shut_down_through_interrupts(pool)
            raise
        failures = []
        for name, started in starts:
            error = started.exception()
            if error is None:
                self.server_startup_seconds[name] = started.result()
            else:
                failures.append(f"{name}: {error}")
        return failures

    def _check_programs(self) -> None:
        """Fail before starting anything when a server is not installed, naming every missing one."""
        programs = [("dovecot", "dovecot-imapd dovecot-lmtpd")]
        if self.smtp_server == "postfix":
            programs.append(("postfix", "postfix"))
        missing = []
        try:
            synapse_python()
        except StackError as error:
            missing.append(str(error))
        for program, package in programs:
            try:
                find_program(program, package)
            except StackError as error:
                missing.append(str(error))
        if missing:
            raise StackError("the stack cannot start:\n" + "\n".join(missing))

    def _running(self) -> _Servers:
        if self._servers is None:
            raise StackError("the stack is not running")
        return self._servers

    def _stop_quietly(self) -> None:
        try:
            self.stop()
        except StackError as error:
            print(error, file=sys.stderr)

    def _stop_at_exit(self) -> None:
        if self._servers is not None:
            print(f"stopping the stack in {self._servers.root} left running at exit", file=sys.stderr)
            self._stop_quietly()


@dataclass(frozen=True)
class _Servers:
    """The servers of one run, all under ``root``."""

    root: Path
    synapse: Synapse
    dovecot: Dovecot
    smtp: Postfix | SmtpRelay

    @property
    def all(self) -> list[Synapse | Dovecot | Postfix | SmtpRelay]:
        return [self.synapse, self.dovecot, self.smtp]

    def process_groups(self) -> list[int]:
        return [group for server in self.all if (group := server.process_group) is not None]


def abandoned_stacks() -> dict[Path, list[RunningProcess]]:
    """Stacks whose owner died without stopping them (killed with SIGKILL, say), with what still runs.

    A stopped stack removes its dir; one left behind whose ``owner.pid`` is gone was abandoned.
    """
    abandoned = {}
    for root in sorted(ROOT_PARENT.glob(ROOT_PREFIX + "*")):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = None
        if owner is not None and is_running(owner):
            continue
        if owner is None and _younger_than(root, seconds=60):
            continue  # a stack being created this instant has not written its owner yet
        abandoned[root] = processes_of(root)
    return abandoned


def _younger_than(path: Path, *, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return True


def _timed_start(server: Server, timeout: float) -> float:
    began = time.monotonic()
    server.start(timeout)
    return time.monotonic() - began


def _shut_down_through_interrupts(pool: ThreadPoolExecutor) -> None:
    while True:
        try:
            pool.shutdown(wait=True)
        except BaseException:  # noqa: S112 -- a second Ctrl-C must not leak a server either
            continue
        return


def _wait_for_exit(root: Path, groups: list[int], *, timeout: float) -> list[RunningProcess]:
    """The processes still alive after ``timeout``: workers take a moment to follow their master."""
    deadline = time.monotonic() + timeout
    while True:
        leftovers = processes_of(root, groups)
        if not leftovers or time.monotonic() >= deadline:
            return leftovers
        time.sleep(0.05)


def _wait_for_group_exit(root: Path, group: int, *, timeout: float) -> list[RunningProcess]:
    """The processes of one server (its process ``group``) still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        leftovers = [p for p in processes_of(root, [group]) if process_group_of(p.pid) == group]
        if not leftovers or time.monotonic() >= deadline:
            return leftovers
        time.sleep(0.05)


def _describe(process: RunningProcess) -> str:
    return f"{process.pid} ({process.command})"
