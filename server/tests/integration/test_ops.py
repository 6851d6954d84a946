"""Operating Rangsi: Prometheus /metrics (parsed with prometheus_client's parser),
/readyz, JSON logs, graceful shutdown with an upload and an association in flight,
online backup / restore / fsck --verify, and TLS for HTTP and DICOM with certificate
reload (requests, curl, Python's ssl and pynetdicom over TLS, certificates made by
openssl). Each test runs its own server: most of them stop or break it.

Backup and restore run on either engine of the index (`RANGSI_TEST_DB=postgres`: the
PostgreSQL pass; a restored index then goes into a fresh database of the same cluster),
and one test always runs on PostgreSQL: `pg_dump` / `pg_restore` round trip, refusals.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pydicom
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import dicomweb as dw
from dicom_factory import new_image, noise_image, save
from dimse import Peer, pynetdicom_ae, pynetdicom_store, run_dcmtk
from postgres import PG_BIN, shared_postgres
from rangsi_server import HOSPITAL_UDON, PASSWORDS, Server, free_port, index_db

SC = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
CONTEXTS = [(SC, ExplicitVRLittleEndian)]
METRICS_LINE = re.compile(r"rangsi: metrics listening on (http://\S+/metrics)")


def wait_for(what: str, check, deadline_secs: float = 30):
    """Polls `check` until it returns something truthy (not a timing assertion: the
    deadline only turns a hang into a failure)."""
    end = time.time() + deadline_secs
    while time.time() < end:
        v = check()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def started(rangsi_bin, tmp_path: Path, extra: list[str] | None = None) -> Server:
    srv = Server(rangsi_bin, tmp_path, extra_args=extra or [])
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    return srv


def instance_files(tmp_path: Path, n: int, *, patient_id: str, study_uid: str | None = None) -> list[Path]:
    study_uid = study_uid or generate_uid()
    series = generate_uid()
    return [
        save(
            new_image(patient_id=patient_id, patient_name="OPS^PATIENT", study_uid=study_uid, series_uid=series,
                      instance_number=i + 1, pixels=noise_image(64, 64, seed=i + len(patient_id))),
            tmp_path / f"{patient_id}-{i}.dcm",
        )
        for i in range(n)
    ]


class SlowStow(threading.Thread):
    """A STOW-RS upload whose body is sent in two pieces: the first quarter at once (inside
    the first part, so nothing is stored yet), the rest only when `go` is set (the test
    sends SIGTERM or takes a backup in between)."""

    def __init__(self, srv: Server, token: str, files: list[Path]):
        super().__init__(daemon=True)
        self.body, self.ctype = dw.encode_multipart([f.read_bytes() for f in files])
        host, port = srv.http_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.token = token
        self.sent_half = threading.Event()
        self.go = threading.Event()
        self.status: int | None = None
        self.response = b""
        self.error: BaseException | None = None

    def run(self):
        try:
            self.conn.putrequest("POST", "/dicomweb/studies")
            self.conn.putheader("Authorization", f"Bearer {self.token}")
            self.conn.putheader("Content-Type", self.ctype)
            self.conn.putheader("Accept", dw.DICOM_JSON)
            self.conn.putheader("Content-Length", str(len(self.body)))
            self.conn.endheaders()
            half = len(self.body) // 4
            self.conn.send(self.body[:half])
            self.sent_half.set()
            self.go.wait(120)
            self.conn.send(self.body[half:])
            r = self.conn.getresponse()
            self.status, self.response = r.status, r.read()
        except BaseException as e:  # reported by the test
            self.error = e
            self.sent_half.set()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, f"GET {url} -> {r.status_code}"
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
    samples = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, r.text


def sample(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------
# metrics and probes


def test_metrics_count_stow_and_c_store_without_patient_data(rangsi_bin, tmp_path):
    srv = started(rangsi_bin, tmp_path, ["--metrics", "127.0.0.1:0"])
    try:
        url = wait_for("metrics line", lambda: METRICS_LINE.search(srv.log_path.read_text()))[1]
        before, _ = scrape(url)
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        stow_files = instance_files(tmp_path / "stow", 2, patient_id="OPS-METRICS-STOW")
        alice.stow_ok([f.read_bytes() for f in stow_files])
        dimse_files = instance_files(tmp_path / "dimse", 3, patient_id="OPS-METRICS-DIMSE")
        peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
        results = pynetdicom_store(peer, "MODA", [pydicom.dcmread(f) for f in dimse_files], CONTEXTS)
        assert all(s is not None and s.Status == 0 for _, s in results), f"C-STORE statuses: {results}"
        study_uid = str(pydicom.dcmread(stow_files[0]).StudyInstanceUID)
        assert alice.qido("/studies", {"StudyInstanceUID": study_uid}), "stored study not found"

        after, text = scrape(url)
        stored = "rangsi_instances_stored_total"
        assert sample(after, stored, protocol="dicomweb", outcome="new") - sample(before, stored, protocol="dicomweb", outcome="new") == 2
        assert sample(after, stored, protocol="dimse", outcome="new") - sample(before, stored, protocol="dimse", outcome="new") == 3
        stored_bytes = sum(f.stat().st_size for f in dimse_files)
        assert sample(after, "rangsi_stored_bytes_total", protocol="dimse") >= stored_bytes * 0.9
        assert sample(after, "rangsi_dimse_commands_total", command="C-STORE", status="success") == 3
        assert sample(after, "rangsi_dimse_associations_total", result="accepted") >= 1
        assert sample(after, "rangsi_http_requests_total", method="POST", route="/dicomweb/studies", status="200") == 1
        assert sample(after, "rangsi_http_requests_total", method="GET", route="/dicomweb/studies", status="200") >= 1
        assert sample(after, "rangsi_http_request_duration_seconds_count", method="POST", route="/dicomweb/studies") == 1
        assert sample(after, "rangsi_blob_operation_duration_seconds_count", op="put") >= 5
        assert sample(after, "rangsi_db_pool_max_connections") >= 1
        assert sample(after, "rangsi_build_info", version=sample_version(after)) == 1
        assert sample(after, "rangsi_uptime_seconds") > 0
        assert ("rangsi_audit_queue_depth", ()) in after

        # No patient data: no UID, patient ID or name of what was stored.
        for f in stow_files + dimse_files:
            ds = pydicom.dcmread(f)
            for v in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.PatientID, "OPS^PATIENT", "MODA"):
                assert str(v) not in text, f"{v} appears in /metrics"
        # Not on the public port.
        r = requests.get(srv.http_url + "/metrics", timeout=30)
        assert "rangsi_http_requests_total" not in r.text, "/metrics must not be served on the public HTTP port"
    finally:
        srv.stop()


def sample_version(samples) -> str:
    for (name, labels), _ in samples.items():
        if name == "rangsi_build_info":
            return dict(labels)["version"]
    raise AssertionError("no rangsi_build_info")


def test_readyz_reports_a_broken_blob_store(rangsi_bin, tmp_path):
    config = tmp_path / "rangsi.toml"
    config.write_text('[ops]\nmetrics = "127.0.0.1:0"\nshutdown_grace = 5\n')
    srv = started(rangsi_bin, tmp_path, ["--config", str(config)])
    try:
        r = requests.get(srv.http_url + "/readyz", timeout=30)
        assert r.status_code == 200 and r.text.strip() == "ready", f"/readyz -> {r.status_code} {r.text!r}"
        metrics_url = wait_for("metrics line from the config file", lambda: METRICS_LINE.search(srv.log_path.read_text()))[1]
        assert requests.get(metrics_url.replace("/metrics", "/readyz"), timeout=30).status_code == 200
        blobs = srv.data / "blobs"
        blobs.rename(srv.data / "blobs.away")
        blobs.write_text("not a folder")
        try:
            r = requests.get(srv.http_url + "/readyz", timeout=30)
            assert r.status_code == 503 and "blob store" in r.text, f"/readyz with no blob folder -> {r.status_code} {r.text!r}"
            assert requests.get(srv.http_url + "/healthz", timeout=30).status_code == 200, "liveness must not fail"
        finally:
            blobs.unlink()
            (srv.data / "blobs.away").rename(blobs)
        assert requests.get(srv.http_url + "/readyz", timeout=30).status_code == 200
    finally:
        srv.stop()
    r = subprocess.run([rangsi_bin, "serve", "--data", srv.data, "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0",
                        "--tls-cert", tmp_path / "missing.pem"], capture_output=True, timeout=60,
                       env={**os.environ, **srv.blob_env})
    assert r.returncode != 0 and b"both a certificate and its key" in r.stderr, r


def test_json_logs_are_json_lines_with_request_and_association_spans(rangsi_bin, tmp_path):
    srv = started(rangsi_bin, tmp_path, ["--log-format", "json"])
    alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
    alice.qido("/studies", {"PatientID": "NOBODY"})
    peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
    files = instance_files(tmp_path, 1, patient_id="OPS-LOG")
    pynetdicom_store(peer, "MODA", [pydicom.dcmread(files[0])], CONTEXTS)
    srv.stop()
    assert srv.proc.returncode == 0
    records = []
    for line in srv.log_path.read_text().splitlines():
        if line.startswith("rangsi: "):  # the listening lines on stdout, for scripts
            continue
        records.append(json.loads(line))
    assert records, "no log lines"
    for rec in records:
        assert {"timestamp", "level", "target", "message"} <= rec.keys(), rec
    requests_logged = [r for r in records if r["message"] == "request" and r.get("span", {}).get("route") == "/dicomweb/studies"]
    assert requests_logged, "no request log line for /dicomweb/studies"
    q = requests_logged[0]
    assert q["span"]["method"] == "GET" and q["status"] == 200 and q["latency_ms"] >= 0, q
    assert q["target"] == "rangsi::http" and "NOBODY" not in json.dumps(q), "the query string is not logged"
    closed = [r for r in records if r["message"] == "association closed"]
    assert closed and closed[0]["span"]["calling_ae"] == "MODA", closed
    assert closed[0]["span"]["remote"].startswith("127.0.0.1:"), closed[0]


# ---------------------------------------------------------------------------
# graceful shutdown


def wait_until_upload_in_flight(srv: Server) -> None:
    """Until the server counts the slow upload as a request in progress (its headers
    read). Bytes merely sent may still sit in the socket: a connection the server has
    not read from yet is idle to it, and a graceful shutdown closes idle connections."""
    url = wait_for("metrics line", lambda: METRICS_LINE.search(srv.log_path.read_text()))[1]
    wait_for("the upload in flight", lambda: sample(scrape(url)[0], "rangsi_http_requests_in_flight") >= 1)


def refused(host: str, port: int) -> bool:
    """Whether a new connection to host:port is refused. A connection reset while the
    listener is being closed (the kernel had queued the handshake) is the port on its
    way to closed: not yet refused, so the caller asks again."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False


