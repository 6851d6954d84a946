"""A real PostgreSQL for the tests: Debian's PostgreSQL 15 server binaries, a throwaway
cluster (initdb) on loopback with a random port and a fresh folder, stopped at exit.
No mock: sqlx talks to it exactly as to a production server.

With `RANGSI_TEST_DB=postgres`, every `rangsi_server.Server` keeps its index in its own
database of one shared cluster (`RANGSI_DATABASE=postgres://…/DB`), so the archive tests
run a second time on PostgreSQL. Two servers can also be given the same database (two
nodes, `test_nodes.py`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("RANGSI_PG_BIN", "/usr/lib/postgresql/15/bin"))
READY_WITHIN_SECS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    def __init__(self, workdir: Path, durable: bool = False):
        """`durable`: commits reach the WAL before they return (`synchronous_commit=on`),
        so an immediate stop (a crash) loses no committed transaction; off by default
        (faster, for clusters that are only ever stopped at the end)."""
        assert (PG_BIN / "initdb").is_file(), (
            f"PostgreSQL server binaries not found in {PG_BIN}: `cargo xtask test` installs "
            "Debian's postgresql-15 (apt-get install -y postgresql-15), or set RANGSI_PG_BIN"
        )
        self.workdir = Path(workdir)
        self.port = _free_port()
        self.counter = 0
        self.durable = durable

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        data = self.workdir / "data"
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
            check=True, capture_output=True, timeout=120,
        )
        self.start_again()

    def start_again(self) -> None:
        """Starts the (initialised) cluster: after `start`, or again after a `stop`."""
        data = self.workdir / "data"
        # fsync off: a test cluster, thrown away; durability of a real one is the DBA's.
        sync = "on" if self.durable else "off"
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.workdir / "log"), "-w",
                          "-t", str(READY_WITHIN_SECS), "start", "-o",
                          f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir} "
                          "-c fsync=off -c full_page_writes=off "
                          f"-c synchronous_commit={sync} "
                          "-c max_connections=400"]),
            check=True, capture_output=True, timeout=READY_WITHIN_SECS + 30,
        )
        deadline = time.time() + READY_WITHIN_SECS
        while self.psql("SELECT 1", check=False).returncode != 0:
            assert time.time() < deadline, f"PostgreSQL not ready:\n{self.log_tail()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """Stops the cluster at once (connections cut), as a crash or a fail-over would."""
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.workdir / "data"), "-m", "immediate", "-w", "stop"]),
            capture_output=True, timeout=60,
        )

    def log_tail(self, n: int = 3000) -> str:
        try:
            return (self.workdir / "log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def psql(self, sql: str, db: str = "postgres", check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True, timeout=60,
        )
        if check:
            assert proc.returncode == 0, f"psql {sql!r}: {proc.stderr.decode(errors='replace')}"
        return proc

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self, hint: str = "rangsi") -> str:
        """A fresh, empty database; returns its URL."""
        self.counter += 1
        name = "".join(c if c.isalnum() else "_" for c in f"{hint}_{os.getpid()}_{self.counter}").lower()[:60]
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


_shared: Postgres | None = None


def shared_postgres() -> Postgres:
    """One cluster for the whole pytest process, stopped at exit."""
    global _shared
    if _shared is None:
        workdir = Path(tempfile.mkdtemp(prefix="rangsi-pg-"))
        pg = Postgres(workdir)
        pg.start()
        _shared = pg

        def _stop() -> None:
            pg.stop()
            shutil.rmtree(workdir, ignore_errors=True)

        atexit.register(_stop)
    return _shared


def index_on_postgres() -> bool:
    return os.environ.get("RANGSI_TEST_DB", "") == "postgres"
