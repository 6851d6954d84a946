"""Referral and sharing (issue 6): hospitals as admin data, referrals from Udon Thani
(alice) to Sakon Nakhon (bob) with the grant they give, and share links — scoped to
exactly their studies on every DICOMweb and API path, revocable, expiring (the test
build's share clock moves, no sleeping), PIN / birth date protected and throttled.

Oracles: pydicom-made instances with known identities, HTTP status codes, the audit log
read with Python's sqlite3 or pg8000 (the index on PostgreSQL), and `zbarimg` (zbar-tools) decoding the QR code.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import unicodedata

import numpy as np
import pytest
import requests
from pydicom.uid import generate_uid

from dicom_factory import new_image
from dicomweb import DicomWeb, encode_multipart, parse_multipart
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, Server, index_bytes, index_db

DICOM_JSON = "application/dicom+json"
BIRTH = "19800307"


def to_bytes(ds) -> bytes:
    from io import BytesIO

    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


class Study:
    def __init__(self, patient_id: str, description: str, birth: str = BIRTH):
        self.uid = generate_uid()
        self.series = generate_uid()
        self.sop = generate_uid()
        self.patient_id = patient_id
        pixels = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 7) % 4096
        self.ds = new_image(patient_id=patient_id, patient_name="SHARE^TEST", study_uid=self.uid,
                            series_uid=self.series, sop_uid=self.sop, birth_date=birth,
                            study_description=description, pixels=pixels)

    def paths(self) -> list[str]:
        """Every read path of the study under /dicomweb."""
        s, x, i = self.uid, self.series, self.sop
        return [
            f"/studies/{s}/metadata", f"/studies/{s}/series", f"/studies/{s}/instances",
            f"/studies/{s}/rendered", f"/studies/{s}/thumbnail",
            f"/studies/{s}/series/{x}/metadata", f"/studies/{s}/series/{x}/instances",
            f"/studies/{s}/series/{x}/rendered", f"/studies/{s}/series/{x}/thumbnail",
            f"/studies/{s}/series/{x}/instances/{i}/metadata",
            f"/studies/{s}/series/{x}/instances/{i}/rendered",
            f"/studies/{s}/series/{x}/instances/{i}/thumbnail",
            f"/studies/{s}/series/{x}/instances/{i}/frames/1",
            f"/studies/{s}/series/{x}/instances/{i}/frames/1/rendered",
            f"/studies/{s}/series/{x}/instances/{i}/bulk/7FE00010",
        ]

    def download_paths(self) -> list[str]:
        s, x, i = self.uid, self.series, self.sop
        return [f"/studies/{s}", f"/studies/{s}/series/{x}", f"/studies/{s}/series/{x}/instances/{i}",
                f"/wado?requestType=WADO&studyUID={s}&seriesUID={x}&objectUID={i}&contentType=application/dicom"]


def accept_for(path: str) -> str:
    if "/bulk/" in path or ("/frames/" in path and not path.endswith("rendered")):
        return 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    if "rendered" in path or "thumbnail" in path:
        return "image/png"
    if "wado?" in path:
        return "application/dicom"
    if path.endswith(("metadata", "series", "instances")):
        return DICOM_JSON
    return 'multipart/related; type="application/dicom"; transfer-syntax=*'


def get(client: requests.Session, root: str, path: str) -> requests.Response:
    return client.get(root + "/dicomweb" + path, headers={"Accept": accept_for(path)}, timeout=60)


def refused(client: requests.Session, root: str, path: str) -> bool:
    """404, or — for a QIDO search under a study (`.../series`, `.../instances`) — no match."""
    r = get(client, root, path)
    if r.status_code == 404:
        return True
    if path.endswith(("/series", "/instances")) and r.status_code in (200, 204):
        return r.status_code == 204 or r.json() == []
    return False


def served(client: requests.Session, root: str, path: str) -> bool:
    r = get(client, root, path)
    if r.status_code != 200:
        return False
    if path.endswith(("/series", "/instances")):
        return len(r.json()) == 1
    return len(r.content) > 0


class Api:
    def __init__(self, server, token: str | None):
        self.root = server.http_url
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path, **kw):
        return self.http.get(self.root + path, timeout=60, **kw)

    def post(self, path, body=None, **kw):
        return self.http.post(self.root + path, json=body, timeout=60, **kw)

    def put(self, path, body=None, **kw):
        return self.http.put(self.root + path, json=body, timeout=60, **kw)


@pytest.fixture(scope="module")
def server(rangsi_bin, tmp_path_factory):
    """A server of this module's own: referrals leave grants (and take-into-archive
    copies) that other modules' tenancy tests must not see."""
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("sharing"))
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def alice(server) -> DicomWeb:
    return DicomWeb(server.http_url, token=server.tokens["alice"], name="alice")