def test_sigterm_lets_an_upload_and_an_association_finish(rangsi_bin, tmp_path):
    srv = started(rangsi_bin, tmp_path, ["--shutdown-grace", "120", "--metrics", "127.0.0.1:0"])
    http_host, http_port = srv.http_url.removeprefix("http://").split(":")
    stow_files = instance_files(tmp_path / "stow", 3, patient_id="OPS-SHUT-STOW")
    upload = SlowStow(srv, srv.tokens["alice"], stow_files)
    upload.start()
    assert upload.sent_half.wait(60) and upload.error is None, upload.error
    wait_until_upload_in_flight(srv)

    dimse_files = instance_files(tmp_path / "dimse", 4, patient_id="OPS-SHUT-DIMSE")
    ae = pynetdicom_ae("MODA")
    ae.add_requested_context(SC, ExplicitVRLittleEndian)
    assoc = ae.associate(srv.dicom_host, srv.dicom_port, ae_title=srv.ae_title)
    assert assoc.is_established
    statuses = [assoc.send_c_store(pydicom.dcmread(dimse_files[0]))]

    srv.proc.send_signal(signal.SIGTERM)
    # New connections are refused while the two in flight go on.
    wait_for("HTTP port closed", lambda: refused(http_host, int(http_port)))
    wait_for("DICOM port closed", lambda: refused(srv.dicom_host, srv.dicom_port))
    assert srv.proc.poll() is None, "server exited with an upload and an association in flight"

    statuses += [assoc.send_c_store(pydicom.dcmread(f)) for f in dimse_files[1:]]
    assoc.release()
    upload.go.set()
    upload.join(120)
    assert upload.error is None, f"slow STOW failed: {upload.error!r}"
    assert upload.status == 200, f"slow STOW during shutdown -> {upload.status} {upload.response[:500]!r}"
    assert [s.Status if s else None for s in statuses] == [0, 0, 0, 0], statuses

    assert srv.proc.wait(120) == 0, f"exit code {srv.proc.returncode}:\n{srv.log_tail()}"
    srv.start()
    try:
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        for files in (stow_files, dimse_files):
            ds = pydicom.dcmread(files[0])
            got = alice.qido(f"/studies/{ds.StudyInstanceUID}/instances")
            assert len(got) == len(files), f"{ds.PatientID}: {len(got)} of {len(files)} instances stored"
        fsck = srv.cli("fsck", "--verify").stdout.decode()
        assert "consistent" in fsck and "INCONSISTENT" not in fsck, fsck
    finally:
        srv.stop()


