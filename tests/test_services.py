"""The local stack helpers: moto in server mode, the DB start logic and the detached processes.

Nothing here stops or restarts the real MariaDB / PostgreSQL: the start paths are exercised through fake
binaries and free ports, which is why the binary paths are parameters of ensure_mariadb / ensure_postgres.
Detached processes go to a temporary state dir on free ports, never to the demo's 5055 / 5439.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Iterator

import boto3
import pytest
import redshift_connector

from devstack import services
from devstack.services import (
    MotoServer,
    ServiceUnavailable,
    ensure_mariadb,
    ensure_moto,
    ensure_postgres,
    ensure_redshift_shim,
    free_port,
    is_moto,
    stop_detached,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, so boto3 never looks for (or finds) real ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A private .local for detached processes; whatever a test leaves running is stopped afterwards."""
    directory = tmp_path / "local"
    yield directory
    for name in services.detached_names(directory):
        stop_detached(name, directory)


def fake_binary(path: Path, script: str) -> str:
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# ---------------------------------------------------------------------------- moto


def test_moto_server_start_reset_stop(aws_env: None) -> None:
    with MotoServer() as moto:
        assert is_moto(moto.endpoint_url)
        s3 = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1")
        s3.create_bucket(Bucket="dmsval-test")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["dmsval-test"]
        moto.reset()
        assert s3.list_buckets()["Buckets"] == []
        endpoint = moto.endpoint_url
    assert not is_moto(endpoint)