@pytest.fixture(scope="module")
def bob(server) -> DicomWeb:
    return DicomWeb(server.http_url, token=server.tokens["bob"], name="bob")


@pytest.fixture(scope="module")
def data(alice: DicomWeb):
    """Patient REF-1 (two studies) and OTHER-1 (one study) at Udon Thani."""
    studies = {
        "ct": Study("REF-1", "CT chest"),
        "old": Study("REF-1", "CT chest 2022"),
        "other": Study("OTHER-1", "another patient", birth="19500101"),
    }
    alice.stow_ok([to_bytes(s.ds) for s in studies.values()])
    return studies


@pytest.fixture(scope="module")
def api(server):
    return {u: Api(server, server.tokens[u]) for u in ("alice", "bob", "admin")}


def audit_rows(server, where: str, args=()) -> list[tuple]:
    deadline = time.time() + 5
    while True:
        with index_db(server, readonly=True) as con:
            rows = con.execute(f"SELECT actor, action, study_uid, detail, outcome, remote_addr FROM audit_log WHERE {where}", args).fetchall()
        if rows or time.time() > deadline:
            return rows
        time.sleep(0.1)


# ---------------------------------------------------------------- hospitals


def test_hospitals_are_admin_data(api):
    body = {"name_th": "โรงพยาบาลศูนย์สกลนคร", "name_en": "Sakon Nakhon Hospital",
            "capabilities": ["CT", "MRI", "cath lab"], "contact": "042-711-615 ext. 1234"}
    r = api["alice"].put(f"/api/hospitals/{HOSPITAL_SAKON}", body)
    assert r.status_code == 403, r.text
    r = api["admin"].put(f"/api/hospitals/{HOSPITAL_SAKON}", body)
    assert r.status_code == 200, r.text
    r = api["alice"].get("/api/hospitals")
    assert r.status_code == 200, r.text
    sakon = next(h for h in r.json()["hospitals"] if h["code"] == HOSPITAL_SAKON)
    assert sakon["name_th"] == "โรงพยาบาลศูนย์สกลนคร"
    assert sakon["capabilities"] == ["CT", "MRI", "cath lab"]
    assert sakon["contact"] == "042-711-615 ext. 1234"
    assert api["admin"].put("/api/hospitals/99999", body).status_code == 404


def test_hospital_profile_from_the_cli(server, api):
    out = server.cli("hospital", "set", HOSPITAL_UDON, "--name-th", "โรงพยาบาลอุดรธานี",
                     "--name-en", "Udon Thani Hospital", "--capabilities", "CT, MRI,,cath lab",
                     "--contact", "042-245-555").stdout.decode()
    assert "โรงพยาบาลอุดรธานี" in out
    udon = next(h for h in api["bob"].get("/api/hospitals").json()["hospitals"] if h["code"] == HOSPITAL_UDON)
    assert udon["capabilities"] == ["CT", "MRI", "cath lab"] and udon["name_en"] == "Udon Thani Hospital"
    assert server.cli("hospital", "set", "99999", "--contact", "x", check=False).returncode != 0
    rows = audit_rows(server, "action = 'hospital-update' AND actor = 'cli'")
    assert rows


# ---------------------------------------------------------------- referrals