def test_shutdown_grace_bounds_the_wait_for_a_stalled_upload(rangsi_bin, tmp_path):
    srv = started(rangsi_bin, tmp_path, ["--shutdown-grace", "1", "--metrics", "127.0.0.1:0"])
    files = instance_files(tmp_path / "stow", 2, patient_id="OPS-STALLED")
    upload = SlowStow(srv, srv.tokens["alice"], files)
    upload.start()
    assert upload.sent_half.wait(60) and upload.error is None, upload.error
    wait_until_upload_in_flight(srv)
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(60) == 0, srv.log_tail()
    assert "grace period over" in srv.log_tail()
    upload.go.set()
    upload.join(60)
    assert upload.status != 200, "an upload cut at shutdown must not be acknowledged"
    srv.start()
    try:
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        assert alice.qido("/studies", {"PatientID": "OPS-STALLED"}) == []
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# backup, restore, fsck


def audit_rows(srv) -> list[tuple]:
    """The audit log of a server's index (or of a `BackupIndex`), read directly."""
    with index_db(srv, readonly=True) as db:
        return [tuple(r) for r in db.execute("SELECT * FROM audit_log ORDER BY id").fetchall()]


class BackupIndex:
    """The index snapshot in a backup folder, opened for `index_db` without rangsi: the
    SQLite file as it is, or the `pg_dump` archive restored by PostgreSQL's own
    `pg_restore` into a fresh database (an independent reader of the dump)."""

    def __init__(self, backup_dir: Path):
        if (backup_dir / "index.pgdump").exists():
            self.database = shared_postgres().new_database("backup_oracle")
            self.data = None
            r = subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error", "-d", self.database,
                                str(backup_dir / "index.pgdump")], capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr.decode(errors="replace")
        else:
            self.database = None
            self.data = backup_dir


