"""A throw-away Synapse homeserver for tests and the demo.

Synapse lives in its own venv (it checks its own pins at start and refuses to run beside conflicting ones),
so it is started with that venv's python. Rate limits are lifted because matrix-nio sleeps and retries a 429
forever: a rate-limited test hangs instead of failing. Users are registered through the shared-secret admin
API with the standard library, so the stack needs no Matrix client of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.devstack.process import (
    STACK_DIR_ENV,
    ManagedProcess,
    StackError,
    free_port,
    tail,
    wait_until,
)

SERVER_NAME = "localhost"
SYNAPSE_PYTHON_ENV = "ICOP_SYNAPSE_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SYNAPSE_PYTHON = REPO_ROOT / "var" / "synapse-venv" / "bin" / "python"


@dataclass(frozen=True)
class MatrixUser:
    """A registered account with a logged-in device."""

    user_id: str
    access_token: str
    device_id: str
    password: str


def synapse_python() -> Path:
    """The python of Synapse's own venv: ``$ICOP_SYNAPSE_PYTHON``, else ``var/synapse-venv``."""
    configured = os.environ.get(SYNAPSE_PYTHON_ENV)
    python = Path(configured) if configured else DEFAULT_SYNAPSE_PYTHON
    if not os.access(python, os.X_OK):
        raise StackError(
            f"no Synapse python at {python}: run `make synapse` to create var/synapse-venv, "
            f"or point {SYNAPSE_PYTHON_ENV} at a python that has matrix-synapse installed"
        )
    return python


class Synapse:
    """One homeserver on a free port of 127.0.0.1, its state in ``directory``."""

    name = "synapse"

    def __init__(self, directory: Path, *, stack_root: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.shared_secret = secrets.token_hex(16)
        self._stack_root = stack_root
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "homeserver.log"

    @property
    def process_group(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 60.0) -> None:
        """Write the config, start the homeserver and wait until ``/health`` answers."""
        python = synapse_python()
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        process = ManagedProcess(
            self.name,
            [str(python), "-m", "synapse.app.homeserver", "-c", str(config)],
            log_path=self.directory / "stdout.log",
            env=self._environment(),
            cwd=self.directory,
        )
        self._process = process
        process.start()

        def healthy() -> bool:
            process.check_alive()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", "/health")
                return connection.getresponse().status == 200
            finally:
                connection.close()

        try:
            wait_until(healthy, timeout=timeout, what=f"Synapse on port {self.port}")
        except StackError as error:
            raise StackError(f"{error}; see {self.log_path}:\n{tail(self.log_path)}") from None

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, STACK_DIR_ENV: str(self._stack_root)}
        # Its own venv only: the project's packages beside Synapse's pins would stop it at start.
        for isolation_breaker in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(isolation_breaker, None)
        # Synapse imports ~1,100 modules: without bytecode in its venv every start costs 3 s more.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def register_user(self, username: str, password: str, admin: bool = False) -> MatrixUser:
        """Create ``@username:localhost`` through the shared-secret admin API and log it in."""
        endpoint = "/_synapse/admin/v1/register"
        nonce = _request_json(self.port, endpoint)["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        kind = b"admin" if admin else b"notadmin"
        mac.update(b"\0".join([nonce.encode(), username.encode(), password.encode(), kind]))
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        answer = _request_json(self.port, endpoint, body)
        return MatrixUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
        )

    def _write_config(self) -> Path:
        directory = self.directory
        log_config = directory / "log.yaml"
        log_config.write_text(_LOG_CONFIG.format(log_path=json.dumps(str(self.log_path))))
        config = directory / "homeserver.yaml"
        config.write_text(
            _HOMESERVER_CONFIG.format(
                server_name=SERVER_NAME,
                port=self.port,
                database=json.dumps(str(directory / "homeserver.db")),
                signing_key=json.dumps(str(directory / "signing.key")),
                media_store=json.dumps(str(directory / "media_store")),
                log_config=json.dumps(str(log_config)),
                shared_secret=json.dumps(self.shared_secret),
            )
        )
        return config


def _request_json(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (or POST ``body`` to) ``path`` on the homeserver at 127.0.0.1:``port``, answer as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if body is None:
            connection.request("GET", path)
        else:
            headers = {"Content-Type": "application/json"}
            connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
    except OSError as error:
        raise StackError(f"{path} on port {port} failed: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise StackError(f"{path} on port {port} answered {response.status}: {text}")
    answer: dict[str, Any] = json.loads(text)
    return answer


# YAML is a superset of JSON, so paths and secrets are written as JSON strings: no quoting surprises.
_HOMESERVER_CONFIG = """\
server_name: {server_name}
report_stats: false
listeners:
  - port: {port}
    type: http
    tls: false
    bind_addresses: ['127.0.0.1']
    resources: [{{names: [client], compress: false}}]
database: {{name: sqlite3, args: {{database: {database}}}}}
signing_key_path: {signing_key}
media_store_path: {media_store}
log_config: {log_config}
registration_shared_secret: {shared_secret}
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
bcrypt_rounds: 4
presence: {{enabled: false}}
url_preview_enabled: false
rc_message: &nolimit {{per_second: 100000, burst_count: 100000}}
rc_registration: *nolimit
rc_login: {{address: *nolimit, account: *nolimit, failed_attempts: *nolimit}}
rc_joins: {{local: *nolimit, remote: *nolimit}}
rc_joins_per_room: *nolimit
rc_invites: {{per_room: *nolimit, per_user: *nolimit, per_issuer: *nolimit}}
rc_room_creation: *nolimit
rc_admin_redaction: *nolimit
rc_media_create: *nolimit
rc_presence: {{per_user: *nolimit}}
rc_profile: *nolimit
"""

# Everything to one file, nothing on the console: a test run stays readable, a failure has its log.
_LOG_CONFIG = """\
version: 1
formatters:
  plain: {{format: '%(asctime)s %(levelname)s %(name)s: %(message)s'}}
handlers:
  file: {{class: logging.FileHandler, filename: {log_path}, formatter: plain, encoding: utf-8}}
loggers:
  synapse.storage.SQL: {{level: WARNING}}
root: {{level: INFO, handlers: [file]}}
disable_existing_loggers: false
"""
