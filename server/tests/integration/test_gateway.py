"""Hospital gateway (issue 8): a real `rangsi gateway` between dcmtk storescu (the
modalities) and a real regional `rangsi serve`, through a TCP proxy of the test's own
that cuts the link on demand.

The central test sends 1,000 small instances of ten studies while the gateway is
killed with SIGKILL and restarted many times and the link is cut or refused again and
again; afterwards the regional server must hold every instance exactly once, and the
bytes it serves must be the bytes the gateway queued (whole Part 10 file) and the data
set the modality sent. Also: a wrong token is a clear last error and nothing is lost;
a gateway token cannot read; gzip STOW bodies are accepted and a gzip bomb is refused;
status reports reach `GET /api/gateways`; an instance the regional server refuses is
kept as failed with its reason.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import random
import re
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from dicom_factory import new_image, noise_image, save
from dicomweb import DicomWeb, encode_multipart
from dimse import Peer, storescu
from rangsi_server import HOSPITAL_UDON, Server, free_port, index_db

DICOM_LINE = re.compile(r"rangsi: dicom listening on ([^\s:]+):(\d+) as AE (\S+)")
GATEWAY_AE = "RANGSI_GW"
# Generous waits (a 2-core CI machine shared with other jobs); never timing assertions.
DRAIN_TIMEOUT_SECS = 600


# ---------------------------------------------------------------------------
# The link: a TCP proxy that can drop every connection or refuse new ones


class LinkProxy:
    """127.0.0.1:port → target, on an asyncio loop in a thread. `cut()` aborts every
    open connection (both sides see a reset); `refuse(True)` resets new ones at once."""

    def __init__(self, target_host: str, target_port: int, tls=None):
        self.target = (target_host, target_port)
        self.tls = tls  # an ssl.SSLContext: the proxy terminates HTTPS, as a hospital-facing front would
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.refusing = False
        self.cuts = 0
        self.server = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.tls)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self.conns.add(pair)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                for x in pair:
                    x.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.conns.discard(pair)

    def _abort_all(self) -> None:
        for pair in list(self.conns):
            for w in pair:
                w.transport.abort()
        self.conns.clear()

    def cut(self) -> None:
        self.cuts += 1
        self.loop.call_soon_threadsafe(self._abort_all)

    def refuse(self, on: bool) -> None:
        self.refusing = on
        if on:
            self.cut()

    def stop(self) -> None:
        async def close():
            if self.server is not None:
                self.server.close()
            self._abort_all()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in handlers:
                t.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# ---------------------------------------------------------------------------
# The gateway process


class Gateway:
    """One gateway data directory and (at most) one running `rangsi gateway` on it, on a
    fixed DICOM port so that modalities find it again after a restart."""

    def __init__(self, binary: Path, workdir: Path, upstream: str, token: str, extra: list[str] | None = None):
        self.binary = binary
        self.workdir = workdir
        self.data = workdir / "gateway-data"
        self.upstream = upstream
        self.token = token
        self.port = free_port()
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def peer(self) -> Peer:
        return Peer("127.0.0.1", self.port, GATEWAY_AE)

    def log_path(self, n: int | None = None) -> Path:
        return self.workdir / f"gateway-{self.starts if n is None else n}.log"

    def logs(self) -> str:
        return "".join(self.log_path(n).read_text(errors="replace") for n in range(1, self.starts + 1))

    def start(self) -> None:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("RANGSI_")}
        env["RANGSI_GATEWAY_TOKEN"] = self.token
        env["RANGSI_LOG"] = "info"
        log = open(self.log_path(), "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "gateway", "--data", str(self.data), "--dicom", f"127.0.0.1:{self.port}",
             "--ae-title", GATEWAY_AE, "--upstream", self.upstream, "--batch", "25",
             "--retry-max-secs", "1", "--report-secs", "1", *self.extra],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            text = self.log_path().read_text(errors="replace")
            if DICOM_LINE.search(text):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"rangsi gateway exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"rangsi gateway did not start:\n{self.log_path().read_text(errors='replace')[-3000:]}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill9()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RANGSI_")}
        proc = subprocess.run([str(self.binary), "gateway", *args, "--data", str(self.data)],
                              capture_output=True, timeout=120, env=env)
        assert proc.returncode == 0, (
            f"rangsi gateway {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
        )
        return proc

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def wait(self, what: str, pred, timeout: float = DRAIN_TIMEOUT_SECS) -> dict:
        """Polls `rangsi gateway status` until `pred(status)`; a generous bound, not a timing check."""
        deadline = time.time() + timeout
        st = self.status()
        while not pred(st):
            assert self.proc is not None and self.proc.poll() is None, (
                f"rangsi gateway died while waiting for {what}:\n{self.log_path().read_text(errors='replace')[-3000:]}"
            )
            assert time.time() < deadline, f"gateway never reached {what}; last status {st}\n{self.logs()[-3000:]}"
            time.sleep(0.3)
            st = self.status()
        return st

    def wait_drained(self, timeout: float = DRAIN_TIMEOUT_SECS) -> dict:
        return self.wait("an empty queue", lambda s: s["pending"] == 0, timeout)


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def regional(rangsi_bin, tmp_path_factory):
    """A regional archive of its own (so counts are this module's), with an 8 MiB body
    limit for the gzip-bomb and refused-instance checks."""
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("gateway-regional"), extra_args=["--max-body-mb", "8"])
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    out = srv.cli("token", "create", "--gateway", "gw-udon", "--hospital", HOSPITAL_UDON).stdout.decode().strip()
    assert out.startswith("rgw_") and len(out.split()) == 1, f"gateway token create printed {out!r}"
    srv.tokens["gw-udon"] = out
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def link(regional):
    proxy = LinkProxy("127.0.0.1", int(regional.http_url.rsplit(":", 1)[1]))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def make_gateway(rangsi_bin, regional, link, tmp_path):
    made: list[Gateway] = []

    def make(token: str | None = None, via_proxy: bool = True, name: str = "gw", extra: list[str] | None = None) -> Gateway:
        upstream = f"http://127.0.0.1:{link.port}" if via_proxy else regional.http_url
        g = Gateway(rangsi_bin, tmp_path / name, upstream, token or regional.tokens["gw-udon"], extra)
        g.workdir.mkdir(parents=True, exist_ok=True)
        made.append(g)
        return g

    yield make
    for g in made:
        g.stop()


def alice_of(regional) -> DicomWeb:
    return DicomWeb(regional.http_url, token=regional.tokens["alice"], name="alice")


def make_studies(out: Path, studies: int, per_study: int, seed: int) -> dict[str, list[Path]]:
    """`studies` studies of `per_study` 64×64 instances (two series each), as files."""
    rng = np.random.default_rng(seed)
    files: dict[str, list[Path]] = {}
    for s in range(studies):
        study_uid = f"1.2.826.0.1.3680043.10.1166.77.{seed}.{s + 1}"
        series = [f"{study_uid}.{k}" for k in (1, 2)]
        files[study_uid] = []
        for i in range(per_study):
            pixels = ((np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) + rng.integers(0, 50, (64, 64))) % 4096).astype(np.uint16)
            ds = new_image(patient_id=f"GW{seed}-{s}", study_uid=study_uid, series_uid=series[i % 2],
                           sop_uid=f"{study_uid}.{i % 2 + 1}.{i + 1}", instance_number=i + 1,
                           series_number=i % 2 + 1, modality="CT", pixels=pixels)
            files[study_uid].append(save(ds, out / f"s{s}" / f"{i:04d}.dcm"))
    return files


def dataset_bytes(part10: bytes) -> bytes:
    """The data set of a Part 10 file: what follows the File Meta group, whose length is
    the first element's value (explicit VR little endian by definition)."""
    assert part10[128:132] == b"DICM", "not a Part 10 file"
    assert part10[132:136] == b"\x02\x00\x00\x00", "File Meta Information Group Length must come first"
    (group_len,) = struct.unpack("<I", part10[140:144])
    return part10[144 + group_len:]


def send_all(gateway: Gateway, files: list[Path], chunk: int = 50, lock: threading.Lock | None = None) -> int:
    """storescu every file to the gateway, re-sending what was not acknowledged (as a
    modality does) until each one got a C-STORE success. Returns the number of sends."""
    sends = 0
    todo = list(files)
    rounds = 0
    while todo:
        rounds += 1
        assert rounds < 2000, f"{len(todo)} file(s) never acknowledged by the gateway"
        batch, todo = todo[:chunk], todo[chunk:]
        out = storescu(gateway.peer, "MODALITY1", batch)
        sends += len(batch)
        if out.failed:
            todo = out.failed + todo
            time.sleep(0.2)
    return sends


# ---------------------------------------------------------------------------
# Tests


def test_thousand_instances_survive_kill9_and_link_cuts(make_gateway, regional, link, tmp_path):
    studies = make_studies(tmp_path / "files", studies=10, per_study=100, seed=8)
    all_files = [f for fs in studies.values() for f in fs]
    assert len(all_files) == 1000
    gw = make_gateway(extra=["--cache-days", "30"])  # keeps the queued files for the byte check
    gw.start()

    stop = threading.Event()
    chaos = {"kills": 0, "cuts": 0, "refusals": 0}

    def make_chaos() -> None:
        rnd = random.Random(8)
        i = 0
        while not stop.is_set() or chaos["kills"] < 6 or chaos["cuts"] < 15:
            time.sleep(rnd.uniform(0.2, 0.6))
            i += 1
            if i % 4 == 0:
                gw.kill9()
                chaos["kills"] += 1
                gw.start()
            elif i % 3 == 0:
                link.refuse(True)
                chaos["refusals"] += 1
                time.sleep(rnd.uniform(0.2, 0.8))
                link.refuse(False)
            else:
                link.cut()
                chaos["cuts"] += 1

    # A backlog first (the link refuses while 200 instances arrive), so that the kills
    # below find the forwarder at work.
    link.refuse(True)
    try:
        sends = send_all(gw, all_files[:200])
    finally:
        link.refuse(False)
    t = threading.Thread(target=make_chaos, daemon=True)
    t.start()
    try:
        sends += send_all(gw, all_files[200:])
    finally:
        stop.set()
        t.join(300)
    assert not t.is_alive()
    assert chaos["kills"] >= 6 and chaos["cuts"] >= 15, chaos

    st = gw.wait_drained()
    assert st["failed"] == 0, f"instances failed for good: {st['failed_instances'][:5]}"
    assert st["forwarded"] == 1000 and st["cached"] == 1000, st
    logs = gw.logs()
    assert "forwarding failed; will retry" in logs, "the link cuts never hit a forward: the test proves nothing"
    # Runs of the gateway that forwarded and were then killed: kill -9 hit it mid-work.
    killed_while_forwarding = sum(
        "batch forwarded" in gw.log_path(n).read_text(errors="replace") for n in range(1, gw.starts)
    )
    assert killed_while_forwarding >= 2, f"only {killed_while_forwarding} killed run(s) had forwarded anything"
    print(f"chaos: {chaos}, gateway runs: {gw.starts}, killed while forwarding: {killed_while_forwarding}, "
          f"transient errors: {logs.count('forwarding failed; will retry')}, sends: {sends}")

    # Exactly once at the regional server: its index, its QIDO and its WADO agree.
    db = index_db(regional, readonly=True)
    study_uids = list(studies)
    marks = ",".join("?" * len(study_uids))
    n, distinct = db.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT i.sop_uid) FROM instances i JOIN series se ON se.id = i.series_ref "
        f"JOIN studies st ON st.id = se.study_ref WHERE st.study_uid IN ({marks})", study_uids).fetchone()
    conflicts = db.execute("SELECT COUNT(*) FROM instance_conflicts").fetchone()[0]
    db.close()
    assert (n, distinct, conflicts) == (1000, 1000, 0)

    queued = {p.name.removesuffix(".dcm") for p in (gw.data / "blobs").rglob("*.dcm")}
    alice = alice_of(regional)
    for study_uid, files in studies.items():
        hits = alice.qido(f"/studies/{study_uid}/instances", {"limit": 1000})
        assert len(hits) == len(files) == 100, f"study {study_uid}: {len(hits)} instances at the regional server"
        parts = alice.retrieve(f"/studies/{study_uid}")
        assert len(parts) == 100
        got = {}
        for p in parts:
            whole = hashlib.sha256(p.body).hexdigest()
            assert whole in queued, "the regional server's file is not byte-identical to the gateway's queued file"
            ds = dataset_bytes(p.body)
            got[hashlib.sha256(ds).hexdigest()] = got.get(hashlib.sha256(ds).hexdigest(), 0) + 1
        sent = {hashlib.sha256(dataset_bytes(f.read_bytes())).hexdigest(): 1 for f in files}
        assert got == sent, f"study {study_uid}: data sets differ from what the modality sent"