def restore_cmd(rangsi_bin, backup: Path, data: Path, database: str | None = None, *extra: str) -> subprocess.CompletedProcess:
    """`rangsi restore`, with only what the command line says (no RANGSI_* from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANGSI_")}
    args = [str(rangsi_bin), "restore", "--from", str(backup), "--data", str(data), *extra]
    if database:
        args += ["--database", database]
    return subprocess.run(args, capture_output=True, timeout=300, env=env)


def restore_target(srv: Server, hint: str) -> str | None:
    """Where a restore of `srv`'s backup puts the index: a fresh database of the same
    cluster when `srv`'s is on PostgreSQL, else (None) SQLite in the data directory."""
    return shared_postgres().new_database(hint) if srv.database else None


def all_instances(client: dw.DicomWeb) -> dict[str, str]:
    """SOP Instance UID -> SHA-256 of the instance as retrieved."""
    out = {}
    for study in client.qido("/studies"):
        s = dw.value(study, dw.STUDY_INSTANCE_UID)
        for part in client.retrieve(f"/studies/{s}"):
            ds = pydicom.dcmread(__import__("io").BytesIO(part.body))
            out[str(ds.SOPInstanceUID)] = hashlib.sha256(part.body).hexdigest()
    return out


def test_online_backup_and_restore_give_identical_instances_and_audit(rangsi_bin, tmp_path):
    srv = started(rangsi_bin, tmp_path / "live")
    backup_dir = tmp_path / "backup"
    try:
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        alice.stow_ok([f.read_bytes() for f in instance_files(tmp_path / "a", 3, patient_id="OPS-BK-A")])
        peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
        pynetdicom_store(peer, "MODA", [pydicom.dcmread(f) for f in instance_files(tmp_path / "b", 2, patient_id="OPS-BK-B")], CONTEXTS)

        # Backup while the server runs and an upload is half sent.
        upload = SlowStow(srv, srv.tokens["alice"], instance_files(tmp_path / "c", 2, patient_id="OPS-BK-C"))
        upload.start()
        assert upload.sent_half.wait(60) and upload.error is None, upload.error
        out = srv.cli("backup", "--to", str(backup_dir)).stdout.decode()
        assert "5 instances" in out and "5 copied" in out, out
        upload.go.set()
        upload.join(120)
        assert upload.status == 200, upload.response[:500]
        assert srv.healthy()

        # A second backup copies only the new blobs.
        out = srv.cli("backup", "--to", str(backup_dir)).stdout.decode()
        assert "7 instances" in out and "2 copied" in out, out

        live = all_instances(alice)
        assert len(live) == 7
        restored_dir = tmp_path / "restored"
        target_db = restore_target(srv, "restored")
        # Refuses a non-empty target.
        (restored_dir / "data").mkdir(parents=True)
        (restored_dir / "data" / "something").write_text("x")
        r = restore_cmd(rangsi_bin, backup_dir, restored_dir / "data", target_db)
        assert r.returncode != 0 and b"not empty" in r.stderr, r
        (restored_dir / "data" / "something").unlink()
        r = restore_cmd(rangsi_bin, backup_dir, restored_dir / "data", target_db)
        assert r.returncode == 0, r.stderr.decode()
        assert b"consistent" in r.stdout, r.stdout

        copy = Server(rangsi_bin, restored_dir, database=target_db)
        verify = copy.cli("fsck", "--verify").stdout.decode()
        assert "verified" in verify and "INCONSISTENT" not in verify, verify
        copy.start()
        try:
            copy.tokens["alice"] = srv.tokens["alice"]  # tokens are restored with the index
            restored = all_instances(dw.DicomWeb(copy.http_url, token=srv.tokens["alice"], name="alice"))
        finally:
            copy.stop()
        assert restored == live, "restored server must serve byte-identical instances"

        # The restored audit log is the backup's, which is the live log up to the snapshot.
        backup_audit = audit_rows(BackupIndex(backup_dir))
        live_audit = audit_rows(srv)
        restored_audit = audit_rows(copy)
        assert {"dicomweb", "dimse"} <= {str(v) for row in backup_audit for v in row}, "the uploads' audit is in the backup"
        assert restored_audit[: len(backup_audit)] == backup_audit
        assert live_audit[: len(backup_audit)] == backup_audit
        assert any("backup" in str(row) for row in live_audit), "the backup itself is audited"
    finally:
        srv.stop()


