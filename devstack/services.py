"""Start (or reuse) what the local stack needs: MariaDB, PostgreSQL, moto and the Redshift shim.

The tests and the demo run against real servers on this machine rather than mocks: MariaDB is the DMS
source, PostgreSQL stands in for Redshift behind :mod:`devstack.redshift_shim`, and moto in server
mode plays AWS. Every ``ensure_*`` function first checks whether the service already answers a *real*
request (a login, an API call) and only starts it when it does not, so calling them repeatedly is cheap and
never starts a second server. Every wait is bounded by a deadline, and a failure raises
:class:`ServiceUnavailable` naming the service, the command tried and how long it waited.

Processes started *detached* (moto and the shim for the demo, which keep running after it exits) record
their pid and log under ``<repo>/.local/``, so ``python -m devstack.services down`` can stop
exactly those processes and nothing else.

``python -m devstack.services up`` brings everything up (one line per service);
``python -m devstack.services down`` stops the detached moto and shim it started.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Callable, Optional

import psycopg
import pymysql
import redshift_connector

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where detached processes keep their pid and log files (git-ignored).
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_MOTO_PORT = 5055
DEFAULT_SHIM_PORT = 5439

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_POLL_INTERVAL_S = 0.25
_PROBE_TIMEOUT_S = 3
#: urllib honours HTTP(S)_PROXY; a local moto must never be reached through a proxy.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServiceUnavailable(RuntimeError):
    """A local service is not running and could not be started; the message says what was tried."""


@dataclass(frozen=True)
class ServiceStatus:
    """What an ``ensure_*`` call found or did, printable as one line of ``services up``."""

    name: str
    address: str
    action: str  # "already running", "started" or "reused"
    detail: str = ""

    def __str__(self) -> str:
        line = f"{self.name:<14} {self.action:<16} {self.address}"
        return f"{line}  ({self.detail})" if self.detail else line


# ---------------------------------------------------------------------------- small helpers


def _port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0 and report it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _poll(probe: Callable[[], Optional[str]], deadline_s: float,
          still_running: Callable[[], bool] = lambda: True) -> tuple[Optional[str], float]:
    """Call ``probe`` until it returns None (success) or the deadline passes.

    Returns ``(last_error, seconds_waited)``; ``last_error`` is None on success. Stops early when
    ``still_running`` turns false (the process we started died, no point in waiting).
    """
    started = time.monotonic()
    error = probe()
    while error is not None and time.monotonic() - started < deadline_s and still_running():
        time.sleep(_POLL_INTERVAL_S)
        error = probe()
    return error, time.monotonic() - started


def _run_start_command(service: str, command: list[str], timeout_s: float) -> None:
    """Run a start command to completion; a non-zero exit is reported at once, not after the deadline."""
    shown = " ".join(command)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=max(timeout_s, 1.0), check=False)
    except subprocess.TimeoutExpired as e:
        raise ServiceUnavailable(f"{service}: `{shown}` did not finish within {e.timeout:.0f}s") from e
    except OSError as e:
        raise ServiceUnavailable(f"{service}: could not run `{shown}`: {e}") from e
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise ServiceUnavailable(f"{service}: `{shown}` failed with exit status {result.returncode}: {output}")


def _require_local(service: str, host: str, port: int, error: str) -> None:
    """Refuse to 'start' a server for a remote host: only a local one can be started from here."""
    if host not in _LOCAL_HOSTS:
        raise ServiceUnavailable(
            f"{service} at {host}:{port} does not accept a login ({error}); it is not local, so dmsval "
            f"cannot start it"
        )


def _ensure_db(
    service: str,
    host: str,
    port: int,
    deadline_s: float,
    probe: Callable[[], Optional[str]],
    start: Callable[[float], tuple[str, str]],
) -> ServiceStatus:
    """Shared flow: reuse a server that accepts a login, else start it.

    ``start`` runs the start command and returns ``(command as shown, where its logs are)``.
    """
    address = f"{host}:{port}"
    error = probe()
    if error is None:
        return ServiceStatus(service, address, "already running")
    _require_local(service, host, port, error)
    if _port_open(host, port):
        # Something listens but refuses the login: a server still starting up, or one we cannot log in to.
        # Starting a second one would not help, so only wait.
        error, waited = _poll(probe, deadline_s)
        if error is None:
            return ServiceStatus(service, address, "already running")
        raise ServiceUnavailable(
            f"{service} listens on {address} but refused a login for {waited:.1f}s (start not attempted, "
            f"something already runs there): {error}"
        )
    started = time.monotonic()
    shown, logs = start(deadline_s)
    error, _ = _poll(probe, deadline_s - (time.monotonic() - started))
    waited = time.monotonic() - started  # the start command's own run time counts against the deadline
    if error is not None:
        raise ServiceUnavailable(
            f"{service} did not accept a login on {address} within {waited:.1f}s after `{shown}`; "
            f"last error: {error}; see {logs}"
        )
    return ServiceStatus(service, address, "started", f"after {waited:.1f}s via `{shown}`")


# ---------------------------------------------------------------------------- MariaDB


def _mariadb_login_error(host: str, port: int) -> Optional[str]:
    """None if root can log in (empty password, the local setup), else the driver's error text."""
    try:
        conn = pymysql.connect(host=host, port=port, user="root", password="", connect_timeout=_PROBE_TIMEOUT_S)
    except (pymysql.MySQLError, OSError) as e:
        return str(e)
    conn.close()
    return None