def test_ensure_moto_starts_a_detached_server_then_reuses_it(aws_env: None, state_dir: Path) -> None:
    port = free_port()
    endpoint = ensure_moto(port, state_dir=state_dir)
    assert endpoint == f"http://127.0.0.1:{port}"
    record = json.loads((state_dir / f"moto-{port}.pid").read_text())
    assert (state_dir / f"moto-{port}.log").exists()

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="kept")
    assert ensure_moto(port, state_dir=state_dir) == endpoint  # reused: same server, bucket still there
    assert [b["Name"] for b in boto3.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"]] == ["kept"]
    services.reset_moto(endpoint)
    assert boto3.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"] == []

    assert stop_detached(f"moto-{port}", state_dir) == record["pid"]
    assert not is_moto(endpoint)
    assert not (state_dir / f"moto-{port}.pid").exists()


def test_own_moto_leaves_a_moto_it_did_not_start_alone(aws_env: None, state_dir: Path) -> None:
    """The demo resets the moto it uses: never somebody else's moto found on the demo's port."""
    with MotoServer() as foreign:  # not recorded in state_dir: somebody else's server
        s3 = boto3.client("s3", endpoint_url=foreign.endpoint_url)
        s3.create_bucket(Bucket="not-ours")
        status = services.ensure_own_moto(foreign.port, state_dir=state_dir)
        assert status.address != foreign.endpoint_url and is_moto(status.address)
        assert "did not start, left alone" in status.detail
        services.reset_moto(status.address)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["not-ours"]
    # ours on a free port: reused as ours the next time
    port = int(status.address.rsplit(":", 1)[1])
    assert services.started_by_dmsval(f"moto-{port}", state_dir)
    assert services.ensure_own_moto(port, state_dir=state_dir).address == status.address


def test_ensure_moto_refuses_a_port_taken_by_something_else(state_dir: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ServiceUnavailable, match=f"127.0.0.1:{port} is in use by something that is not moto"):
            ensure_moto(port, state_dir=state_dir)
    assert services.detached_names(state_dir) == []


# ---------------------------------------------------------------------------- MariaDB / PostgreSQL


def test_ensure_on_running_databases_returns_quickly() -> None:
    started = time.monotonic()
    assert ensure_mariadb().action == "already running"
    assert ensure_postgres().action == "already running"
    assert time.monotonic() - started < 5


def test_mariadb_not_installed_says_what_to_install(tmp_path: Path) -> None:
    port = free_port()
    missing = tmp_path / "no" / "mariadbd"
    with pytest.raises(ServiceUnavailable) as caught:
        ensure_mariadb(port=port, deadline_s=2, mariadbd_path=str(missing), state_dir=tmp_path)
    message = str(caught.value)
    assert f"MariaDB is not running on 127.0.0.1:{port} and is not installed here ({missing} not found)" in message
    assert "apt-get install mariadb-server" in message


def test_postgres_not_installed_says_what_to_install(tmp_path: Path) -> None:
    port = free_port()
    missing = tmp_path / "no" / "pg_ctlcluster"
    with pytest.raises(ServiceUnavailable) as caught:
        ensure_postgres(port=port, deadline_s=2, pg_ctlcluster_path=str(missing))
    message = str(caught.value)
    assert f"PostgreSQL is not running on 127.0.0.1:{port} and is not installed here ({missing} not found)" in message
    assert "apt-get install postgresql" in message


def test_postgres_start_that_never_answers_hits_the_deadline(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "etc" / "15" / "main" / "postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(f"port = {port}\t\t# (change requires restart)\n")
    ctl = fake_binary(tmp_path / "pg_ctlcluster", "exit 0")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        ensure_postgres(port=port, deadline_s=1.5, pg_ctlcluster_path=ctl, pg_conf_dir=str(tmp_path / "etc"))
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert f"PostgreSQL did not accept a login on 127.0.0.1:{port} within 1." in message
    assert f"`{ctl} --skip-systemctl-redirect 15 main start`" in message


def test_postgres_without_a_cluster_for_the_port(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "etc" / "15" / "main" / "postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("port = 1\n")
    ctl = fake_binary(tmp_path / "pg_ctlcluster", "exit 0")
    with pytest.raises(ServiceUnavailable, match=f"no cluster under .* is configured for port {port}"):
        ensure_postgres(port=port, deadline_s=2, pg_ctlcluster_path=ctl, pg_conf_dir=str(tmp_path / "etc"))


def test_mariadb_failing_start_command_is_reported_at_once(tmp_path: Path) -> None:
    port = free_port()
    daemon = fake_binary(tmp_path / "start-stop-daemon", "echo 'cannot start: boom' >&2; exit 2")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        ensure_mariadb(port=port, deadline_s=30, mariadbd_path="/bin/true", start_stop_daemon=daemon,
                       run_dir=str(tmp_path), state_dir=tmp_path)
    assert time.monotonic() - started < 10  # not after the 30 s deadline
    message = str(caught.value)
    assert f"`{daemon} --start --oknodo --background" in message
    assert "--exec /bin/true` failed with exit status 2: cannot start: boom" in message


def test_remote_database_is_never_started() -> None:
    with pytest.raises(ServiceUnavailable, match="it is not local, so dmsval cannot start it"):
        ensure_postgres(host="192.0.2.1", port=5432, deadline_s=1)  # TEST-NET-1: never routable


# ---------------------------------------------------------------------------- Redshift shim


def test_ensure_redshift_shim_starts_detached_then_reuses(state_dir: Path) -> None:
    ensure_postgres()
    port = free_port()
    first = ensure_redshift_shim(listen_port=port, state_dir=state_dir)
    assert first.action == "started"
    assert ensure_redshift_shim(listen_port=port, state_dir=state_dir).action == "reused"

    with redshift_connector.connect(host="127.0.0.1", port=port, database="postgres", user="postgres",
                                    password="unused", ssl=False, timeout=10) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 'through the detached shim ✓'")
        assert cursor.fetchone() == ["through the detached shim ✓"]

    pid = json.loads((state_dir / f"redshift-shim-{port}.pid").read_text())["pid"]
    assert stop_detached(f"redshift-shim-{port}", state_dir) == pid  # SIGTERM: main() exits cleanly
    assert not services._port_open("127.0.0.1", port)


def test_ensure_redshift_shim_refuses_plain_postgresql_on_the_port(state_dir: Path) -> None:
    ensure_postgres()
    with pytest.raises(ServiceUnavailable, match="does not answer as the Redshift shim .*unrecognized configuration"):
        ensure_redshift_shim(listen_port=5432, state_dir=state_dir)
    assert services.detached_names(state_dir) == []


# ---------------------------------------------------------------------------- detached bookkeeping / CLI


def test_stale_pid_file_never_signals_an_unrelated_process(tmp_path: Path) -> None:
    # Our own pid with a command line that does not match: stop_detached must leave it alone.
    (tmp_path / "moto-1.pid").write_text(json.dumps({"pid": os.getpid(), "argv": ["not", "this", "process"]}))
    assert stop_detached("moto-1", tmp_path) is None
    assert not (tmp_path / "moto-1.pid").exists()


def test_up_and_down_on_private_ports(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    moto_port, shim_port = free_port(), free_port()
    statuses = services.up(moto_port=moto_port, shim_port=shim_port, state_dir=state_dir)
    assert [s.name for s in statuses] == ["MariaDB", "PostgreSQL", "moto", "redshift-shim"]
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4
    assert printed[2].startswith("moto") and f"http://127.0.0.1:{moto_port}" in printed[2]
    assert services.main(["down", "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    assert f"moto-{moto_port}" in out and f"redshift-shim-{shim_port}" in out and "stopped pid" in out
    assert services.detached_names(state_dir) == []
    assert not is_moto(f"http://127.0.0.1:{moto_port}")