def test_index_only_backup_of_a_local_archive_restores_onto_the_same_blob_folder(rangsi_bin, tmp_path):
    """`backup --index-only`: the index snapshot and the store record, no blobs; the
    record spells out the live DATA/blobs, so the restored index reads those blobs."""
    srv = started(rangsi_bin, tmp_path / "live")
    backup_dir = tmp_path / "backup"
    try:
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        alice.stow_ok([f.read_bytes() for f in instance_files(tmp_path / "a", 2, patient_id="OPS-IO-A")])
        out = srv.cli("backup", "--index-only", "--to", str(backup_dir)).stdout.decode()
        assert "2 instances" in out and "none copied" in out, out
        manifest = json.loads((backup_dir / "rangsi-backup.json").read_text())
        assert manifest["blobs_included"] is False, manifest
        record = (backup_dir / "blob-store.toml").read_text()
        assert str((srv.data / "blobs").resolve()) in record, record
        assert not list(backup_dir.rglob("*.dcm")), "an index-only backup copies no blob"
        live = all_instances(alice)

        restored = tmp_path / "restored"
        target_db = restore_target(srv, "restored_io")
        r = restore_cmd(rangsi_bin, backup_dir, restored / "data", target_db)
        assert r.returncode == 0, r.stderr.decode()
        assert b"consistent" in r.stdout and b"none copied" in r.stdout, r.stdout
        assert not list((restored / "data").rglob("*.dcm"))
        copy = Server(rangsi_bin, restored, database=target_db)
        copy.start()
        try:
            assert all_instances(dw.DicomWeb(copy.http_url, token=srv.tokens["alice"], name="alice")) == live
        finally:
            copy.stop()

        # A full backup into the same folder afterwards drops the record again.
        out = srv.cli("backup", "--to", str(backup_dir)).stdout.decode()
        assert "2 copied" in out, out
        assert json.loads((backup_dir / "rangsi-backup.json").read_text())["blobs_included"] is True
        assert not (backup_dir / "blob-store.toml").exists()
    finally:
        srv.stop()