def ensure_mariadb(
    host: str = "127.0.0.1",
    port: int = 3306,
    deadline_s: float = 60.0,
    *,
    mariadbd_path: str = "/usr/sbin/mariadbd",
    start_stop_daemon: str = "start-stop-daemon",
    run_dir: str = "/run/mysqld",
    state_dir: Optional[Path] = None,
) -> ServiceStatus:
    """Make sure MariaDB accepts ``root`` on host:port, starting the local server if needed.

    The start command is ``start-stop-daemon --start --oknodo --background --exec <mariadbd>`` (the server
    drops to the ``user`` from my.cnf itself); its early stdout/stderr go to ``<state_dir>/mariadb.out``
    since MariaDB's own log is only opened once its configuration is read. The binary paths are parameters
    so the not-installed path can be tested without stopping the real server.
    """
    service = "MariaDB"

    def start(timeout_s: float) -> tuple[str, str]:
        daemon = shutil.which(start_stop_daemon)
        if not os.access(mariadbd_path, os.X_OK):
            raise ServiceUnavailable(
                f"{service} is not running on {host}:{port} and is not installed here ({mariadbd_path} not "
                f"found). Install it (e.g. `apt-get install mariadb-server`) or start a MySQL/MariaDB server "
                f"on {host}:{port} with a passwordless root login."
            )
        if daemon is None:
            raise ServiceUnavailable(
                f"{service} is installed ({mariadbd_path}) but `{start_stop_daemon}` is not available to start "
                f"it; start it yourself on {host}:{port}."
            )
        _prepare_mariadb_run_dir(run_dir)
        out_dir = state_dir or DEFAULT_STATE_DIR
        out_dir.mkdir(parents=True, exist_ok=True)
        early_output = out_dir / "mariadb.out"
        command = [daemon, "--start", "--oknodo", "--background",
                   "--output", str(early_output), "--exec", mariadbd_path]
        _run_start_command(service, command, timeout_s)
        return " ".join(command), f"{early_output} and the log-error file from my.cnf (Debian: /var/log/mysql/error.log)"

    return _ensure_db(service, host, port, deadline_s, lambda: _mariadb_login_error(host, port), start)


def _prepare_mariadb_run_dir(run_dir: str) -> None:
    """Create MariaDB's socket/pid directory as its init script would (it lives on a tmpfs that boots empty)."""
    if os.path.isdir(run_dir) or os.geteuid() != 0:
        return
    try:
        owner = pwd.getpwnam("mysql")
    except KeyError:
        return  # no mysql user: the server runs as whoever my.cnf says, let it report its own error
    os.makedirs(run_dir, mode=0o755, exist_ok=True)
    os.chown(run_dir, owner.pw_uid, owner.pw_gid)