def test_wrong_token_is_a_clear_error_and_nothing_is_lost(make_gateway, regional, tmp_path):
    studies = make_studies(tmp_path / "files", studies=1, per_study=3, seed=21)
    (study_uid, files), = studies.items()
    gw = make_gateway(token="rgw_not-a-real-token", via_proxy=False)
    gw.start()
    send_all(gw, files)
    st = gw.wait("a token error", lambda s: s["last_error"] and "401" in s["last_error"])
    assert "token" in st["last_error"], st["last_error"]
    assert st["pending"] == 3 and st["forwarded"] == 0
    text = gw.cli("status").stdout.decode()
    assert "pending:       3 instance(s)" in text and "401" in text, text
    assert alice_of(regional).qido("/studies", {"StudyInstanceUID": study_uid}) == []

    gw.stop()
    gw.token = regional.tokens["gw-udon"]
    gw.start()
    st = gw.wait_drained()
    assert st["forwarded"] == 3 and st["last_success_at"], st
    assert len(alice_of(regional).qido(f"/studies/{study_uid}/instances")) == 3


def test_gateway_token_may_only_store_for_its_hospital(regional):
    token = regional.tokens["gw-udon"]
    gwc = DicomWeb(regional.http_url, token=token, name="gateway")
    assert gwc.qido_response("/studies").status_code == 403
    assert gwc.get("/studies/1.2.3/metadata").status_code == 403
    r = requests.get(regional.http_url + "/api/gateways", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 403
    r = requests.get(regional.http_url + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 403

    ds = new_image(patient_id="GWSTOW", study_uid="1.2.826.0.1.3680043.10.1166.77.99.1", pixels=noise_image(16, 16, seed=3))
    path = save(ds, Path(regional.workdir) / "gw-stow.dcm")
    body = gwc.stow_ok([path.read_bytes()])
    assert "00081199" in body
    alice = alice_of(regional)
    bob = DicomWeb(regional.http_url, token=regional.tokens["bob"], name="bob")
    assert len(alice.qido("/studies", {"StudyInstanceUID": ds.StudyInstanceUID})) == 1
    assert bob.qido("/studies", {"StudyInstanceUID": ds.StudyInstanceUID}) == []
    # Users cannot report as a gateway.
    r = requests.post(regional.http_url + "/api/gateways/status", json={"queue_length": 0},
                      headers={"Authorization": f"Bearer {regional.tokens['alice']}"}, timeout=30)
    assert r.status_code == 403


def test_gzip_stow_is_accepted_and_a_gzip_bomb_is_refused(regional):
    alice = alice_of(regional)
    ds = new_image(patient_id="GZIP", study_uid="1.2.826.0.1.3680043.10.1166.77.98.1", pixels=noise_image(64, 64, seed=4))
    raw = save(ds, Path(regional.workdir) / "gzip.dcm").read_bytes()
    body, ctype = encode_multipart([raw])
    r = alice.post("/studies", data=gzip.compress(body),
                   headers={"Content-Type": ctype, "Content-Encoding": "gzip", "Accept": "application/dicom+json"})
    assert r.status_code == 200, r.text
    parts = alice.retrieve(f"/studies/{ds.StudyInstanceUID}")
    assert [p.body for p in parts] == [raw]

    # 64 MiB of zeros in one part, about 64 KiB on the wire: over the 8 MiB limit once inflated.
    boundary = "bomb"
    bomb = gzip.compress(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                         + bytes(64 << 20) + f"\r\n--{boundary}--\r\n".encode(), compresslevel=9)
    assert len(bomb) < 1 << 20
    r = alice.post("/studies", data=bomb, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Content-Encoding": "gzip"})
    assert r.status_code == 413, f"{r.status_code} {r.text[:300]}"
    assert regional.healthy()


def test_status_reports_reach_the_regional_list(make_gateway, regional, tmp_path):
    studies = make_studies(tmp_path / "files", studies=1, per_study=2, seed=33)
    gw = make_gateway(via_proxy=False)
    gw.start()
    send_all(gw, next(iter(studies.values())))
    gw.wait_drained()
    gw.wait("a report", lambda s: s["last_report_at"] is not None)
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {regional.tokens['admin']}"
    deadline = time.time() + 120
    while True:
        r = admin.get(regional.http_url + "/api/gateways", timeout=30)
        assert r.status_code == 200, r.text
        (g,) = [g for g in r.json()["gateways"] if g["name"] == "gw-udon"]
        rep = g["report"]
        if rep and rep["queue_length"] == 0 and rep["forwarded_total"] >= 2 and g["health"] == "healthy":
            break
        assert time.time() < deadline, f"the regional list never showed the drained gateway: {g}"
        time.sleep(0.5)
    assert g["hospital_code"] == HOSPITAL_UDON and g["report"]["version"] and g["reported_at"]
    alice = requests.get(regional.http_url + "/api/gateways", timeout=30,
                         headers={"Authorization": f"Bearer {regional.tokens['alice']}"}).json()
    assert [g["name"] for g in alice["gateways"]] == ["gw-udon"]
    bob = requests.get(regional.http_url + "/api/gateways", timeout=30,
                       headers={"Authorization": f"Bearer {regional.tokens['bob']}"}).json()
    assert bob["gateways"] == []
    # A second gateway on the same queue would send everything twice: refused.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANGSI_")}
    env["RANGSI_GATEWAY_TOKEN"] = gw.token
    second = subprocess.run([str(gw.binary), "gateway", "--data", str(gw.data), "--dicom", "127.0.0.1:0",
                             "--upstream", gw.upstream], capture_output=True, timeout=60, env=env)
    assert second.returncode != 0 and b"already runs" in second.stderr, second.stderr
    text = gw.cli("status").stdout.decode()
    for line in ("upstream:", "pending:       0 instance(s)", "forwarded:     2", "failed:        0", "last success:"):
        assert line in text, text


def test_an_instance_the_regional_server_refuses_is_kept_failed_with_its_reason(make_gateway, regional, tmp_path):
    # 2,600 × 2,600 × 16 bits: over the regional server's 8 MiB limit, fine for the gateway.
    big = new_image(patient_id="GWBIG", study_uid="1.2.826.0.1.3680043.10.1166.77.97.1",
                    pixels=noise_image(2600, 2600, seed=5))
    small = new_image(patient_id="GWBIG", study_uid="1.2.826.0.1.3680043.10.1166.77.97.1",
                      sop_uid="1.2.826.0.1.3680043.10.1166.77.97.1.9", pixels=noise_image(32, 32, seed=6))
    files = [save(big, tmp_path / "big.dcm"), save(small, tmp_path / "small.dcm")]
    gw = make_gateway(via_proxy=False)
    gw.start()
    send_all(gw, files)
    st = gw.wait("the refused instance to fail", lambda s: s["failed"] == 1 and s["pending"] == 0)
    (f,) = st["failed_instances"]
    assert f["sop_instance_uid"] == big.SOPInstanceUID and "413" in f["reason"], f
    assert st["forwarded"] >= 1
    assert "failed instances" in gw.cli("status").stdout.decode()
    alice = alice_of(regional)
    assert [h["00080018"]["Value"][0] for h in alice.qido(f"/studies/{big.StudyInstanceUID}/instances")] == [small.SOPInstanceUID]
    # retry: queued again, refused again, still kept.
    assert "1 failed instance(s) queued again" in gw.cli("retry").stdout.decode()
    gw.wait("the retried instance to fail again", lambda s: s["failed"] == 1 and s["pending"] == 0)


def test_local_cache_serves_while_the_link_is_down_and_is_pruned_without_it(make_gateway, regional, link, tmp_path):
    from pydicom.dataset import Dataset

    from dimse import pynetdicom_find, pynetdicom_get

    studies = make_studies(tmp_path / "files", studies=1, per_study=3, seed=44)
    (study_uid, files), = studies.items()
    gw = make_gateway(extra=["--cache-days", "7"], name="cached")
    link.refuse(True)
    try:
        gw.start()
        send_all(gw, files)
        st = gw.wait("a failed forward", lambda s: s["last_error"] is not None and s["pending"] == 3)
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = study_uid
        query.NumberOfStudyRelatedInstances = ""
        found, status = pynetdicom_find(gw.peer, "WORKSTATION", query)
        assert status == 0 and [str(d.StudyInstanceUID) for d in found] == [study_uid], (found, status)
        got, status = pynetdicom_get(gw.peer, "WORKSTATION", query, ["1.2.840.10008.5.1.4.1.1.7"])
        assert status == 0 and len(got) == 3, (len(got), status)
    finally:
        link.refuse(False)
    st = gw.wait_drained()
    assert st["forwarded"] == 3 and st["cached"] == 3
    found, status = pynetdicom_find(gw.peer, "WORKSTATION", query)
    assert [str(d.StudyInstanceUID) for d in found] == [study_uid], "forwarded instances stay for --cache-days"

    # Without a cache, the gateway forgets what the regional server acknowledged.
    studies = make_studies(tmp_path / "files2", studies=1, per_study=3, seed=45)
    (study2, files2), = studies.items()
    plain = make_gateway(via_proxy=False, name="plain")
    plain.start()
    send_all(plain, files2)
    st = plain.wait("forwarded and forgotten", lambda s: s["pending"] == 0 and s["cached"] == 0 and s["forwarded"] == 3)
    query.StudyInstanceUID = study2
    deadline = time.time() + 120
    while list(plain.data.joinpath("blobs").rglob("*.dcm*")):
        assert time.time() < deadline, list(plain.data.joinpath("blobs").rglob("*.dcm*"))
        time.sleep(0.3)
    found, status = pynetdicom_find(plain.peer, "WORKSTATION", query)
    assert found == [] and status == 0
    assert len(alice_of(regional).qido(f"/studies/{study2}/instances")) == 3


def make_private_ca(out: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate for 127.0.0.1 signed by it (openssl): (CA, cert, key)."""
    out.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key, csr, ext = (out / n for n in ("ca.pem", "ca.key", "server.pem", "server.key", "server.csr", "ext.cnf"))

    def openssl(*args: str) -> None:
        r = subprocess.run(["openssl", *args], capture_output=True, timeout=60)
        assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}"

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
            "-subj", "/CN=Health Region 8 test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def test_https_upstream_with_a_private_ca(make_gateway, regional, tmp_path):
    import ssl

    ca, cert, key = make_private_ca(tmp_path / "pki")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    front = LinkProxy("127.0.0.1", int(regional.http_url.rsplit(":", 1)[1]), tls=ctx)
    front.start()
    try:
        studies = make_studies(tmp_path / "files", studies=1, per_study=2, seed=55)
        (study_uid, files), = studies.items()
        # Without the private CA the gateway cannot trust the server: a clear error, nothing lost.
        untrusting = make_gateway(via_proxy=False, name="untrusting")
        untrusting.upstream = f"https://127.0.0.1:{front.port}"
        untrusting.start()
        send_all(untrusting, files)
        st = untrusting.wait("a certificate error", lambda s: s["last_error"] is not None)
        assert "certificate" in st["last_error"].lower() and st["pending"] == 2, st
        untrusting.stop()

        gw = make_gateway(via_proxy=False, name="https", extra=["--ca-cert", str(ca)])
        gw.upstream = f"https://127.0.0.1:{front.port}"
        gw.start()
        send_all(gw, files)
        st = gw.wait_drained()
        assert st["forwarded"] == 2 and st["upstream"].startswith("https://"), st
        assert len(alice_of(regional).qido(f"/studies/{study_uid}/instances")) == 2
    finally:
        front.stop()