def test_referral_grants_the_receiving_hospital(server, api, data, bob: DicomWeb):
    ct, old, other = data["ct"], data["old"], data["other"]
    # Before: bob's hospital cannot see alice's study on any path.
    assert bob.qido("/studies", {"StudyInstanceUID": ct.uid}) == []
    for p in ct.paths():
        assert refused(bob.http, server.http_url, p), p

    r = api["alice"].post("/api/referrals", {
        "to_hospital": HOSPITAL_SAKON, "reason": "ส่งต่อเพื่อตรวจ MRI", "urgency": "urgent",
        "clinical_summary": "Mass in the right upper lobe", "study_uids": [ct.uid]})
    assert r.status_code == 201, r.text
    ref = r.json()
    assert ref["status"] == "sent" and ref["urgency"] == "urgent"
    assert [s["study_uid"] for s in ref["studies"]] == [ct.uid]
    assert ref["patient"]["patient_id"] == "REF-1" and ref["from_hospital"]["code"] == HOSPITAL_UDON

    incoming = api["bob"].get("/api/referrals", params={"direction": "incoming"}).json()["referrals"]
    assert ref["id"] in [x["id"] for x in incoming]
    outgoing = api["alice"].get("/api/referrals", params={"direction": "outgoing"}).json()["referrals"]
    assert ref["id"] in [x["id"] for x in outgoing]
    assert ref["id"] not in [x["id"] for x in api["alice"].get("/api/referrals?direction=incoming").json()["referrals"]]

    # After: bob sees the referred study on every path, and still nothing else.
    assert [s["0020000D"]["Value"][0] for s in bob.qido("/studies", {"PatientID": "REF-1"})] == [ct.uid]
    for p in ct.paths():
        assert served(bob.http, server.http_url, p), p
    for p in old.paths() + other.paths():
        assert refused(bob.http, server.http_url, p), p

    rows = audit_rows(server, "action = 'grant' AND study_uid = ?", (ct.uid,))
    assert rows and rows[0][0] == "alice" and HOSPITAL_SAKON in rows[0][3]


def test_only_the_receiving_hospital_moves_the_status(api, data):
    ct = data["ct"]
    ref = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": "consult",
                                               "urgency": "routine", "study_uids": [ct.uid]}).json()
    rid = ref["id"]
    assert api["alice"].post(f"/api/referrals/{rid}/status", {"status": "accepted"}).status_code == 403
    for status in ("received", "accepted", "completed"):
        r = api["bob"].post(f"/api/referrals/{rid}/status", {"status": status})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    assert api["bob"].post(f"/api/referrals/{rid}/status", {"status": "declined"}).status_code == 409
    seen = api["alice"].get(f"/api/referrals/{rid}").json()
    assert seen["status"] == "completed"


def test_referring_all_of_a_patients_studies_and_declining(server, api, data, bob: DicomWeb):
    ct, old, other = data["ct"], data["old"], data["other"]
    r = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": "all images",
                                             "urgency": "emergency", "patient_id": "REF-1"})
    assert r.status_code == 201, r.text
    ref = r.json()
    assert sorted(s["study_uid"] for s in ref["studies"]) == sorted([ct.uid, old.uid])
    assert served(bob.http, server.http_url, old.paths()[0])
    assert refused(bob.http, server.http_url, other.paths()[0])
    r = api["bob"].post(f"/api/referrals/{ref['id']}/status", {"status": "declined"})
    assert r.status_code == 200, r.text
    # Declined: the grant of this referral is revoked; the earlier referral's stays.
    assert refused(bob.http, server.http_url, old.paths()[0])
    assert served(bob.http, server.http_url, ct.paths()[0])


def test_referral_bad_input(api, data):
    base = {"to_hospital": HOSPITAL_SAKON, "reason": "x", "urgency": "routine"}
    assert api["alice"].post("/api/referrals", {**base, "study_uids": ["1.2.3.4.5"]}).status_code == 404
    assert api["alice"].post("/api/referrals", {**base, "to_hospital": HOSPITAL_UDON, "study_uids": [data["ct"].uid]}).status_code == 400
    assert api["alice"].post("/api/referrals", {**base, "urgency": "soon", "study_uids": [data["ct"].uid]}).status_code == 400
    assert api["alice"].post("/api/referrals", {**base, "reason": " ", "study_uids": [data["ct"].uid]}).status_code == 400
    assert api["alice"].post("/api/referrals", {**base, "study_uids": [data["ct"].uid, data["other"].uid]}).status_code == 400
    # bob cannot refer alice's studies, even the one granted to him.
    assert api["bob"].post("/api/referrals", {**base, "to_hospital": HOSPITAL_UDON, "study_uids": [data["ct"].uid]}).status_code == 404
    assert api["bob"].get("/api/referrals/999999").status_code == 404