# ---------------------------------------------------------------------------- PostgreSQL


def _postgres_login_error(host: str, port: int) -> Optional[str]:
    """None if ``postgres`` can log in to database ``postgres`` (trust auth locally), else the error text."""
    try:
        conn = psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                               connect_timeout=_PROBE_TIMEOUT_S)
    except psycopg.Error as e:
        return str(e).strip()
    conn.close()
    return None


def _postgres_cluster_for_port(conf_dir: Path, port: int) -> Optional[tuple[str, str]]:
    """The Debian cluster ``(version, name)`` configured for ``port`` under conf_dir, if any."""
    candidates = sorted(conf_dir.glob("*/*/postgresql.conf"), reverse=True)  # newest version first
    for conf in candidates:
        configured = 5432
        for line in conf.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                configured = int(value.split("#", 1)[0].strip() or 5432)
        if configured == port:
            return conf.parent.parent.name, conf.parent.name
    return None


def ensure_postgres(
    host: str = "127.0.0.1",
    port: int = 5432,
    deadline_s: float = 60.0,
    *,
    pg_ctlcluster_path: str = "/usr/bin/pg_ctlcluster",
    pg_conf_dir: str = "/etc/postgresql",
) -> ServiceStatus:
    """Make sure PostgreSQL accepts ``postgres`` on host:port, starting the local Debian cluster if needed.

    The cluster is the one under ``pg_conf_dir`` whose postgresql.conf sets this port; it is started with
    ``pg_ctlcluster --skip-systemctl-redirect <version> <name> start`` (no systemd in containers).
    """
    service = "PostgreSQL"

    def start(timeout_s: float) -> tuple[str, str]:
        if not os.access(pg_ctlcluster_path, os.X_OK):
            raise ServiceUnavailable(
                f"{service} is not running on {host}:{port} and is not installed here ({pg_ctlcluster_path} "
                f"not found). Install it (e.g. `apt-get install postgresql`) or start a PostgreSQL server on "
                f"{host}:{port} that lets user postgres log in."
            )
        cluster = _postgres_cluster_for_port(Path(pg_conf_dir), port)
        if cluster is None:
            raise ServiceUnavailable(
                f"{service} is installed but no cluster under {pg_conf_dir} is configured for port {port}; "
                f"create one (`pg_createcluster`) or start a server on {host}:{port}."
            )
        command = [pg_ctlcluster_path, "--skip-systemctl-redirect", cluster[0], cluster[1], "start"]
        _run_start_command(service, command, timeout_s)
        return " ".join(command), f"/var/log/postgresql/postgresql-{cluster[0]}-{cluster[1]}.log"

    return _ensure_db(service, host, port, deadline_s, lambda: _postgres_login_error(host, port), start)


# ---------------------------------------------------------------------------- moto


def is_moto(endpoint_url: str, timeout_s: float = 2.0) -> bool:
    """True if endpoint_url is a moto server (its ``/moto-api/data.json`` answers with a JSON object)."""
    try:
        with _HTTP.open(f"{endpoint_url}/moto-api/data.json", timeout=timeout_s) as response:
            return isinstance(json.loads(response.read()), dict)
    except (OSError, http.client.HTTPException, ValueError):  # URLError is an OSError; bad JSON a ValueError
        return False


