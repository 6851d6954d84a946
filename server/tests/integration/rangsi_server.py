"""Start and drive a real `rangsi` process: data directory set-up through the CLI,
`rangsi serve` on free ports, tokens, and a clean stop (or a SIGKILL when a test wants
a crash).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from garage import blobs_on_s3, shared_garage
from postgres import index_on_postgres, shared_postgres

HOSPITAL_UDON = "10670"
HOSPITAL_SAKON = "10671"
ADMIN_PASSWORD = "admin-Pw-0001"
PASSWORDS = {"alice": "alice-Pw-10670", "bob": "bob-Pw-10671"}

HTTP_LINE = re.compile(r"rangsi: http listening on (http://[^\s]+)")
DICOM_LINE = re.compile(r"rangsi: dicom listening on ([^\s:]+):(\d+) as AE (\S+)")
START_TIMEOUT_SECS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `rangsi` data directory and (at most) one running `rangsi serve` on it."""

    def __init__(self, binary: Path, workdir: Path, extra_args: list[str] | None = None,
                 admin_password: str | None = ADMIN_PASSWORD, database: str | None = None):
        self.binary = Path(binary)
        self.admin_password = admin_password  # None: let the first start generate one
        self.workdir = workdir
        self.data = workdir / "data"
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.http_url = ""
        self.dicom_host = ""
        self.dicom_port = 0
        self.ae_title = ""
        self.tokens: dict[str, str] = {}
        self.starts = 0
        # RANGSI_TEST_BLOBS=s3: this server's blobs live in the shared Garage, under a
        # prefix of its own (garage.py). Every CLI command and `serve` get the settings.
        self.blob_env: dict[str, str] = {}
        if blobs_on_s3():
            self.s3_prefix = f"{workdir.name}-{os.getpid()}-{id(self):x}"
            self.blob_env = shared_garage().rangsi_env(self.s3_prefix)
        # RANGSI_TEST_DB=postgres: the index in a database of its own in the shared
        # PostgreSQL cluster (postgres.py); `database` names another to share one.
        if database is not None:
            self.blob_env["RANGSI_DATABASE"] = database
        elif index_on_postgres():
            self.blob_env["RANGSI_DATABASE"] = shared_postgres().new_database(workdir.name)
        self.database = self.blob_env.get("RANGSI_DATABASE")

    # -- CLI
    def cli(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "RANGSI_DATA": str(self.data), **self.blob_env}
        env.pop("RANGSI_ADMIN_PASSWORD", None)
        if self.admin_password is not None:
            env["RANGSI_ADMIN_PASSWORD"] = self.admin_password
        # `--data` after the (sub)command works whether clap declares it global or per command
        proc = subprocess.run(
            [str(self.binary), *args, "--data", str(self.data)], input=stdin.encode() if stdin is not None else None,
            capture_output=True, timeout=timeout, env=env,
        )
        if check:
            assert proc.returncode == 0, (
                f"rangsi {' '.join(args)} exited {proc.returncode}:\n"
                f"stdout: {proc.stdout.decode(errors='replace')}\nstderr: {proc.stderr.decode(errors='replace')}"
            )
        return proc

    def set_up_regional_archive(self) -> None:
        """Two hospitals, one doctor each, one modality AE each."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.cli("hospital", "add", HOSPITAL_UDON, "Udon Thani")
        self.cli("hospital", "add", HOSPITAL_SAKON, "Sakon Nakhon")
        self.cli("user", "add", "alice", "--hospital", HOSPITAL_UDON, "--role", "doctor", "--password-stdin",
                 stdin=PASSWORDS["alice"] + "\n")
        self.cli("user", "add", "bob", "--hospital", HOSPITAL_SAKON, "--role", "doctor", "--password-stdin",
                 stdin=PASSWORDS["bob"] + "\n")
        self.cli("ae", "add", "MODA", "--hospital", HOSPITAL_UDON)
        self.cli("ae", "add", "MODB", "--hospital", HOSPITAL_SAKON)

    def create_tokens(self) -> None:
        for user in ("alice", "bob", "admin"):
            out = self.cli("token", "create", "--user", user).stdout.decode().strip()
            assert out and len(out.split()) == 1, f"`rangsi token create --user {user}` should print only the token, got {out!r}"
            self.tokens[user] = out

    # -- serve
    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        env = {**os.environ, "RUST_BACKTRACE": "1", **self.blob_env}
        env.pop("RANGSI_ADMIN_PASSWORD", None)
        if self.admin_password is not None:
            env["RANGSI_ADMIN_PASSWORD"] = self.admin_password
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--data", str(self.data), "--http", "127.0.0.1:0",
             "--dicom", "127.0.0.1:0", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.time() + START_TIMEOUT_SECS
        http = dicom = None
        while time.time() < deadline:
            text = self.log_path.read_text(errors="replace")
            http = http or HTTP_LINE.search(text)
            dicom = dicom or DICOM_LINE.search(text)
            if http and dicom:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"rangsi serve exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.05)
        else:
            self.kill()
            raise AssertionError(
                f"rangsi serve did not print both listening lines within {START_TIMEOUT_SECS} s:\n"
                f"{self.log_path.read_text(errors='replace')[-3000:]}"
            )
        self.http_url = http.group(1).rstrip("/")
        self.dicom_host, self.dicom_port, self.ae_title = dicom.group(1), int(dicom.group(2)), dicom.group(3)
        r = requests.get(self.http_url + "/healthz", timeout=10)
        assert r.status_code == 200 and r.text.strip() == "ok", f"/healthz -> {r.status_code} {r.text!r}"

    def healthy(self) -> bool:
        try:
            r = requests.get(self.http_url + "/healthz", timeout=10)
        except requests.RequestException:
            return False
        return r.status_code == 200 and self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (graceful stop), SIGKILL if it does not exit within 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class IndexDb:
    """The index of a `Server`, opened by the tests directly (never through the server):
    Python's sqlite3 on `DATA/index.sqlite`, or pg8000 on the server's PostgreSQL
    database. SQL is written once with `?` placeholders, as in the server."""

    def __init__(self, srv: "Server", readonly: bool = False):
        self.pg = srv.database is not None
        if self.pg:
            import pg8000.dbapi
            from urllib.parse import urlparse
            # `?` placeholders as in the server, numbered by pg8000 outside quotes only
            # (so `LIKE 'x%'` and a `?` in a literal stay as written).
            pg8000.dbapi.paramstyle = "qmark"
            u = urlparse(srv.database)
            self.con = pg8000.dbapi.connect(user=u.username or "postgres", password=u.password,
                                            host=u.hostname, port=u.port or 5432,
                                            database=u.path.lstrip("/"))
            if readonly:
                self.con.cursor().execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        else:
            import sqlite3
            mode = "ro" if readonly else "rw"
            self.con = sqlite3.connect(f"file:{srv.data / 'index.sqlite'}?mode={mode}", uri=True, timeout=30)

    def execute(self, sql: str, args=()) -> "Rows":
        """The result (both engines: `.fetchall()`, `.fetchone()`, `.rowcount`; rows are tuples)."""
        cur = self.con.cursor()
        cur.execute(sql, tuple(args))
        return Rows(cur)

    def commit(self) -> None:
        self.con.commit()

    def rollback(self) -> None:
        self.con.rollback()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "IndexDb":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What a refused statement raises (a trigger, a constraint)."""
        if self.pg:
            import pg8000.dbapi
            return (pg8000.dbapi.DatabaseError,)
        import sqlite3
        return (sqlite3.DatabaseError,)