# ---------------------------------------------------------------- share links


def open_link(server, token: str, **extra) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    s.headers["User-Agent"] = "rangsi-test-phone/1.0"
    r = s.post(server.http_url + "/api/share/open", json={"token": token, **extra}, timeout=60)
    return s, r


def share(api, user="alice", **body):
    r = api[user].post("/api/shares", body)
    assert r.status_code == 201, r.text
    return r.json()


def test_share_link_is_scoped_to_exactly_its_studies(server, api, data):
    ct, old, other = data["ct"], data["old"], data["other"]
    link = share(api, study_uids=[ct.uid], label="for the patient's GP")
    token = link["token"]
    assert len(token) >= 40 and link["path"] == f"/s/{token}"
    assert link["link"]["expires_at"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6.9 * 86400))
    # Stored hashed: the token itself is nowhere in the index (SQLite's file and WAL, or
    # a dump of the PostgreSQL database).
    raw = index_bytes(server)
    assert token.encode() not in raw

    s, r = open_link(server, token)
    assert r.status_code == 200, r.text
    assert r.json()["study_uids"] == [ct.uid]
    assert "rangsi_share" in s.cookies
    assert s.get(server.http_url + "/api/share/session", timeout=60).json()["study_uids"] == [ct.uid]

    for p in ct.paths():
        assert served(s, server.http_url, p), p
    for p in old.paths() + other.paths():
        assert refused(s, server.http_url, p), p
    # A known instance through the shared study's URL: still not found.
    mixed = f"/studies/{ct.uid}/series/{old.series}/instances/{old.sop}/frames/1"
    assert get(s, server.http_url, mixed).status_code == 404
    # QIDO answers the link's study only, whatever the query.
    for q in ("", "?PatientID=REF-1", "?PatientID=OTHER-1", f"?StudyInstanceUID={old.uid}"):
        r = s.get(server.http_url + "/dicomweb/studies" + q, headers={"Accept": DICOM_JSON}, timeout=60)
        found = [] if r.status_code == 204 else [x["0020000D"]["Value"][0] for x in r.json()]
        assert set(found) <= {ct.uid}, (q, found)
    r = s.get(server.http_url + "/dicomweb/instances", headers={"Accept": DICOM_JSON}, timeout=60)
    assert {x["0020000D"]["Value"][0] for x in r.json()} == {ct.uid}
    # No study list, no API beyond the viewer's reads, no writes, no download.
    for path in ("/api/studies", "/api/studies/hospitals", f"/api/measurements?study={ct.uid}",
                 "/api/referrals", "/api/shares", "/api/hospitals"):
        assert s.get(server.http_url + path, timeout=60).status_code == 403, path
    body, ctype = encode_multipart([to_bytes(new_image(patient_id="EVIL"))])
    r = s.post(server.http_url + "/dicomweb/studies", data=body, headers={"Content-Type": ctype}, timeout=60)
    assert r.status_code == 403
    assert s.post(server.http_url + "/api/shares", json={"study_uids": [ct.uid]}, timeout=60).status_code == 403
    for p in ct.download_paths():
        assert get(s, server.http_url, p).status_code == 403, p

    rows = audit_rows(server, "action = 'share-open' AND outcome = 'ok' AND study_uid = ?", (ct.uid,))
    assert any("rangsi-test-phone/1.0" in r[3] and r[5].startswith("127.0.0.1") for r in rows), rows
    # Reads through the link are audited as the link.
    rows = audit_rows(server, "actor = ? AND study_uid = ?", (f"share:{link['link']['id']}", ct.uid))
    assert len(rows) > 1


def test_download_only_when_allowed(server, api, data):
    ct = data["ct"]
    s, r = open_link(server, share(api, study_uids=[ct.uid], allow_download=True)["token"])
    assert r.status_code == 200
    for p in ct.download_paths():
        assert get(s, server.http_url, p).status_code == 200, p