def reset_moto(endpoint_url: str, timeout_s: float = 10.0) -> None:
    """Drop every resource in the moto server (POST /moto-api/reset), so a run starts from a clean account."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", data=b"", method="POST")
    try:
        with _HTTP.open(request, timeout=timeout_s) as response:
            response.read()
    except (OSError, http.client.HTTPException) as e:
        raise ServiceUnavailable(f"moto at {endpoint_url}: reset failed: {e}") from e


def _moto_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]


class MotoServer:
    """moto in server mode as a child process, for tests (``with MotoServer() as moto: moto.endpoint_url``).

    Server mode (rather than ``mock_aws``) is what the suite runs against in the demo, and it works across
    pytest-xdist workers and subprocesses, which in-process mocks do not.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, deadline_s: float = 30.0) -> None:
        """``port=0`` chooses a free port; ``deadline_s`` bounds the wait for the API to answer."""
        self.host = host
        self.requested_port = port
        self.deadline_s = deadline_s
        self._port: Optional[int] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[IO[bytes]] = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServiceUnavailable("MotoServer.port is only known after start()")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start moto and return once its API answers; retries a chosen free port that got taken meanwhile."""
        if self._proc is not None:
            raise ServiceUnavailable("MotoServer is already started")
        attempts = 3 if self.requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            port = self.requested_port or free_port(self.host)
            self._log = tempfile.TemporaryFile(prefix="moto-")
            self._proc = subprocess.Popen(_moto_command(self.host, port), stdin=subprocess.DEVNULL,
                                          stdout=self._log, stderr=subprocess.STDOUT)
            self._port = port
            proc = self._proc
            error, waited = _poll(lambda: None if is_moto(self.endpoint_url) else "no answer",
                                  self.deadline_s, lambda: proc.poll() is None)
            if error is None:
                return
            exited = proc.poll() is not None
            log_tail = self._read_log_tail()
            self.stop()
            if exited and attempt < attempts:
                continue  # most likely the free port was taken between choosing and binding it
            state = f"exited with status {proc.returncode}" if exited else f"did not answer within {waited:.1f}s"
            raise ServiceUnavailable(
                f"moto server on {self.host}:{port} (`{' '.join(_moto_command(self.host, port))}`) {state}; "
                f"output:\n{log_tail}"
            )

    def reset(self) -> None:
        """Drop every resource created so far."""
        reset_moto(self.endpoint_url)

    def stop(self, deadline_s: float = 10.0) -> None:
        """Terminate moto (SIGTERM, then SIGKILL after deadline_s) and release its log file."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(deadline_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(deadline_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _read_log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:]

    def __enter__(self) -> "MotoServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------- detached processes


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def _log_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.log"


def _start_detached(name: str, argv: list[str], state_dir: Path) -> subprocess.Popen[bytes]:
    """Start argv in its own session (it outlives us), recording pid and argv for ``down``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    with open(_log_file(state_dir, name), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT, env=env, start_new_session=True)
    _pid_file(state_dir, name).write_text(json.dumps({"pid": proc.pid, "argv": argv}) + "\n")
    return proc


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (a zombie has exited; it only awaits reaping)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.rstrip(b"\x00").decode("utf-8", "replace").split("\x00") if raw else []


def _reap(pid: int) -> None:
    """Collect the exit status if pid is our own child (started in this process), so no zombie stays."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: init reaps it


