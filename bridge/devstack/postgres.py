"""A throwaway PostgreSQL cluster, so the store's tests run on PostgreSQL wherever it is installed.

The cluster lives in its own ``icop-pg-*`` temp directory, in memory when /dev/shm has room, socket
included so it never meets the machine's own server. It listens on a free port of 127.0.0.1 with trust
authentication and trades durability for speed (no fsync): it holds test data only. PostgreSQL refuses
to run as root, so as root the binaries run as the ``postgres`` user through ``su``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bridge.devstack.process import StackError, free_port, tail

POSTGRES_BIN_ENV = "ICOP_POSTGRES_BIN"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
SHM = Path("/dev/shm")
SHM_MIN_FREE = 1 << 30
_INITDB_OPTIONS = ("-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync")
_FAST_UNSAFE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def find_bin_dir() -> Path:
    """``$ICOP_POSTGRES_BIN``, else the newest ``/usr/lib/postgresql/<version>/bin`` with initdb."""
    configured = os.environ.get(POSTGRES_BIN_ENV)
    candidates = (
        [Path(configured)]
        if configured
        else sorted(
            (p / "bin" for p in DEBIAN_ROOT.glob("*") if p.name.isdigit()),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
    )
    for bin_dir in candidates:
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return bin_dir
    where = configured or f"{DEBIAN_ROOT}/*/bin"
    raise StackError(f"no PostgreSQL server binaries (initdb, pg_ctl) in {where}")


def memory_backed_dir(min_free: int = SHM_MIN_FREE) -> Path | None:
    """``/dev/shm`` when it has room, else None (the system temp dir).

    On a disk-backed /tmp, every CREATE DATABASE (one per test) costs ~0.3 s of writes even with fsync
    off; in memory it costs ~30 ms. A container's small /dev/shm (64 MB in Docker) is left alone: the
    cluster alone needs ~40 MB, and PostgreSQL keeps its own shared memory there.
    """
    try:
        if SHM.is_dir() and os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).free >= min_free:
            return SHM
    except OSError:
        pass
    return None


class PostgresCluster:
    """One cluster: ``start()`` returns its URL, ``stop()`` stops it and removes its directory."""

    name = "postgres"

    def __init__(self, bin_dir: Path | None = None, parent_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.parent_dir = parent_dir if parent_dir is not None else memory_backed_dir()
        self.directory: Path | None = None
        self.port: int | None = None
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise StackError("the PostgreSQL cluster is not started")
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        if self.directory is None:
            raise StackError("the PostgreSQL cluster has no directory yet")
        return self.directory / "postgres.log"

    def start(self, *, timeout: float = 30.0) -> str:
        began = time.monotonic()
        self.directory = Path(tempfile.mkdtemp(prefix="icop-pg-", dir=self.parent_dir))
        # The postgres user must reach its socket and data directory through this one.
        self.directory.chmod(0o755)
        try:
            if os.geteuid() == 0:
                account = _postgres_account()
                os.chown(self.directory, account.pw_uid, account.pw_gid)
            data = self.directory / "data"
            self._run("initdb", *_INITDB_OPTIONS, "-D", str(data), timeout=timeout)
            self._start_server(data, timeout)
        except BaseException:
            self._remove_directory()
            raise
        self.start_seconds = time.monotonic() - began
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove every file of the cluster; safe to repeat."""
        if self.directory is None:
            return
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-D", str(data), "-m", "fast", "-w", timeout=30)
            except StackError:
                _kill_postmaster(data)
        self._remove_directory()
        self.port = None

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_server(self, data: Path, timeout: float) -> None:
        assert self.directory is not None
        last_error: StackError | None = None
        for _ in range(3):  # a free port can be taken before the server binds it
            self.port = free_port()
            options = f"-k {self.directory} -p {self.port} -c listen_addresses=127.0.0.1 {_FAST_UNSAFE}"
            try:
                log, wait = str(self.log_path), ("-w", "-t", str(int(timeout)))
                self._run(
                    "pg_ctl", "start", "-D", str(data), "-l", log, "-o", options, *wait,
                    timeout=timeout + 5,
                )  # fmt: skip
                return
            except StackError as error:
                last_error = error
                if "could not bind" not in tail(self.log_path):
                    raise
        assert last_error is not None
        raise last_error

    def _run(self, program: str, *args: str, timeout: float) -> None:
        argv = [str(self.bin_dir / program), *args]
        what = f"{program} {args[0]}" if program == "pg_ctl" else program
        if os.geteuid() == 0:
            argv = ["su", SUPERUSER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        try:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
                cwd=self.directory,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise StackError(f"PostgreSQL {what} failed: {error}") from error
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            log = tail(self.log_path) if self.log_path.exists() else ""
            raise StackError(
                f"PostgreSQL {what} exited with code {result.returncode}: {output}\n{log}".strip()
            )

    def _remove_directory(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise StackError(
            f"running as root, but there is no {SUPERUSER!r} user to run PostgreSQL as"
        ) from None


def _kill_postmaster(data: Path) -> None:
    """The last resort when pg_ctl cannot stop it: the server must not outlive the test run."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises once it is gone
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def start_postgres() -> PostgresCluster:
    """Start a throwaway cluster; the caller stops it."""
    cluster = PostgresCluster()
    cluster.start()
    return cluster


if __name__ == "__main__":
    with PostgresCluster() as running:
        print(f"{running.url}  (started in {running.start_seconds:.2f} s; Ctrl-C stops it)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