def test_referral_share_link(server, api, data):
    ct = data["ct"]
    rid = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": "QR for the ambulance",
                                               "urgency": "urgent", "study_uids": [ct.uid]}).json()["id"]
    # The receiving hospital may print a link for its referral too.
    link = share(api, user="bob", referral_id=rid)
    s, r = open_link(server, link["token"])
    assert r.status_code == 200 and r.json()["study_uids"] == [ct.uid]
    assert api["admin"].post("/api/shares", {"referral_id": 999999}).status_code == 404


def test_revoked_link_is_refused(server, api, data):
    ct = data["ct"]
    link = share(api, study_uids=[ct.uid])
    s, r = open_link(server, link["token"])
    assert r.status_code == 200
    assert api["bob"].post(f"/api/shares/{link['link']['id']}/revoke").status_code == 404
    r = api["alice"].post(f"/api/shares/{link['link']['id']}/revoke")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert get(s, server.http_url, ct.paths()[0]).status_code == 401
    _, r = open_link(server, link["token"])
    assert r.status_code == 410 and "revoked" in r.json()["error"]
    listed = api["alice"].get("/api/shares").json()["links"]
    assert any(l["id"] == link["link"]["id"] and l["revoked_at"] for l in listed)


def test_expired_link_is_refused(server, api, data):
    ct = data["ct"]
    week = share(api, study_uids=[ct.uid])  # the default: 7 days
    day = share(api, study_uids=[ct.uid], expires_days=1)
    s, r = open_link(server, week["token"])
    assert r.status_code == 200
    clock = lambda secs: api["admin"].post("/api/test/clock", {"offset_secs": secs})
    assert api["alice"].post("/api/test/clock", {"offset_secs": 1}).status_code == 403
    try:
        assert clock(2 * 86400).status_code == 204
        assert open_link(server, day["token"])[1].status_code == 410
        _, r = open_link(server, week["token"])
        assert r.status_code == 200, r.text
        assert clock(7 * 86400 + 60).status_code == 204
        _, r = open_link(server, week["token"])
        assert r.status_code == 410 and "expired" in r.json()["error"]
        assert get(s, server.http_url, ct.paths()[0]).status_code == 401
    finally:
        clock(0)


def test_pin_is_asked_and_wrong_pins_are_throttled(server, api, data):
    ct = data["ct"]
    link = share(api, study_uids=[ct.uid], pin="4321")
    _, r = open_link(server, link["token"])
    assert r.status_code == 401 and r.json()["needs"] == "pin"
    codes = [open_link(server, link["token"], pin=f"000{i}")[1].status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429], codes
    _, r = open_link(server, link["token"], pin="4321")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "try again" in r.json()["error"]
    assert audit_rows(server, "action = 'share-open' AND detail LIKE 'wrong PIN%'")
    # Another link is not blocked by this one's guesses.
    other = share(api, study_uids=[ct.uid], pin="9876")
    assert open_link(server, other["token"], pin="9876")[1].status_code == 200


def test_patient_link_asks_the_birth_date(server, api, data):
    ct = data["ct"]
    assert api["alice"].post("/api/shares", {"study_uids": [ct.uid], "audience": "patient"}).status_code == 400
    link = share(api, study_uids=[ct.uid], audience="patient", birth_date_check=True)
    _, r = open_link(server, link["token"])
    assert r.status_code == 401 and r.json()["needs"] == "birth_date"
    _, r = open_link(server, link["token"], birth_date="1980-03-08")
    assert r.status_code == 401
    # 7 March 1980, as a Thai patient writes it (Buddhist Era).
    _, r = open_link(server, link["token"], birth_date="07/03/2523")
    assert r.status_code == 200 and r.json()["audience"] == "patient"


def test_share_bad_input(api, data):
    ct = data["ct"]
    assert api["alice"].post("/api/shares", {"study_uids": [data["ct"].uid], "pin": "12"}).status_code == 400
    assert api["alice"].post("/api/shares", {"study_uids": [ct.uid], "expires_days": 91}).status_code == 400
    assert api["bob"].post("/api/shares", {"study_uids": [data["other"].uid]}).status_code == 404
    assert api["alice"].post("/api/shares", {}).status_code == 400
    r = requests.post(api["alice"].root + "/api/share/open", json={"token": "rgsh_nope"}, timeout=60)
    assert r.status_code == 404