def test_backup_and_restore_with_the_index_on_postgresql(rangsi_bin, tmp_path):
    """Always on PostgreSQL (both passes): `rangsi backup` dumps the index with pg_dump
    (one snapshot with the blob keys) beside the blobs; `rangsi restore --database` puts
    it into a fresh database with pg_restore; every instance comes back byte-identical and
    the audit log with it. Refused: no pg_dump, no --database, a non-empty database
    (until --force), a SQLite backup given a database."""
    pg = shared_postgres()
    live_db = pg.new_database("pg_live")
    srv = Server(rangsi_bin, tmp_path / "live", database=live_db)
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    backup_dir = tmp_path / "backup"
    try:
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        alice.stow_ok([f.read_bytes() for f in instance_files(tmp_path / "a", 3, patient_id="OPS-PG-A")])
        peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
        pynetdicom_store(peer, "MODA", [pydicom.dcmread(f) for f in instance_files(tmp_path / "b", 2, patient_id="OPS-PG-B")], CONTEXTS)

        # Without PostgreSQL's client tools: a clear error, and no backup.
        empty_bin = tmp_path / "no-pg-tools"
        empty_bin.mkdir()
        r = subprocess.run([rangsi_bin, "backup", "--data", srv.data, "--to", tmp_path / "never"], capture_output=True,
                           timeout=120, env={**os.environ, **srv.blob_env, "RANGSI_PG_BIN": str(empty_bin)})
        assert r.returncode != 0 and b"pg_dump not found" in r.stderr, r
        assert not (tmp_path / "never" / "index.pgdump").exists()

        # Backup while an upload is half sent: the snapshot holds the 5 stored before it.
        upload = SlowStow(srv, srv.tokens["alice"], instance_files(tmp_path / "c", 2, patient_id="OPS-PG-C"))
        upload.start()
        assert upload.sent_half.wait(60) and upload.error is None, upload.error
        out = srv.cli("backup", "--to", str(backup_dir)).stdout.decode()
        assert "5 instances" in out and "5 copied" in out, out
        upload.go.set()
        upload.join(120)
        assert upload.status == 200, upload.response[:500]
        out = srv.cli("backup", "--to", str(backup_dir)).stdout.decode()
        assert "7 instances" in out and "2 copied" in out, out
        assert (backup_dir / "index.pgdump").is_file() and not (backup_dir / "index.sqlite").exists()
        assert not list(backup_dir.glob("*.partial")), "no partial file is left"
        manifest = json.loads((backup_dir / "rangsi-backup.json").read_text())
        assert manifest["index"] == "postgresql" and manifest["blobs_included"] is True and manifest["instances"] == 7
        # PostgreSQL's own reader of the archive lists the index's tables.
        listing = subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(backup_dir / "index.pgdump")],
                                 capture_output=True, timeout=60)
        assert listing.returncode == 0 and b"TABLE DATA public instances" in listing.stdout, listing
        assert b"TABLE DATA public audit_log" in listing.stdout
        live = all_instances(alice)
        assert len(live) == 7

        # Refusals: no database named; a non-empty database (the live one, left untouched).
        r = restore_cmd(rangsi_bin, backup_dir, tmp_path / "r0" / "data")
        assert r.returncode != 0 and b"--database" in r.stderr, r
        with index_db(srv, readonly=True) as db:
            before = db.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
        r = restore_cmd(rangsi_bin, backup_dir, tmp_path / "r1" / "data", live_db)
        assert r.returncode != 0 and b"not empty" in r.stderr, r
        with index_db(srv, readonly=True) as db:
            assert db.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == before == 7

        # Into a fresh database.
        target = pg.new_database("pg_restored")
        r = restore_cmd(rangsi_bin, backup_dir, tmp_path / "restored" / "data", target)
        assert r.returncode == 0, r.stderr.decode()
        assert b"7 instances" in r.stdout and b"consistent" in r.stdout, r.stdout
        assert not (tmp_path / "restored" / "data" / "index.sqlite").exists()
        copy = Server(rangsi_bin, tmp_path / "restored", database=target)
        verify = copy.cli("fsck", "--verify").stdout.decode()
        assert "verified" in verify and "INCONSISTENT" not in verify, verify
        copy.start()
        try:
            restored = all_instances(dw.DicomWeb(copy.http_url, token=srv.tokens["alice"], name="alice"))
            # New rows get new ids after the restored ones (identity sequences restored).
            dw.DicomWeb(copy.http_url, token=srv.tokens["alice"], name="alice").stow_ok(
                [f.read_bytes() for f in instance_files(tmp_path / "d", 1, patient_id="OPS-PG-D")])
        finally:
            copy.stop()
        assert restored == live, "restored server must serve byte-identical instances"

        backup_audit = audit_rows(BackupIndex(backup_dir))
        restored_audit = audit_rows(copy)
        live_audit = audit_rows(srv)
        assert {"dicomweb", "dimse"} <= {str(v) for row in backup_audit for v in row}, "the uploads' audit is in the backup"
        assert restored_audit[: len(backup_audit)] == backup_audit, "the audit log is restored"
        assert live_audit[: len(backup_audit)] == backup_audit
        assert len(restored_audit) > len(backup_audit), "the restored server audits on"
        assert any("backup" in str(row) for row in live_audit), "the backup itself is audited"

        # --force replaces the tables of a non-empty database (here: the restored one).
        r = restore_cmd(rangsi_bin, backup_dir, tmp_path / "again" / "data", target)
        assert r.returncode != 0 and b"not empty" in r.stderr, r
        r = restore_cmd(rangsi_bin, backup_dir, tmp_path / "again" / "data", target, "--force")
        assert r.returncode == 0 and b"consistent" in r.stdout, r.stderr.decode()
        again = Server(rangsi_bin, tmp_path / "again", database=target)
        with index_db(again, readonly=True) as db:
            assert db.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 7, "the backup's 7, not 8"
    finally:
        srv.stop()


