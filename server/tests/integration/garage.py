"""A real S3-compatible object store for the tests: Garage (https://garagehq.deuxfleurs.fr),
started as a separate single-node process on loopback with random ports and a fresh data
folder, stopped afterwards. No mock: object_store talks to it exactly as to AWS S3.

The binary is the pinned one `cargo xtask test` installs (`RANGSI_GARAGE`, default
`$HOME/.cache/rangsi/tools/garage/bin/garage`). Garage is AGPL: it only ever runs as
its own process here.

With `RANGSI_TEST_BLOBS=s3`, every `rangsi_server.Server` keeps its blobs in one shared
Garage (its own prefix per server), so the archive tests run a second time on S3.
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

BUCKET = "rangsi"
REGION = "garage"
HEALTHY_WITHIN_SECS = 60


def garage_binary() -> Path:
    path = Path(os.environ.get("RANGSI_GARAGE", Path.home() / ".cache/rangsi/tools/garage/bin/garage"))
    assert path.is_file() and os.access(path, os.X_OK), (
        f"Garage (the S3 server of the S3 tests) not found at {path}: run `cargo xtask test`, "
        "which installs the pinned Garage 2.5.0 there, or set RANGSI_GARAGE"
    )
    return path


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Garage:
    """One single-node Garage with one bucket; `stop()` and `start()` again keep its data
    and ports (an outage and a recovery)."""

    def __init__(self, workdir: Path):
        self.binary = garage_binary()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rpc_port, self.s3_port, self.admin_port = _free_port(), _free_port(), _free_port()
        self.access_key = "GK" + secrets.token_hex(12)
        self.secret_key = secrets.token_hex(32)
        self.proc: subprocess.Popen | None = None
        self.config = self.workdir / "garage.toml"
        self.config.write_text(
            f'metadata_dir = "{self.workdir / "meta"}"\n'
            f'data_dir = "{self.workdir / "data"}"\n'
            'db_engine = "sqlite"\n'
            "metadata_fsync = false\n"
            "data_fsync = false\n"
            "replication_factor = 1\n"
            f'rpc_bind_addr = "127.0.0.1:{self.rpc_port}"\n'
            f'rpc_public_addr = "127.0.0.1:{self.rpc_port}"\n'
            f'rpc_secret = "{secrets.token_hex(32)}"\n'
            "[s3_api]\n"
            f's3_region = "{REGION}"\n'
            f'api_bind_addr = "127.0.0.1:{self.s3_port}"\n'
            "[admin]\n"
            f'api_bind_addr = "127.0.0.1:{self.admin_port}"\n'
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "garage.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "GARAGE_CONFIG_FILE": str(self.config),
            "GARAGE_DEFAULT_ACCESS_KEY": self.access_key,
            "GARAGE_DEFAULT_SECRET_KEY": self.secret_key,
            "GARAGE_DEFAULT_BUCKET": BUCKET,
            "RUST_LOG": "warn",
        }
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "server", "--single-node", "--default-bucket"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.time() + HEALTHY_WITHIN_SECS
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"garage exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = requests.get(f"http://127.0.0.1:{self.admin_port}/health", timeout=2)
                if r.status_code == 200 and self._bucket_ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"garage not healthy within {HEALTHY_WITHIN_SECS} s:\n{self.log_tail()}")

    def _bucket_ready(self) -> bool:
        """The default bucket and key exist (a signed listing answers 200)."""
        try:
            return self.request("GET", "", {"list-type": "2", "max-keys": "1"}).status_code == 200
        except requests.RequestException:
            return False

    # -- a minimal S3 client (SigV4 by hand): an oracle independent of rangsi's object_store
    def request(self, method: str, key: str, query: dict[str, str] | None = None,
                body: bytes = b"") -> requests.Response:
        query = query or {}
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        host = f"127.0.0.1:{self.s3_port}"
        path = "/" + BUCKET + ("/" + key if key else "")
        q = lambda v: urllib.parse.quote(v, safe="-_.~")  # noqa: E731
        canonical_query = "&".join(f"{q(k)}={q(v)}" for k, v in sorted(query.items()))
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([
            method, urllib.parse.quote(path, safe="/-_.~"), canonical_query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload,
        ])
        scope = f"{day}/{REGION}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret_key).encode()
        for part in (day, REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        url = f"http://{host}{urllib.parse.quote(path, safe='/-_.~')}"
        if canonical_query:
            url += "?" + canonical_query
        return requests.request(method, url, headers=headers, data=body or None, timeout=60)

    def list_keys(self, prefix: str) -> dict[str, int]:
        """Object key -> size under `prefix` (ListObjectsV2, all pages)."""
        out: dict[str, int] = {}
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            r = self.request("GET", "", query)
            assert r.status_code == 200, f"S3 list -> {r.status_code} {r.text[:500]}"
            root = ET.fromstring(r.content)
            ns = {"s3": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
            find = (lambda e, t: e.find(f"s3:{t}", ns)) if ns else (lambda e, t: e.find(t))  # noqa: E731
            for c in root.findall("s3:Contents", ns) if ns else root.findall("Contents"):
                out[find(c, "Key").text] = int(find(c, "Size").text)
            more = find(root, "IsTruncated")
            if more is None or more.text != "true":
                return out
            token = find(root, "NextContinuationToken").text

    def get(self, key: str) -> bytes:
        r = self.request("GET", key)
        assert r.status_code == 200, f"S3 GET {key} -> {r.status_code}"
        return r.content

    def put(self, key: str, body: bytes) -> None:
        r = self.request("PUT", key, body=body)
        assert r.status_code == 200, f"S3 PUT {key} -> {r.status_code} {r.text[:300]}"

    def delete(self, key: str) -> None:
        r = self.request("DELETE", key)
        assert r.status_code in (200, 204), f"S3 DELETE {key} -> {r.status_code}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def rangsi_env(self, prefix: str) -> dict[str, str]:
        """What a `rangsi` process needs to keep its blobs in this Garage under `prefix`."""
        return {
            "RANGSI_BLOBS": f"s3://{BUCKET}/{prefix}",
            "RANGSI_S3_ENDPOINT": self.endpoint,
            "RANGSI_S3_REGION": REGION,
            "RANGSI_S3_ACCESS_KEY_ID": self.access_key,
            "RANGSI_S3_SECRET_ACCESS_KEY": self.secret_key,
        }


_shared: Garage | None = None


def shared_garage() -> Garage:
    """One Garage for the whole pytest process (`RANGSI_TEST_BLOBS=s3`), stopped at exit."""
    global _shared
    if _shared is None:
        workdir = Path(tempfile.mkdtemp(prefix="rangsi-garage-"))
        g = Garage(workdir)
        g.start()
        _shared = g

        def _stop() -> None:
            g.stop()
            shutil.rmtree(workdir, ignore_errors=True)

        atexit.register(_stop)
    return _shared


def blobs_on_s3() -> bool:
    return os.environ.get("RANGSI_TEST_BLOBS", "") == "s3"