def test_qr_code_decodes_to_the_link(server, api, data, tmp_path):
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg (Debian zbar-tools) is needed: cargo xtask test installs it"
    link = share(api, study_uids=[data["ct"].uid])
    r = api["alice"].post("/api/shares/qr", {"token": link["token"]})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    (tmp_path / "qr.png").write_bytes(r.content)
    (tmp_path / "qr.svg").write_text(link["qr_svg"])
    out = subprocess.run([zbarimg, "-q", "--raw", str(tmp_path / "qr.png")], capture_output=True, text=True, timeout=60)
    url = out.stdout.strip()
    assert url == server.http_url + link["path"], (url, out.stderr)
    # The decoded URL is the landing page of the viewer.
    assert requests.get(url, timeout=60).status_code == 200
    assert api["bob"].post("/api/shares/qr", {"token": link["token"]}).status_code == 404


def test_guessing_tokens_is_throttled_per_address(rangsi_bin, tmp_path_factory):
    """On its own server: the address stays blocked for 15 minutes."""
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("guess"))
    srv.set_up_regional_archive()
    srv.start()
    try:
        codes = [requests.post(srv.http_url + "/api/share/open", json={"token": f"rgsh_guess{i}"}, timeout=60).status_code
                 for i in range(21)]
        assert codes == [404] * 20 + [429], codes
    finally:
        srv.stop()


# ---------------------------------------------------------------- take into archive

NID = "1101700203336"  # check digit 6, computed by hand in service/thai_id.rs
OTHER_NID = "3100600123450"


def test_take_into_archive_reconciles_the_national_id(server, api, alice: DicomWeb, bob: DicomWeb):
    theirs = Study("UD-HN-1", "CT brain")
    theirs.ds.OtherPatientIDs = NID
    alice.stow_ok([to_bytes(theirs.ds)])
    rid = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": "stroke", "urgency": "emergency",
                                               "study_uids": [theirs.uid]}).json()["id"]
    assert api["alice"].post(f"/api/referrals/{rid}/take", {"patient_id": "SK-HN-77"}).status_code == 403
    r = api["bob"].post(f"/api/referrals/{rid}/take", {"patient_id": "SK-HN-77"})
    assert r.status_code == 200, r.text
    assert r.json() == {"patient_id": "SK-HN-77", "national_id": NID, "studies": [theirs.uid], "instances": 1}
    # bob's own copy, under his HN, with the sender's ID and the national ID kept.
    found = bob.qido("/studies", {"PatientID": "SK-HN-77"})
    assert [x["0020000D"]["Value"][0] for x in found] == [theirs.uid]
    meta = bob.get(f"/studies/{theirs.uid}/metadata", headers={"Accept": DICOM_JSON}).json()
    ids = {m["00100020"]["Value"][0] for m in meta}
    assert "SK-HN-77" in ids
    others = [(i["00100020"]["Value"][0], i["00100021"]["Value"][0]) for m in meta if "00101002" in m for i in m["00101002"]["Value"]]
    assert ("UD-HN-1", HOSPITAL_UDON) in others and (NID, "TH-NID") in others
    # The copy is bob's: it stays when the referral is declined; a second take conflicts.
    assert api["bob"].post(f"/api/referrals/{rid}/status", {"status": "declined"}).status_code == 200
    assert bob.qido("/studies", {"PatientID": "SK-HN-77"}) != []
    assert api["bob"].post(f"/api/referrals/{rid}/take", {"patient_id": "SK-HN-77"}).status_code == 409
    # A frame of the copy is the same pixels as the original.
    path = f"/studies/{theirs.uid}/series/{theirs.series}/instances/{theirs.sop}/frames/1"
    frame = lambda who: [p.body for p in parse_multipart(*(lambda r: (r.headers["Content-Type"], r.content))(get(who.http, server.http_url, path)))]
    assert frame(bob) == frame(alice) and len(frame(bob)[0]) == 16 * 16 * 2


