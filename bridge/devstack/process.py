"""Child server processes: free ports, readiness probes and a stop that never leaves a server behind."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

STACK_DIR_ENV = "ICOP_STACK_DIR"
"""Set in every server's environment to the stack's temp dir, so its processes can be found again."""


class StackError(RuntimeError):
    """A server of the stack could not be started; the message says which and points at its log."""


def free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1 (the tiny race with another process is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(probe: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``probe`` until it returns True; raise StackError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if probe():
                return
        time.sleep(interval)
    raise StackError(f"{what} was not ready after {timeout:.0f} s")


def banner_starts_with(port: int, prefix: bytes, *, host: str = "127.0.0.1") -> Callable[[], bool]:
    """A readiness probe: the server on ``port`` greets with ``prefix`` (an open port is not yet ready)."""

    def probe() -> bool:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.settimeout(1)
            return sock.recv(64).startswith(prefix)

    return probe


class ManagedProcess:
    """A server started as a child in its own process group, stopped with SIGTERM then SIGKILL.

    Its own process group lets ``stop`` reach every process the server forks (Dovecot's helpers, say).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def check_alive(self) -> None:
        """Raise StackError with the tail of the log when the server exited during start-up."""
        if self._proc is not None and self._proc.poll() is not None:
            raise StackError(
                f"{self.name} exited with code {self._proc.returncode}; see {self.log_path}:\n"
                + tail(self.log_path)
            )

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        # Children that outlived their leader (rare) are in the same group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


@dataclass(frozen=True)
class RunningProcess:
    """A live process found on the machine, for leak reports."""

    pid: int
    command: str


def processes_of(root: Path, groups: Iterable[int] = ()) -> list[RunningProcess]:
    """Every live process of the stack in ``root``.

    A server is recognised by ``ICOP_STACK_DIR=root`` in its environment (set for every server) or by a
    ``-c CONFIG`` under ``root`` on its command line (Dovecot overwrites its environment with process
    titles). Its workers run under new titles (``dovecot/imap-login``, ``qmgr``), so they are recognised
    by their process group: a recognised server's, or one of ``groups`` (the groups the stack started,
    which outlive a dead leader). A ``tail -f`` of a log in ``root`` is not a server. Zombies are skipped.
    """
    env_marker = os.fsencode(f"{STACK_DIR_ENV}={root}")
    config_prefix = os.fsencode(f"{root}/")
    candidates: list[tuple[RunningProcess, int]] = []
    servers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state, group = _state_and_group(entry)
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state == "Z":
            continue
        command = b" ".join(argv).decode(errors="replace").strip()
        candidates.append((RunningProcess(int(entry.name), command), group))
        configs = [value for flag, value in itertools.pairwise(argv) if flag == b"-c"]
        if env_marker in environ or any(path.startswith(config_prefix) for path in configs):
            servers.add(int(entry.name))
    alive = {process.pid for process, _ in candidates}
    # A known group whose leader's pid now runs something else was recycled: not ours any more.
    wanted_groups = {g for g in groups if g not in alive or g in servers}
    wanted_groups |= {group for process, group in candidates if process.pid in servers}
    wanted_groups.discard(os.getpgrp())  # a server started without its own group is still in ours
    return [process for process, group in candidates if group in wanted_groups]


def is_running(pid: int) -> bool:
    """Whether ``pid`` is alive and not a zombie awaiting its reaper."""
    try:
        state, _ = _state_and_group(Path("/proc") / str(pid))
    except OSError:
        return False
    return state != "Z"


def process_group_of(pid: int) -> int | None:
    """The process group of ``pid``, or None when it is gone."""
    try:
        return _state_and_group(Path("/proc") / str(pid))[1]
    except (OSError, IndexError, ValueError):
        return None


def _state_and_group(proc_entry: Path) -> tuple[str, int]:
    fields = (proc_entry / "stat").read_text().rsplit(")", 1)[-1].split()
    return fields[0], int(fields[2])


def kill_processes(processes: Iterable[RunningProcess]) -> None:
    """SIGKILL leftovers, the last resort after a server failed to stop its workers."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)
