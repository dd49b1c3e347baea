"""Throw-away mail servers: Dovecot (IMAP + LMTP) and Postfix (SMTP) on 127.0.0.1.

Every address is its own mailbox with the password ``test``, so a test invents addresses instead of
provisioning accounts. Postfix accepts any recipient and hands each one to Dovecot's LMTP in its own
transaction: that keeps ``+detail`` in ``Delivered-To``, which the bridge reads for reply tokens.
Postfix must be started as root; without root the stack uses ``smtp_relay`` instead (same host and port).
Postfix retries deferred mail after a second or so (not its production minutes), so mail that met a
stopped Dovecot arrives soon after Dovecot is back.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bridge.devstack.process import (
    STACK_DIR_ENV,
    ManagedProcess,
    StackError,
    banner_starts_with,
    free_port,
    is_running,
    tail,
    wait_until,
)

MAIL_PASSWORD = "test"
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_program(name: str, package: str) -> str:
    """The path of a system program; sbin is searched too, it is often missing from a user's PATH."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    program = shutil.which(name, path=search_path)
    if program is None:
        raise StackError(f"{name} is not installed: apt-get install -y --no-install-recommends {package}")
    return program


def running_as_root() -> bool:
    return os.geteuid() == 0


class Dovecot:
    """IMAP for reading, LMTP for delivery; all state under ``directory`` (keep its path short)."""

    name = "dovecot"

    def __init__(self, directory: Path, *, stack_root: Path) -> None:
        self.directory = directory
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self._stack_root = stack_root
        self._process: ManagedProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    def start(self, timeout: float = 20.0) -> None:
        program = find_program("dovecot", "dovecot-imapd dovecot-lmtpd")
        for sub in ("run", "state", "mail"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        config = self.directory / "dovecot.conf"
        config.write_text(self._config())
        if running_as_root():
            # LMTP refuses to deliver as root; the mail belongs to nobody.
            nobody = pwd.getpwnam("nobody")
            os.chown(self.directory / "mail", nobody.pw_uid, nobody.pw_gid)
        process = ManagedProcess(
            self.name,
            [program, "-F", "-c", str(config)],
            log_path=self.directory / "stdout.log",
            env={**os.environ, STACK_DIR_ENV: str(self._stack_root)},
        )
        self._process = process
        process.start()
        greets = banner_starts_with(self.imap_port, b"* OK")

        def ready() -> bool:
            process.check_alive()
            return greets()

        try:
            wait_until(ready, timeout=timeout, what=f"Dovecot IMAP on port {self.imap_port}")
        except StackError as error:
            raise StackError(f"{error}; see {self.log_path}:\n{tail(self.log_path)}") from None

    @property
    def process_group(self) -> int | None:
        """Started in its own session: the group of every worker process it forks."""
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def _config(self) -> str:
        directory = self.directory
        if running_as_root():
            identity = "mail_uid = nobody\nmail_gid = nogroup"
            login_chroot = ""
        else:
            # Rootless: every service runs as the caller, and nothing can chroot.
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            identity = (
                f"mail_uid = {user}\nmail_gid = {group}\n"
                f"default_internal_user = {user}\ndefault_internal_group = {group}\n"
                f"default_login_user = {user}\n"
                "service anvil {\n  chroot =\n}"
            )
            login_chroot = "  chroot =\n"
        return f"""\
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{directory}/mail/%u
mail_fsync = never
import_environment = TZ {STACK_DIR_ENV}
{identity}
passdb {{
  driver = static
  args = password={MAIL_PASSWORD}
}}
userdb {{
  driver = static
  args = allow_all_users=yes home={directory}/mail/%u
}}
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
"""


class Postfix:
    """An SMTP server that accepts any recipient and delivers it over LMTP to ``lmtp_port``.

    Postfix daemonises its master (``postfix start``), so it is no child of ours: it is found again by its
    pid file, and its workers by ``ICOP_STACK_DIR``, which ``import_environment`` passes down to them.
    """

    name = "postfix"

    def __init__(self, directory: Path, *, lmtp_port: int, stack_root: Path) -> None:
        self.directory = directory
        self.smtp_port = free_port()
        self.lmtp_port = lmtp_port
        self._stack_root = stack_root
        self._started = False
        self.process_group: int | None = None
        """The master's pid, which leads the group of its workers; kept for when the master dies first."""

    @property
    def config_dir(self) -> Path:
        return self.directory / "etc"

    @property
    def log_path(self) -> Path:
        return self.directory / "postfix.log"

    def start(self, timeout: float = 20.0) -> None:
        if not running_as_root():
            raise StackError("Postfix must be started as root; use the SMTP relay instead")
        program = find_program("postfix", "postfix")
        self._write_config()
        self._started = True
        result = self._postfix(program, "start", timeout=timeout)
        self.process_group = self.master_pid()
        if result.returncode != 0:
            raise StackError(
                f"postfix start failed ({result.returncode}): {result.stdout.strip()}\n"
                f"see {self.log_path}:\n{tail(self.log_path)}"
            )
        try:
            wait_until(
                banner_starts_with(self.smtp_port, b"220"),
                timeout=timeout,
                what=f"Postfix SMTP on port {self.smtp_port}",
            )
        except StackError as error:
            raise StackError(f"{error}; see {self.log_path}:\n{tail(self.log_path)}") from None

    def master_pid(self) -> int | None:
        """The pid of the running master, if any."""
        return self.pid_in(self.directory)

    @staticmethod
    def pid_in(directory: Path) -> int | None:
        """The pid of a master running from ``directory``, by its pid file (which outlives a crash)."""
        try:
            pid = int((directory / "spool" / "pid" / "master.pid").read_text().split()[0])
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        # An old pid file may name a recycled pid; a stopped master is a zombie until init reaps it.
        ours = os.fsencode(f"MAIL_CONFIG={directory / 'etc'}") in environ
        return pid if ours and is_running(pid) else None

    def stop(self) -> None:
        if not self._started or self.master_pid() is None:
            return
        program = find_program("postfix", "postfix")
        # `postfix stop` waits up to 5 s, then kills the master's process group itself.
        result = self._postfix(program, "stop", timeout=15)
        try:
            wait_until(lambda: self.master_pid() is None, timeout=5, what="Postfix to stop")
        except StackError:
            raise StackError(
                f"Postfix master {self.master_pid()} still runs after `postfix stop`: {result.stdout.strip()}"
            ) from None

    def flush(self) -> None:
        """Attempt every deferred message now (``postfix flush``), when a stopped Dovecot is back."""
        if self.master_pid() is not None:
            self._postfix(find_program("postfix", "postfix"), "flush", timeout=15)

    def _postfix(self, program: str, command: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, STACK_DIR_ENV: str(self._stack_root)}
        return subprocess.run(
            [program, "-c", str(self.config_dir), command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    def _write_config(self) -> None:
        directory = self.directory
        for sub in ("etc", "spool", "data"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        owner = pwd.getpwnam("postfix")
        os.chown(directory / "data", owner.pw_uid, owner.pw_gid)
        main_cf = self.config_dir / "main.cf"
        master_cf = self.config_dir / "master.cf"
        main_cf.write_text(self._main_cf())
        master_cf.write_text(_MASTER_CF.format(smtp_port=self.smtp_port))
        # Postfix waits ~2 s for a config file written within the last second to "cool down".
        a_minute_ago = time.time() - 60
        for path in (main_cf, master_cf):
            os.utime(path, (a_minute_ago, a_minute_ago))

    def _main_cf(self) -> str:
        directory = self.directory
        return f"""\
compatibility_level = 3.6
queue_directory = {directory}/spool
data_directory = {directory}/data
maillog_file = {directory}/postfix.log
maillog_file_prefixes = {directory}
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE \
POSTLOG_HOSTNAME {STACK_DIR_ENV}
myhostname = mx.example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
default_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
lmtp_destination_recipient_limit = 1
smtpd_relay_restrictions = permit_mynetworks, reject
local_header_rewrite_clients =
in_flow_delay = 0
message_size_limit = 52428800
header_size_limit = 1048576
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
smtputf8_enable = no
biff = no
append_dot_mydomain = no
"""


class SmtpRelay:
    """The rootless stand-in for Postfix: ``bridge.devstack.smtp_relay`` as a child process."""

    name = "relay"

    def __init__(self, directory: Path, *, lmtp_port: int, stack_root: Path) -> None:
        self.directory = directory
        self.smtp_port = free_port()
        self.lmtp_port = lmtp_port
        self._stack_root = stack_root
        self._process: ManagedProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "relay.log"

    @property
    def process_group(self) -> int | None:
        """Started in its own session: the group of every worker process it forks."""
        return self._process.pid if self._process else None

    def start(self, timeout: float = 20.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "bridge.devstack.smtp_relay"]
        argv += ["--port", str(self.smtp_port), "--lmtp-port", str(self.lmtp_port)]
        process = ManagedProcess(
            self.name,
            argv,
            log_path=self.log_path,
            env={**os.environ, STACK_DIR_ENV: str(self._stack_root)},
            cwd=Path(__file__).resolve().parents[2],
        )
        self._process = process
        process.start()
        greets = banner_starts_with(self.smtp_port, b"220")

        def ready() -> bool:
            process.check_alive()
            return greets()

        wait_until(ready, timeout=timeout, what=f"SMTP relay on port {self.smtp_port}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()


# Debian's services, none chrooted (the spool is a temp dir), smtpd only on 127.0.0.1.
_MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
"""