def test_take_into_archive_refuses_a_different_national_id(api, alice: DicomWeb, bob: DicomWeb):
    mine = Study("SK-HN-88", "bob's own")
    mine.ds.OtherPatientIDs = OTHER_NID
    bob.stow_ok([to_bytes(mine.ds)])
    theirs = Study("UD-HN-2", "CT abdomen")
    theirs.ds.OtherPatientIDs = NID
    alice.stow_ok([to_bytes(theirs.ds)])
    rid = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": "r", "urgency": "routine",
                                               "study_uids": [theirs.uid]}).json()["id"]
    r = api["bob"].post(f"/api/referrals/{rid}/take", {"patient_id": "SK-HN-88"})
    assert r.status_code == 409 and "national ID" in r.json()["error"]
    assert api["bob"].post(f"/api/referrals/{rid}/take", {"patient_id": ""}).status_code == 400


# ---------------------------------------------------------------- referral letter


def test_referral_letter_pdf(server, api, data, tmp_path):
    """Checked with poppler (pdftotext, pdffonts, pdftoppm) and zbarimg, not our code."""
    for tool in ("pdftotext", "pdffonts", "pdftoppm", "zbarimg"):
        assert shutil.which(tool), f"{tool} is needed (poppler-utils, zbar-tools: cargo xtask test installs them)"
    ct = data["ct"]
    reason = "สงสัยเนื้องอกในปอด ขอตรวจ MRI เพิ่มเติม"
    summary = "ผู้ป่วยชายอายุ ๔๕ ปี ไอเรื้อรังมาสามเดือน น้ำหนักลดห้ากิโลกรัม"
    rid = api["alice"].post("/api/referrals", {"to_hospital": HOSPITAL_SAKON, "reason": reason, "urgency": "urgent",
                                               "clinical_summary": summary, "study_uids": [ct.uid]}).json()["id"]
    api["admin"].put(f"/api/hospitals/{HOSPITAL_UDON}", {"name_th": "โรงพยาบาลอุดรธานี", "name_en": "Udon Thani Hospital",
                                                         "contact": "โทร 042-245-555"})
    r = api["alice"].post(f"/api/referrals/{rid}/letter")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf"
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    # Canonically equivalent text: the shaper may draw a tone mark before a lower vowel.
    nfc = lambda t: unicodedata.normalize("NFC", "".join(t.split()))
    flat = nfc(text)
    for expected in ("โรงพยาบาลอุดรธานี", "หนังสือส่งตัวผู้ป่วย", reason, summary, "REF-1", "เร่งด่วน", "ใช้ได้ถึง"):
        assert nfc(expected) in flat, (expected, text)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, timeout=60).stdout
    line = next(l for l in fonts.splitlines() if "Loma" in l)
    assert "CID TrueType" in line and line.split()[-5:-2] == ["yes", "yes", "yes"], fonts  # emb sub uni
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    out = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True, text=True, timeout=60)
    url = out.stdout.strip()
    assert url.startswith(server.http_url + "/s/rgsh_"), (url, out.stderr)
    _, r = open_link(server, url.rsplit("/", 1)[1])
    assert r.status_code == 200 and r.json()["study_uids"] == [ct.uid]
    # bob (the receiving side) may print it too; a third party may not.
    assert api["bob"].post(f"/api/referrals/{rid}/letter").status_code == 200


def test_patient_card_pdf(server, api, data, tmp_path):
    """The printable card of a patient link: text by pdftotext, QR by zbarimg."""
    link = share(api, study_uids=[data["ct"].uid], audience="patient", birth_date_check=True)
    r = api["alice"].post("/api/shares/card", {"token": link["token"]})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", r.text
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    flat = unicodedata.normalize("NFC", "".join(text.split()))
    for expected in ("ภาพถ่ายทางรังสีของคุณ", "REF-1", "ระบบจะถามวันเกิดของผู้ป่วย"):
        assert unicodedata.normalize("NFC", expected) in flat, (expected, text)
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf), str(tmp_path / "card")], check=True, timeout=60)
    out = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "card.png")], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == server.http_url + link["path"], out.stderr
    assert api["bob"].post("/api/shares/card", {"token": link["token"]}).status_code == 404