class Rows:
    """A cursor whose rows are tuples on both engines (pg8000 gives lists), so that rows
    compare equal to tuples and go into sets."""

    def __init__(self, cur):
        self.cur = cur

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount

    def fetchone(self) -> tuple | None:
        row = self.cur.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple]:
        return [tuple(r) for r in self.cur.fetchall()]

    def __iter__(self):
        return (tuple(r) for r in self.cur)


def index_db(srv: "Server", readonly: bool = False) -> IndexDb:
    return IndexDb(srv, readonly)


def index_bytes(srv: "Server") -> bytes:
    """Everything the index has stored, as bytes, to prove a secret is not among them:
    SQLite's database file and its write-ahead log (recent commits live there until a
    checkpoint); on PostgreSQL a `pg_dump` of the server's whole database (every table,
    every row, as text)."""
    if srv.database is None:
        return b"".join(p.read_bytes() for p in (srv.data / "index.sqlite", srv.data / "index.sqlite-wal")
                        if p.exists())
    from postgres import PG_BIN
    out = subprocess.run([str(PG_BIN / "pg_dump"), "--no-owner", "--dbname", srv.database],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, f"pg_dump: {out.stderr.decode(errors='replace')}"
    assert b"COPY public.audit_log" in out.stdout, "pg_dump did not dump the index's tables"
    return out.stdout
