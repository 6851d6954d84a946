"""Two `rangsi serve` nodes on one PostgreSQL database and one S3 bucket (issue 8), as
behind a load balancer: each node its own data directory, both the SAME database URL
and the SAME bucket prefix (and the same cold tier).

Always on PostgreSQL (a database of its own in the throwaway cluster of postgres.py)
and Garage (garage.py), whatever engine the rest of the pass uses.

- Concurrent ingest through both nodes at once: the same study by STOW-RS to A and by
  DIMSE C-STORE (dcmtk storescu) to B, another study by C-STORE to both, and different
  studies through each — then every instance is indexed exactly once (QIDO on both
  nodes, row counts read from PostgreSQL with pg8000), the study and series counters
  are right, `rangsi fsck` is clean, both nodes return byte-identical instances whose
  data sets equal the ones sent (pydicom), and the audit log has one accepted `store`
  record per instance (and one record per send).
- Sessions across nodes: a login on A works on B, a logout on A ends it on B; a
  password reset or a user disabled on A is refused on B at once (Basic, token,
  session); wrong share-link PINs count on both nodes together.
- A webhook is delivered once with two nodes running (a local HTTP receiver counts),
  and a delivery whose node died (SIGKILL) is finished by the other node.
- Tiering with two nodes: only the node holding the `tier` lease runs passes; when it
  is killed the other takes the lease over; nothing is lost (fsck, byte-identical
  reads).
- Two nodes started at the same moment on a new database both come up (the
  migrations run once, one `admin` is made).

Leases are short here (`RANGSI_LEASE_SECS=10`, a pass every second) so takeovers happen
within seconds; the tests poll for states, they never assert on durations.
"""

from __future__ import annotations

import http.server
import io
import os
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from dicom_factory import new_image, noise_image, save
from dicomweb import DicomWeb
from dimse import Peer, storescu
from garage import BUCKET, shared_garage
from postgres import shared_postgres
from rangsi_server import HOSPITAL_UDON, PASSWORDS, Server, index_db

OLD = "2020-01-01T00:00:00Z"
NODE_LINE = re.compile(r"node (\S+) \(background jobs")
WAIT_SECS = 90


def wait_for(what: str, check, timeout: float = WAIT_SECS, every: float = 0.2):
    """Polls `check()` until it returns a true value; fails saying `what` otherwise."""
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, f"gave up waiting for {what}"
        time.sleep(every)


def node_id(srv: Server) -> str:
    m = NODE_LINE.search(srv.log_path.read_text(errors="replace"))
    assert m, f"no node id in the log:\n{srv.log_tail()}"
    return m.group(1)


@pytest.fixture(scope="module")
def nodes(rangsi_bin, tmp_path_factory):
    database = shared_postgres().new_database("nodes")
    prefix = f"nodes-{os.getpid()}-{secrets.token_hex(4)}"
    shared = {
        **shared_garage().rangsi_env(prefix),
        "RANGSI_COLD_BLOBS": f"s3://{BUCKET}/{prefix}-cold",
        "RANGSI_LEASE_SECS": "10",
        "RANGSI_TIER_INTERVAL_SECS": "1",
    }
    a = Server(rangsi_bin, tmp_path_factory.mktemp("node-a"), database=database,
               extra_args=["--tier-after-days", "30"])
    b = Server(rangsi_bin, tmp_path_factory.mktemp("node-b"), database=database,
               extra_args=["--tier-after-days", "30"])
    for n in (a, b):
        n.blob_env.update(shared)  # the same stores for both (not a prefix per server)
    a.set_up_regional_archive()
    b.data.mkdir(parents=True, exist_ok=True)
    b.cli("fsck")  # B's data directory records the same database and stores
    a.start()
    b.start()
    for user in ("alice", "admin"):
        a.tokens[user] = a.cli("token", "create", "--user", user).stdout.decode().strip()
    b.tokens = a.tokens
    yield a, b
    a.stop()
    b.stop()