def stop_detached(name: str, state_dir: Optional[Path] = None, deadline_s: float = 10.0) -> Optional[int]:
    """Stop the detached process recorded as ``name`` (e.g. ``moto-5055``); return its pid, or None.

    Only a process whose command line still matches the recorded one is signalled, so a stale pid file
    can never make us kill an unrelated process that reused the pid.
    """
    pid_path = _pid_file(state_dir or DEFAULT_STATE_DIR, name)
    try:
        record = json.loads(pid_path.read_text())
        pid, argv = int(record["pid"]), list(record["argv"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid) or _cmdline(pid) != argv:
        pid_path.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        _reap(pid)
        if not _pid_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        _reap(pid)
        if _pid_alive(pid):
            raise ServiceUnavailable(
                f"{name} (pid {pid}) survived SIGTERM for {deadline_s:.0f}s and SIGKILL; stop it by hand"
            )
    pid_path.unlink(missing_ok=True)
    return pid


def detached_names(state_dir: Optional[Path] = None) -> list[str]:
    """Names of the detached processes recorded in state_dir (pid files present)."""
    directory = state_dir or DEFAULT_STATE_DIR
    return sorted(p.stem for p in directory.glob("*.pid")) if directory.is_dir() else []


def _wait_detached(name: str, argv: list[str], proc: subprocess.Popen[bytes], probe: Callable[[], Optional[str]],
                   deadline_s: float, state_dir: Path, what: str) -> float:
    """Wait until a freshly started detached process answers; on failure stop it and raise with its log."""
    error, waited = _poll(probe, deadline_s, lambda: proc.poll() is None)
    if error is None:
        return waited
    exited = proc.poll() is not None
    stop_detached(name, state_dir)
    log_path = _log_file(state_dir, name)
    log_tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    state = f"exited with status {proc.returncode}" if exited else f"did not answer within {waited:.1f}s"
    raise ServiceUnavailable(
        f"{what} (`{' '.join(argv)}`) {state}; last error: {error}; log {log_path}:\n{log_tail}"
    )


def ensure_moto(
    port: int = DEFAULT_MOTO_PORT,
    host: str = "127.0.0.1",
    deadline_s: float = 30.0,
    state_dir: Optional[Path] = None,
) -> str:
    """Return the endpoint URL of a moto server on host:port, reusing a running one or starting a detached one.

    The detached server keeps running after this process exits (the demo leaves it up for inspection);
    ``services down`` stops it.
    """
    return _ensure_moto_status(port, host, deadline_s, state_dir).address


def started_by_dmsval(name: str, state_dir: Optional[Path] = None) -> bool:
    """True if the detached process recorded as ``name`` (e.g. ``moto-5055``) is alive with its recorded argv:
    a server this project started, whose state it may reset; any other server is somebody else's."""
    try:
        record = json.loads(_pid_file(state_dir or DEFAULT_STATE_DIR, name).read_text())
        pid, argv = int(record["pid"]), list(record["argv"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return _pid_alive(pid) and _cmdline(pid) == argv


def ensure_own_moto(port: int = DEFAULT_MOTO_PORT, host: str = "127.0.0.1", deadline_s: float = 30.0,
                    state_dir: Optional[Path] = None) -> ServiceStatus:
    """A moto server this project started (so resetting it loses nobody's state): the one on ``port`` if we
    started it (or it is free), else a detached one of ours on a free port."""
    if started_by_dmsval(f"moto-{port}", state_dir) or not _port_open(host, port):
        return _ensure_moto_status(port, host, deadline_s, state_dir)
    other = free_port(host)
    status = _ensure_moto_status(other, host, deadline_s, state_dir)
    return ServiceStatus(status.name, status.address, status.action,
                         f"{status.detail}; {host}:{port} is served by a process dmsval did not start, left alone")


def _ensure_moto_status(port: int, host: str, deadline_s: float, state_dir: Optional[Path]) -> ServiceStatus:
    endpoint_url = f"http://{host}:{port}"
    if is_moto(endpoint_url):
        return ServiceStatus("moto", endpoint_url, "reused")
    if _port_open(host, port):
        raise ServiceUnavailable(
            f"port {host}:{port} is in use by something that is not moto (no JSON from "
            f"{endpoint_url}/moto-api/data.json); stop it or choose another port"
        )
    directory = state_dir or DEFAULT_STATE_DIR
    name = f"moto-{port}"
    argv = _moto_command(host, port)
    proc = _start_detached(name, argv, directory)
    waited = _wait_detached(name, argv, proc, lambda: None if is_moto(endpoint_url) else "no answer from /moto-api/",
                            deadline_s, directory, f"moto server on {host}:{port}")
    return ServiceStatus("moto", endpoint_url, "started",
                         f"pid {proc.pid}, {waited:.1f}s, log {_log_file(directory, name)}")


# ---------------------------------------------------------------------------- Redshift shim


def redshift_login_error(host: str, port: int, user: str = "postgres", database: str = "postgres",
                         timeout_s: int = _PROBE_TIMEOUT_S) -> Optional[str]:
    """None if redshift_connector can log in and run ``SELECT 1`` on host:port, else why not."""
    try:
        conn = redshift_connector.connect(host=host, port=port, user=user, password="unused", database=database,
                                          ssl=False, timeout=timeout_s)
    # A listener that is not PostgreSQL makes the driver fail in its message dispatch (KeyError on an
    # unknown message type, struct/ValueError on garbage), not with one of its own errors.
    except (redshift_connector.Error, OSError, KeyError, ValueError, struct.error) as e:
        return f"{type(e).__name__}: {e}"
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
    except (redshift_connector.Error, OSError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return None


def ensure_redshift_shim(
    listen_port: int = DEFAULT_SHIM_PORT,
    upstream_port: int = 5432,
    *,
    listen_host: str = "127.0.0.1",
    upstream_host: str = "127.0.0.1",
    deadline_s: float = 30.0,
    state_dir: Optional[Path] = None,
) -> ServiceStatus:
    """Make sure a Redshift shim on listen_port accepts a redshift_connector login, starting a detached one.

    Something already listening is reused only if redshift_connector can log in through it (plain
    PostgreSQL cannot pass that test, see the shim's docstring); anything else on the port is an error.
    """
    address = f"{listen_host}:{listen_port} -> {upstream_host}:{upstream_port}"

    def probe() -> Optional[str]:
        return redshift_login_error(listen_host, listen_port)

    if _port_open(listen_host, listen_port):
        error = probe()
        if error is None:
            return ServiceStatus("redshift-shim", address, "reused")
        raise ServiceUnavailable(
            f"{listen_host}:{listen_port} is in use but does not answer as the Redshift shim (a "
            f"redshift_connector login as postgres failed: {error}); stop what listens there or choose "
            f"another port"
        )
    directory = state_dir or DEFAULT_STATE_DIR
    name = f"redshift-shim-{listen_port}"
    argv = [sys.executable, "-m", "devstack.redshift_shim",
            "--listen-host", listen_host, "--listen-port", str(listen_port),
            "--upstream-host", upstream_host, "--upstream-port", str(upstream_port)]
    proc = _start_detached(name, argv, directory)
    waited = _wait_detached(name, argv, proc, probe, deadline_s, directory, f"Redshift shim on {listen_host}:{listen_port}")
    return ServiceStatus("redshift-shim", address, "started",
                         f"pid {proc.pid}, {waited:.1f}s, log {_log_file(directory, name)}")


# ---------------------------------------------------------------------------- command line


def up(moto_port: int = DEFAULT_MOTO_PORT, shim_port: int = DEFAULT_SHIM_PORT,
       state_dir: Optional[Path] = None) -> list[ServiceStatus]:
    """Ensure the whole local stack, printing one line per service as it becomes ready."""
    steps: list[Callable[[], ServiceStatus]] = [
        lambda: ensure_mariadb(state_dir=state_dir),
        ensure_postgres,
        lambda: _ensure_moto_status(moto_port, "127.0.0.1", 30.0, state_dir),
        lambda: ensure_redshift_shim(listen_port=shim_port, state_dir=state_dir),
    ]
    statuses = []
    for step in steps:
        status = step()
        print(status, flush=True)
        statuses.append(status)
    return statuses


def down(state_dir: Optional[Path] = None) -> None:
    """Stop the detached moto and shim processes recorded under state_dir, printing one line each."""
    names = [n for n in detached_names(state_dir) if n.startswith(("moto-", "redshift-shim-"))]
    if not names:
        print("nothing to stop (no detached moto or shim recorded)")
    for name in names:
        pid = stop_detached(name, state_dir)
        print(f"{name:<20} {'stopped pid ' + str(pid) if pid else 'was not running (stale pid file removed)'}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.services",
                                     description="Start or stop the local stack used by the tests and the demo.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where pid and log files of detached processes live (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", parents=[common], help="ensure MariaDB, PostgreSQL, moto and the Redshift shim")
    up_parser.add_argument("--moto-port", type=int, default=DEFAULT_MOTO_PORT)
    up_parser.add_argument("--shim-port", type=int, default=DEFAULT_SHIM_PORT)
    sub.add_parser("down", parents=[common], help="stop the detached moto and Redshift shim started by `up`")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.moto_port, args.shim_port, args.state_dir)
        else:
            down(args.state_dir)
    except ServiceUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