def test_a_sqlite_backup_is_not_restored_into_postgresql(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path / "live", database=None)
    srv.blob_env.pop("RANGSI_DATABASE", None)
    srv.database = None
    srv.set_up_regional_archive()
    srv.cli("backup", "--to", str(tmp_path / "backup"))
    assert (tmp_path / "backup" / "index.sqlite").is_file()
    target = shared_postgres().new_database("never")
    r = restore_cmd(rangsi_bin, tmp_path / "backup", tmp_path / "restored" / "data", target)
    assert r.returncode != 0 and b"SQLite" in r.stderr, r
    assert not (tmp_path / "restored" / "data" / "index.sqlite").exists()


def test_fsck_verify_finds_corrupt_and_missing_blobs(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path)
    srv.set_up_regional_archive()
    files = instance_files(tmp_path / "in", 2, patient_id="OPS-FSCK")
    srv.cli("import", "--hospital", HOSPITAL_UDON, *map(str, files))
    assert "consistent" in srv.cli("fsck", "--verify").stdout.decode()
    blobs = sorted(p for p in (srv.data / "blobs").rglob("*.dcm"))
    assert len(blobs) == 2
    data = bytearray(blobs[0].read_bytes())
    data[-1] ^= 0xFF
    blobs[0].write_bytes(bytes(data))
    plain = srv.cli("fsck").stdout.decode()
    assert "INCONSISTENT" not in plain, "same size: only --verify can see it"
    r = srv.cli("fsck", "--verify", check=False)
    assert r.returncode != 0 and f"CORRUPT blob {blobs[0].relative_to(srv.data / 'blobs')}" in r.stdout.decode(), r.stdout
    blobs[1].unlink()
    r = srv.cli("fsck", check=False)
    assert r.returncode != 0 and "MISSING blob" in r.stdout.decode(), r.stdout


# ---------------------------------------------------------------------------
# TLS


def openssl(*args, cwd: Path):
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN={name}", cwd=d)