def web(srv: Server, user: str = "alice") -> DicomWeb:
    return DicomWeb(srv.http_url, token=srv.tokens[user], name=f"{user}@{srv.workdir.name}")


def api(srv: Server, token: str | None = None) -> requests.Session:
    s = requests.Session()
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def check(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else {}


def make_study(tmp: Path, n: int, seed: int, patient: str) -> tuple[str, dict[str, Path]]:
    """A study of `n` small instances in two series: (study UID, SOP UID -> file)."""
    study, series = generate_uid(), [generate_uid(), generate_uid()]
    files = {}
    for i in range(n):
        sop = generate_uid()
        ds = new_image(patient_id=patient, study_uid=study, series_uid=series[i % 2], sop_uid=sop,
                       series_number=i % 2 + 1, instance_number=i + 1,
                       pixels=noise_image(32, 32, seed=seed + i))
        files[sop] = save(ds, tmp / f"{patient}-{i}.dcm")
    return study, files


def stow_in_chunks(srv: Server, files: dict[str, Path], chunk: int = 4) -> list[int]:
    alice = web(srv)
    paths = list(files.values())
    codes = []
    for i in range(0, len(paths), chunk):
        r = alice.stow([p.read_bytes() for p in paths[i:i + chunk]])
        assert r.status_code in (200, 202), f"STOW -> {r.status_code} {r.text[:500]}"
        assert "00081198" not in r.json(), f"STOW failed instances: {r.text[:800]}"  # FailedSOPSequence
        codes.append(r.status_code)
    return codes


def cstore(srv: Server, files: dict[str, Path]):
    return storescu(Peer(srv.dicom_host, srv.dicom_port, srv.ae_title), "MODA", list(files.values()))


def dataset_of(body: bytes) -> pydicom.Dataset:
    ds = pydicom.dcmread(io.BytesIO(body))
    del ds.file_meta
    return ds


def test_concurrent_ingest_through_both_nodes_stores_each_instance_once(nodes, tmp_path):
    a, b = nodes
    same, same_files = make_study(tmp_path, 16, 100, "NODES-SAME")       # STOW to A + C-STORE to B
    dup, dup_files = make_study(tmp_path, 10, 200, "NODES-DUP")          # C-STORE to A and to B
    one, one_files = make_study(tmp_path, 8, 300, "NODES-ONE")           # STOW to B only
    two, two_files = make_study(tmp_path, 8, 400, "NODES-TWO")           # C-STORE to A only
    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = {
            "stow same to A": pool.submit(stow_in_chunks, a, same_files),
            "c-store same to B": pool.submit(cstore, b, same_files),
            "c-store dup to A": pool.submit(cstore, a, dup_files),
            "c-store dup to B": pool.submit(cstore, b, dup_files),
            "stow one to B": pool.submit(stow_in_chunks, b, one_files),
            "c-store two to A": pool.submit(cstore, a, two_files),
        }
        results = {name: job.result() for name, job in jobs.items()}
    for name in ("c-store dup to A", "c-store dup to B", "c-store two to A"):
        out = results[name]
        assert not out.failed, f"{name}: not acknowledged with Success: {out.failed}\n{out.results}"
    # The same data set by STOW and by C-STORE: acknowledged either way (a C-STORE of
    # bytes another protocol stored first may carry warning 0xB000: kept aside).
    out = results["c-store same to B"]
    answers = [line for r in out.results for line in r.output.splitlines() if "Received Store Response" in line]
    assert len(answers) == len(same_files) and all("Success" in x or "Warning" in x for x in answers), answers

    studies = {same: same_files, dup: dup_files, one: one_files, two: two_files}
    # QIDO on both nodes: every instance once, the counters right.
    for srv in (a, b):
        alice = web(srv)
        for study, files in studies.items():
            hits = alice.qido(f"/studies/{study}/instances")
            sops = [h["00080018"]["Value"][0] for h in hits]
            assert sorted(sops) == sorted(files), f"{srv.workdir.name}: {study} QIDO gave {len(sops)} of {len(files)}"
            (st,) = alice.qido("/studies", {"StudyInstanceUID": study})
            assert int(st["00201208"]["Value"][0]) == len(files), st  # NumberOfStudyRelatedInstances
            assert int(st["00201206"]["Value"][0]) == 2, st  # NumberOfStudyRelatedSeries
    # The index itself: one row per SOP Instance UID, counters equal to the rows.
    with index_db(a, readonly=True) as db:
        for study, files in studies.items():
            rows = db.execute(
                "SELECT i.sop_uid, COUNT(*) FROM instances i JOIN series se ON se.id = i.series_ref "
                "JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ? GROUP BY i.sop_uid",
                (study,)).fetchall()
            assert sorted(r[0] for r in rows) == sorted(files) and all(r[1] == 1 for r in rows), rows
            (n_studies,) = db.execute("SELECT COUNT(*) FROM studies WHERE study_uid = ?", (study,)).fetchone()
            assert n_studies == 1
            series = db.execute(
                "SELECT se.num_instances FROM series se JOIN studies st ON st.id = se.study_ref "
                "WHERE st.study_uid = ? ORDER BY se.series_uid", (study,)).fetchall()
            assert sorted(n for (n,) in series) == sorted([(len(files) + 1) // 2, len(files) // 2])
        (conflicts,) = db.execute(
            "SELECT COUNT(*) FROM instance_conflicts WHERE sop_uid IN (" + ",".join("?" * len(dup_files)) + ")",
            list(dup_files)).fetchone()
        assert conflicts == 0, "identical bytes through two nodes are duplicates, not conflicts"
    # fsck from either node: index and bucket agree.
    for srv in (a, b):
        r = srv.cli("fsck", check=False)
        text = r.stdout.decode() + r.stderr.decode()
        assert r.returncode == 0 and "consistent" in text, text
    # Byte-identical retrieval from both nodes; the data sets are the ones sent.
    alice_a, alice_b = web(a), web(b)
    for study, files in studies.items():
        for sop, path in files.items():
            sent = pydicom.dcmread(path)
            series = str(sent.SeriesInstanceUID)
            got_a = alice_a.instance_bytes(study, series, sop)
            got_b = alice_b.instance_bytes(study, series, sop)
            assert got_a == got_b, f"{sop}: the nodes return different bytes"
            del sent.file_meta
            assert dataset_of(got_a) == sent, f"{sop}: not the data set sent"
            if study == one:
                assert got_a == path.read_bytes(), "a STOW part is stored as sent"
    # The audit log: one accepted store per instance, and one record per send.
    sends = {same: 2, dup: 2, one: 1, two: 1}

    def audited():
        with index_db(a, readonly=True) as db:
            rows = db.execute(
                "SELECT study_uid, detail, outcome FROM audit_log WHERE action = 'store' AND study_uid IN (?, ?, ?, ?)",
                list(studies)).fetchall()
        per_sop: dict[str, list[str]] = {}
        for study, sop, outcome in rows:
            per_sop.setdefault(sop, []).append(outcome)
        complete = all(len(per_sop.get(sop, [])) >= sends[study] for study, files in studies.items() for sop in files)
        return per_sop if complete else None

    per_sop = wait_for("an audit record of every send", audited, timeout=30)
    for study, files in studies.items():
        for sop in files:
            outcomes = per_sop[sop]
            assert outcomes.count("ok") == 1, f"{sop}: {outcomes}"
            assert len(outcomes) == sends[study], f"{sop}: {outcomes}"
            assert set(outcomes) <= {"ok", "duplicate", "conflict-kept-first"}, outcomes
    assert a.healthy() and b.healthy()


def test_sessions_and_users_are_the_same_on_both_nodes(nodes, tmp_path):
    a, b = nodes
    admin_a = api(a, a.tokens["admin"])
    password = "carol-Pw-10670"
    check(admin_a.post(a.http_url + "/api/admin/users", json={
        "username": "carol", "role": "doctor", "hospital": HOSPITAL_UDON, "password": password}), 201)

    # A browser session made on A is valid on B; logging out on A ends it on B.
    s = requests.Session()  # cookies ignore the port: both nodes get the session cookie
    check(s.post(a.http_url + "/api/login", json={"username": "carol", "password": password}), 200)
    assert check(s.get(b.http_url + "/api/me"), 200)["username"] == "carol"
    cookie = {"rangsi_session": s.cookies.get("rangsi_session")}
    assert s.post(a.http_url + "/api/logout").status_code in (200, 204)
    for srv in (a, b):  # the old cookie, sent again by hand
        r = requests.get(srv.http_url + "/api/me", cookies=cookie, timeout=60)
        assert r.status_code == 401, f"a session ended on A still works on {srv.workdir.name}"

    # Basic on B (remembered by B's login cache), then a password reset on A.
    basic_b = DicomWeb(b.http_url, auth=("carol", password), name="carol-basic@B")
    assert basic_b.qido_response("/studies").status_code in (200, 204)
    new_password = "carol-New-0001"
    check(admin_a.post(a.http_url + "/api/admin/users/carol/password", json={"password": new_password}), 200)
    assert basic_b.qido_response("/studies").status_code == 401, "the old password still works on B"
    basic_b = DicomWeb(b.http_url, auth=("carol", new_password), name="carol-basic@B")
    assert basic_b.qido_response("/studies").status_code in (200, 204)

    # A user disabled on A: B refuses the session, the token and the password at once.
    s = requests.Session()
    check(s.post(b.http_url + "/api/login", json={"username": "carol", "password": new_password}), 200)
    token = check(admin_a.post(a.http_url + "/api/admin/tokens", json={"username": "carol", "note": "nodes"}), 201)["secret"]
    token_b = DicomWeb(b.http_url, token=token, name="carol-token@B")
    assert token_b.qido_response("/studies").status_code in (200, 204)
    check(admin_a.put(a.http_url + "/api/admin/users/carol", json={"disabled": True}), 200)
    assert s.get(b.http_url + "/api/me").status_code == 401
    assert token_b.qido_response("/studies").status_code == 401
    assert basic_b.qido_response("/studies").status_code == 401

    # Wrong share-link PINs count on both nodes together (5 per link in 15 minutes).
    study, files = make_study(tmp_path, 1, 500, "NODES-SHARE")
    web(a).stow_ok([p.read_bytes() for p in files.values()])
    link = check(api(a, a.tokens["alice"]).post(a.http_url + "/api/shares",
                                                json={"study_uids": [study], "pin": "4321"}), 201)

    def open_on(srv: Server, pin: str) -> requests.Response:
        return requests.post(srv.http_url + "/api/share/open", json={"token": link["token"], "pin": pin}, timeout=60)

    codes = [open_on(srv, f"000{i}").status_code for i, srv in enumerate((a, a, a, b, b))]
    assert codes == [401, 401, 401, 401, 429], codes
    r = open_on(a, "4321")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, "A forgot the failures made on B"

    # A share session opened on A reads on B; the link revoked on B ends it on A.
    alice_b = api(b, b.tokens["alice"])
    open_link = check(alice_b.post(b.http_url + "/api/shares", json={"study_uids": [study]}), 201)
    guest = requests.Session()
    check(guest.post(a.http_url + "/api/share/open", json={"token": open_link["token"]}), 200)
    metadata = f"/dicomweb/studies/{study}/metadata"
    assert guest.get(b.http_url + metadata, headers={"Accept": "application/dicom+json"}).status_code == 200
    check(alice_b.post(f"{b.http_url}/api/shares/{open_link['link']['id']}/revoke"), 200)
    assert guest.get(a.http_url + metadata, headers={"Accept": "application/dicom+json"}).status_code == 401


class Hook:
    """A webhook receiver on loopback: answers 500 to the first `fail` requests of each
    delivery, or to all while `failing` is set; 204 otherwise. Keeps every request."""

    def __init__(self, fail: int = 0, failing: bool = False):
        self.requests: list[tuple[str, int]] = []  # (delivery id, status answered)
        self.failing = failing
        self.seen = threading.Event()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = self.headers.get("X-Rangsi-Delivery", "")
                tries = 1 + sum(1 for d, _ in hook.requests if d == delivery)
                status = 500 if hook.failing or tries <= fail else 204
                hook.requests.append((delivery, status))
                hook.seen.set()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def delivery(srv: Server, report_id: int, kind: str):
    with index_db(srv, readonly=True) as db:
        return db.execute(
            "SELECT d.id, d.status, d.attempts, d.claimed_by FROM webhook_deliveries d "
            "JOIN notifications n ON n.id = d.notification_id WHERE n.report_id = ? AND n.kind = ?",
            (report_id, kind)).fetchone()


def test_webhook_delivered_once_with_two_nodes_and_taken_over_when_a_node_dies(nodes, tmp_path):
    a, b = nodes
    a.cli("user", "add", "ram", "--hospital", HOSPITAL_UDON, "--role", "radiologist", "--password-stdin",
          stdin="ram-Pw-10670-x\n")
    ram_token = a.cli("token", "create", "--user", "ram").stdout.decode().strip()
    study, files = make_study(tmp_path, 1, 600, "NODES-HOOK")
    web(b).stow_ok([p.read_bytes() for p in files.values()])

    hook = Hook(fail=2)  # two failures, then delivered: retries while both nodes sweep
    try:
        a.cli("hospital", "webhook", HOSPITAL_UDON, "--url", hook.url)
        ram_b = api(b, ram_token)
        rid = check(ram_b.post(b.http_url + "/api/reports", json={
            "study_uid": study, "content": {"impression": "No acute finding"}}), 201)["id"]
        check(ram_b.put(f"{b.http_url}/api/reports/{rid}", json={
            "content": {"impression": "No acute finding"}, "state": "preliminary"}), 200)
        d = wait_for("the delivery to be delivered",
                     lambda: (lambda d: d if d and d[1] != "pending" else None)(delivery(a, rid, "report-preliminary")))
        assert tuple(d[1:]) == ("delivered", 3, None), d
        assert hook.requests == [(str(d[0]), 500), (str(d[0]), 500), (str(d[0]), 204)], hook.requests
    finally:
        hook.close()

    # A node dies (SIGKILL) holding a delivery's claim: the other node finishes it.
    hook = Hook(failing=True)
    try:
        a.cli("hospital", "webhook", HOSPITAL_UDON, "--url", hook.url)
        ram_a = api(a, ram_token)
        check(ram_a.post(f"{a.http_url}/api/reports/{rid}/sign", json={"password": "ram-Pw-10670-x"}), 200)
        assert hook.seen.wait(60), "no node tried the delivery"
        d = delivery(b, rid, "report-final")
        by_id = {node_id(a): a, node_id(b): b}
        assert d[1] == "pending" and d[3] in by_id, f"the delivery's claim: {d}"
        dead = by_id[d[3]]  # the node sending it (A, unless B's sweep claimed it first)
        survivor = b if dead is a else a
        dead.kill()
        hook.failing = False
        d = wait_for("the other node to take the delivery over",
                     lambda: (lambda d: d if d and d[1] != "pending" else None)(delivery(survivor, rid, "report-final")))
        assert d[1] == "delivered", d
        ok = [r for r in hook.requests if r[1] == 204]
        assert ok == [(str(d[0]), 204)], hook.requests
        assert all(r[0] == str(d[0]) for r in hook.requests), hook.requests
        assert "webhook deliveries nobody was sending" in survivor.log_path.read_text(errors="replace")
        dead.start()
    finally:
        hook.close()
        b.cli("hospital", "webhook", HOSPITAL_UDON, "--remove")


def cold_count(srv: Server, study: str) -> int:
    with index_db(srv, readonly=True) as db:
        (n,) = db.execute(
            "SELECT COUNT(*) FROM blob_tiers bt WHERE bt.blob_key IN (SELECT i.blob_key FROM instances i "
            "JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref "
            "WHERE st.study_uid = ?)", (study,)).fetchone()
    return n


def age(srv: Server, study: str) -> None:
    with index_db(srv) as db:
        db.execute("UPDATE studies SET updated_at = ? WHERE study_uid = ?", (OLD, study))
        db.commit()


def passes(srv: Server) -> int:
    """Tiering passes this node ran (its current log)."""
    return srv.log_path.read_text(errors="replace").count(f"tiering pass on node {node_id(srv)}")


def test_tiering_runs_on_the_lease_holder_only_and_moves_over_when_it_dies(nodes, tmp_path):
    a, b = nodes
    study, files = make_study(tmp_path, 4, 700, "NODES-TIER")
    web(a).stow_ok([p.read_bytes() for p in files.values()])
    age(a, study)
    wait_for("the aged study to move to the cold tier", lambda: cold_count(a, study) == len(files))
    with index_db(a, readonly=True) as db:
        (holder,) = db.execute("SELECT holder FROM leases WHERE name = 'tier'").fetchone()
    by_id = {node_id(a): a, node_id(b): b}
    assert holder in by_id, (holder, list(by_id))
    leader = by_id[holder]
    other = b if leader is a else a
    # Both nodes have been looking for the lease every second: only the holder ran passes.
    assert passes(leader) > 0 and passes(other) == 0, (passes(leader), passes(other))
    for srv in (a, b):
        alice = web(srv)
        for sop, path in files.items():
            assert alice.instance_bytes(study, str(pydicom.dcmread(path).SeriesInstanceUID), sop) == path.read_bytes()

    # The holder dies: the other node takes the lease over once it expires.
    leader.kill()
    later, later_files = make_study(tmp_path, 3, 800, "NODES-TIER-2")
    web(other).stow_ok([p.read_bytes() for p in later_files.values()])
    age(other, later)
    wait_for("the survivor to tier the next study", lambda: cold_count(other, later) == len(later_files))
    assert passes(other) > 0
    assert f"node {node_id(other)} holds the tier lease" in other.log_path.read_text(errors="replace")
    alice = web(other)
    for s, fs in ((study, files), (later, later_files)):
        for sop, path in fs.items():
            assert alice.instance_bytes(s, str(pydicom.dcmread(path).SeriesInstanceUID), sop) == path.read_bytes()
    r = other.cli("fsck", check=False)
    text = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0 and "consistent" in text, text
    leader.start()
    assert leader.healthy() and other.healthy()


def test_nodes_started_together_on_an_empty_database_both_come_up(rangsi_bin, tmp_path_factory):
    """Two nodes started at the same moment on a new database: the migrations run once
    and one `admin` is created; neither node fails its start on the other's work."""
    for attempt in range(3):
        database = shared_postgres().new_database(f"fresh{attempt}")
        servers = [Server(rangsi_bin, tmp_path_factory.mktemp(f"fresh-{attempt}-{n}"), database=database)
                   for n in ("a", "b")]
        prefix = f"fresh-{os.getpid()}-{secrets.token_hex(4)}"
        for srv in servers:
            srv.blob_env.update(shared_garage().rangsi_env(prefix))
            srv.data.mkdir(parents=True, exist_ok=True)
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                for job in [pool.submit(srv.start) for srv in servers]:
                    job.result()
            assert all(srv.healthy() for srv in servers)
            with index_db(servers[0], readonly=True) as db:
                assert db.execute("SELECT COUNT(*) FROM users WHERE username = 'admin'").fetchone()[0] == 1
                versions = [v for (v,) in db.execute("SELECT version FROM schema_migrations").fetchall()]
            assert len(versions) == len(set(versions)) and 17 in versions, versions
            for srv in servers:
                r = requests.get(srv.http_url + "/api/me", auth=("admin", srv.admin_password), timeout=60)
                assert r.status_code == 200, r.text
        finally:
            for srv in servers:
                srv.stop()
