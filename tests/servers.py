"""Real Redis and PostgreSQL servers on loopback for the tests, started and stopped by fixtures.

`redis-server` comes from Debian (`make servers` installs it); PostgreSQL from Debian's
`postgresql` package (its binaries in /usr/lib/postgresql/VERSION/bin). Both listen on a free
127.0.0.1 port, keep their data in a temporary folder and are stopped at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from api_process import free_port, stop_process

START_SECONDS = 60
PG_USER = "cert"


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """A `redis-server` on a free loopback port that keeps nothing on disk; yields its URL."""
    import redis

    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is missing: run `make servers` (apt-get install redis-server)")
    port = free_port()
    log = folder / "redis.log"
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), "--logfile", str(log)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(lambda: redis.Redis.from_url(url, socket_timeout=1).ping(), process, log)
        yield url
    finally:
        stop_process(process)


def postgres_bin() -> Path:
    """The folder of PostgreSQL's server binaries (pg_ctl, initdb), newest version first."""
    on_path = shutil.which("pg_ctl")
    folders = [str(Path(on_path).resolve().parent)] if on_path else []
    folders += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in folders:
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    pytest.fail("PostgreSQL is missing: run `make servers` (apt-get install postgresql)")


@contextmanager
def running_postgres() -> Iterator[str]:
    """A PostgreSQL server on a free loopback port (trust auth, user `cert`); yields its URL.

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user in
    a folder of its own under the system's temporary folder.
    """
    binaries = postgres_bin()
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="cert-pg-"))
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
    data, log, port = folder / "data", folder / "server.log", free_port()
    run = {"user": user, "capture_output": True, "text": True, "timeout": 120}
    init = subprocess.run(
        [binaries / "initdb", "-D", data, "-U", PG_USER, "-A", "trust", "-E", "UTF8"], **run
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed:\n{init.stdout}{init.stderr}")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"
    start = subprocess.run(
        [binaries / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start"], **run
    )
    if start.returncode != 0:
        pytest.fail(f"pg_ctl start failed:\n{start.stdout}{start.stderr}\n{_read(log)}")
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([binaries / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server at `server_url`; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _wait(ready, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{_read(log)}")
        try:
            ready()
            return
        except Exception as error:  # not listening yet
            last = error
            time.sleep(0.1)
    pytest.fail(f"the server did not answer in {START_SECONDS} s ({last}):\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else "(no log)"