def make_cert(d: Path, ca: str, name: str, cn: str):
    (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


def der_fingerprint(pem: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(pem.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    return hashlib.sha256(der).hexdigest()


def peer_fingerprint(port: int, ca: Path, client: tuple[Path, Path] | None = None) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    if client:
        ctx.load_cert_chain(*client)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def test_tls_for_http_and_dicom_with_certificate_reload(rangsi_bin, tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    make_ca(d, "ca")
    make_cert(d, "ca", "one", "rangsi-one")
    make_cert(d, "ca", "two", "rangsi-two")
    make_ca(d, "clientca")
    make_cert(d, "clientca", "modality", "MODA")
    cert, key = d / "server.pem", d / "server.key"
    cert.write_bytes((d / "one.pem").read_bytes())
    key.write_bytes((d / "one.key").read_bytes())

    srv = Server(rangsi_bin, tmp_path / "srv")
    srv.set_up_regional_archive()
    srv.create_tokens()
    http_port = free_port()
    log = open(tmp_path / "tls.log", "wb")
    proc = subprocess.Popen(
        [rangsi_bin, "serve", "--data", srv.data, "--http", f"127.0.0.1:{http_port}", "--dicom", "127.0.0.1:0",
         "--tls-cert", cert, "--tls-key", key, "--dicom-tls", "127.0.0.1:0", "--dicom-tls-ca", d / "clientca.pem"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **srv.blob_env},
    )
    try:
        def lines():
            t = (tmp_path / "tls.log").read_text()
            return t if "dicom-tls listening" in t and "http listening" in t else None

        text = wait_for("listening lines", lines)
        assert f"http listening on https://127.0.0.1:{http_port}" in text, text
        dicom_tls_port = int(re.search(r"dicom-tls listening on 127\.0\.0\.1:(\d+)", text)[1])
        base = f"https://127.0.0.1:{http_port}"
        ca = d / "ca.pem"

        r = requests.get(base + "/healthz", verify=str(ca), timeout=30)
        assert r.status_code == 200 and r.text == "ok"
        r = requests.get(base + "/dicomweb/studies", verify=str(ca), timeout=30,
                         headers={"Authorization": f"Bearer {srv.tokens['alice']}", "Accept": dw.DICOM_JSON})
        assert r.status_code in (200, 204), r.status_code
        c = subprocess.run(["curl", "-sS", "--cacert", ca, base + "/readyz"], capture_output=True)
        assert c.returncode == 0 and c.stdout.strip() == b"ready", c
        c = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/healthz" % http_port], capture_output=True)
        assert c.stdout.strip() != b"ok", "plain HTTP must not be answered on the HTTPS port"

        # DICOM over TLS with a client certificate the CA signed: echo and store.
        def tls_assoc(client_cert: bool):
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
            if client_cert:
                ctx.load_cert_chain(d / "modality.pem", d / "modality.key")
            ae = pynetdicom_ae("MODA")
            ae.add_requested_context("1.2.840.10008.1.1")
            ae.add_requested_context(SC, ExplicitVRLittleEndian)
            return ae.associate("127.0.0.1", dicom_tls_port, ae_title="RANGSI", tls_args=(ctx, "127.0.0.1"))

        files = instance_files(tmp_path / "tls", 2, patient_id="OPS-TLS")
        assoc = tls_assoc(True)
        assert assoc.is_established, "DICOM TLS association not established"
        assert assoc.send_c_echo().Status == 0
        assert [assoc.send_c_store(pydicom.dcmread(f)).Status for f in files] == [0, 0]
        assoc.release()
        # dcmtk (OpenSSL) as the other TLS peer.
        echo = run_dcmtk(["echoscu", "-v", "+tls", d / "modality.key", d / "modality.pem", "+cf", ca,
                          "-aet", "MODA", "-aec", "RANGSI", "127.0.0.1", dicom_tls_port], timeout=60)
        assert echo.returncode == 0 and "Received Echo Response (Success)" in echo.output, str(echo)
        no_cert = tls_assoc(False)
        assert not no_cert.is_established, "a DICOM TLS peer without a client certificate must be refused"
        study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
        r = requests.get(base + f"/dicomweb/studies/{study}/instances", verify=str(ca), timeout=30,
                         headers={"Authorization": f"Bearer {srv.tokens['alice']}", "Accept": dw.DICOM_JSON})
        assert r.status_code == 200 and len(r.json()) == 2

        # Reload: a connection opened before keeps working; new ones see the new certificate.
        one, two = der_fingerprint(d / "one.pem"), der_fingerprint(d / "two.pem")
        assert peer_fingerprint(http_port, ca) == one
        assert peer_fingerprint(dicom_tls_port, ca, (d / "modality.pem", d / "modality.key")) == one
        keep = http.client.HTTPSConnection("127.0.0.1", http_port, context=ssl.create_default_context(cafile=str(ca)), timeout=30)
        keep.request("GET", "/healthz")
        assert keep.getresponse().read() == b"ok"
        cert.write_bytes((d / "two.pem").read_bytes())
        key.write_bytes((d / "two.key").read_bytes())
        pid = proc.pid
        os.kill(pid, signal.SIGHUP)
        wait_for("new certificate on HTTPS", lambda: peer_fingerprint(http_port, ca) == two)
        assert peer_fingerprint(dicom_tls_port, ca, (d / "modality.pem", d / "modality.key")) == two
        assert hashlib.sha256(keep.sock.getpeercert(binary_form=True)).hexdigest() == one
        keep.request("GET", "/healthz")
        assert keep.getresponse().read() == b"ok", "a connection opened before the reload must keep working"
        keep.close()
        assoc = tls_assoc(True)
        assert assoc.is_established and assoc.send_c_echo().Status == 0
        assoc.release()
        # Without a signal: the files' change is noticed by itself.
        cert.write_bytes((d / "one.pem").read_bytes())
        key.write_bytes((d / "one.key").read_bytes())
        wait_for("certificate change noticed without SIGHUP", lambda: peer_fingerprint(http_port, ca) == one)
        assert proc.poll() is None, "server must keep running through the reload"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "tls.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
