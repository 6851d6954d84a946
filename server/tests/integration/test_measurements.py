"""Measurements saved per user (`/api/measurements`).

alice (Udon Thani) saves, lists, replaces and deletes measurements on her hospital's
study; carol, another doctor of the same hospital, never sees them; bob (Sakon Nakhon)
gets 404 for alice's study exactly as for a study that does not exist; nothing works
without credentials; bad input is a 4xx with a message; each access is in the audit
log (read with Python's sqlite3 or pg8000, not through the server).
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from pydicom.uid import generate_uid

from dicom_factory import gen_ct, read
from dicomweb import DicomWeb
from rangsi_server import HOSPITAL_UDON, index_db

API = "/api/measurements"


class Api:
    """One user of the JSON API (Bearer token)."""

    def __init__(self, server, token: str | None, name: str):
        self.root = server.http_url
        self.http = requests.Session()
        self.name = name
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, study: str, **kw) -> requests.Response:
        return self.http.get(self.root + API, params={"study": study}, timeout=60, **kw)

    def put(self, mid: str, body, **kw) -> requests.Response:
        if isinstance(body, (dict, list)):
            return self.http.put(f"{self.root}{API}/{mid}", json=body, timeout=60, **kw)
        return self.http.put(f"{self.root}{API}/{mid}", data=body, timeout=60,
                             headers={"Content-Type": "application/json"}, **kw)

    def delete(self, mid: str) -> requests.Response:
        return self.http.delete(f"{self.root}{API}/{mid}", timeout=60)


@pytest.fixture(scope="module")
def ct(shared_dir, tmp_path_factory, alice: DicomWeb):
    """A 2-slice CT of alice's hospital (STOW by alice)."""
    (series,) = gen_ct(shared_dir, tmp_path_factory.mktemp("measure"), slices=2, rows=64,
                       patient_id="MEAS-1", seed=41)
    alice.stow_ok([f.read_bytes() for f in series.files])
    sops = [str(read(f).SOPInstanceUID) for f in series.files]
    return series, sops


@pytest.fixture(scope="module")
def users(server):
    server.cli("user", "add", "carol", "--hospital", HOSPITAL_UDON, "--role", "radiologist", "--password-stdin",
               stdin="carol-Pw-10670\n")
    carol = server.cli("token", "create", "--user", "carol").stdout.decode().strip()
    return {
        "alice": Api(server, server.tokens["alice"], "alice"),
        "bob": Api(server, server.tokens["bob"], "bob"),
        "admin": Api(server, server.tokens["admin"], "admin"),
        "carol": Api(server, carol, "carol"),
        "anon": Api(server, None, "anonymous"),
    }


def length(ct, points=((10.0, 12.0), (40.5, 52.25))) -> dict:
    series, sops = ct
    return {"study_uid": series.study_uid, "series_uid": series.series_uid, "sop_uid": sops[0],
            "frame": 1, "kind": "length", "points": [list(p) for p in points]}


def new_id() -> str:
    return "m-" + uuid.uuid4().hex


def test_crud_for_the_user_who_drew_them(ct, users):
    alice = users["alice"]
    series, sops = ct
    r = alice.get(series.study_uid)
    assert r.status_code == 200, r.text
    assert r.json() == {"measurements": []}

    first, second = new_id(), new_id()
    r = alice.put(first, length(ct))
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["id"] == first and saved["kind"] == "length"
    assert saved["points"] == [[10.0, 12.0], [40.5, 52.25]]
    assert saved["updated_at"].endswith("Z")

    roi = {**length(ct), "sop_uid": sops[1], "kind": "ellipse", "points": [[1, 2], [30, 20]]}
    cobb = {**length(ct), "kind": "cobb", "points": [[0, 0], [10, 1], [0, 20], [10, 25]], "id": second}
    assert alice.put(new_id(), roi).status_code == 200
    assert alice.put(second, cobb).status_code == 200

    listed = alice.get(series.study_uid).json()["measurements"]
    assert [m["kind"] for m in listed] == ["length", "ellipse", "cobb"]
    assert listed[1]["sop_uid"] == sops[1]

    # PUT again replaces (the handle was moved): still three, new points.
    r = alice.put(first, length(ct, ((11.0, 12.0), (60.0, 52.0))))
    assert r.status_code == 200, r.text
    listed = alice.get(series.study_uid).json()["measurements"]
    assert len(listed) == 3
    assert next(m for m in listed if m["id"] == first)["points"] == [[11.0, 12.0], [60.0, 52.0]]

    r = alice.delete(first)
    assert r.status_code == 204, r.text
    assert first not in {m["id"] for m in alice.get(series.study_uid).json()["measurements"]}
    r = alice.delete(first)
    assert r.status_code == 404 and r.json()["error"]


def test_another_user_of_the_same_hospital_sees_none_of_them(ct, users):
    alice, carol = users["alice"], users["carol"]
    series, _ = ct
    mid = new_id()
    assert alice.put(mid, length(ct)).status_code == 200
    r = carol.get(series.study_uid)
    assert r.status_code == 200, r.text  # carol may read the study ...
    assert mid not in {m["id"] for m in r.json()["measurements"]}  # ... but not alice's measurements
    assert carol.delete(mid).status_code == 404
    # carol's PUT with the same id makes her own measurement; alice's is untouched.
    assert carol.put(mid, length(ct, ((1, 1), (2, 2)))).status_code == 200
    mine = next(m for m in alice.get(series.study_uid).json()["measurements"] if m["id"] == mid)
    assert mine["points"] == [[10.0, 12.0], [40.5, 52.25]]
    assert [m["points"] for m in carol.get(series.study_uid).json()["measurements"]] == [[[1, 1], [2, 2]]]


def test_another_hospital_gets_404_like_a_study_that_does_not_exist(ct, users):
    alice, bob, admin = users["alice"], users["bob"], users["admin"]
    series, _ = ct
    mid = new_id()
    assert alice.put(mid, length(ct)).status_code == 200
    missing = bob.get(generate_uid())
    r = bob.get(series.study_uid)
    assert r.status_code == 404 == missing.status_code
    assert r.json() == missing.json()
    r = bob.put(new_id(), length(ct))
    assert r.status_code == 404, r.text
    assert bob.delete(mid).status_code == 404
    assert mid in {m["id"] for m in alice.get(series.study_uid).json()["measurements"]}
    # The regional administrator may see the study, but has no measurements of alice's.
    r = admin.get(series.study_uid)
    assert r.status_code == 200 and mid not in {m["id"] for m in r.json()["measurements"]}


def test_an_instance_not_in_the_study_is_404(ct, users):
    body = {**length(ct), "sop_uid": generate_uid()}
    r = users["alice"].put(new_id(), body)
    assert r.status_code == 404 and r.json()["error"]


@pytest.mark.parametrize("body, why", [
    ("{not json", "syntax"),
    ('{"kind": "length"}', "missing fields"),
    ("[]", "not an object"),
])
def test_bad_json_is_400_with_a_message(ct, users, body, why):
    r = users["alice"].put(new_id(), body)
    assert r.status_code == 400, f"{why}: {r.status_code} {r.text}"
    assert r.json()["error"], why


@pytest.mark.parametrize("change, words", [
    ({"kind": "triangle"}, "kind"),
    ({"points": [[1, 2]]}, "2 points"),
    ({"kind": "angle"}, "3 points"),
    ({"points": [[1, 2], [1e9, 0]]}, "image position"),
    ({"sop_uid": "1.2.x"}, "sop_uid"),
    ({"frame": 0}, "frame"),
    ({"id": "not-the-urls"}, "URL"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_measurements_are_400_with_the_reason(ct, users, change, words):
    r = users["alice"].put(new_id(), {**length(ct), **change})
    assert r.status_code == 400, f"{change}: {r.status_code} {r.text}"
    assert words in r.json()["error"], r.json()


def test_bad_ids_and_queries_are_400(ct, users):
    alice = users["alice"]
    assert alice.put("a" * 65, length(ct)).status_code == 400
    assert alice.put("bad%20id", length(ct)).status_code == 400
    assert alice.delete("bad%20id").status_code == 400
    r = alice.http.get(alice.root + API, timeout=30)
    assert r.status_code == 400 and "study" in r.json()["error"]
    r = alice.http.get(alice.root + API, params={"study": "1.2", "x": "1"}, timeout=30)
    assert r.status_code == 400 and "x" in r.json()["error"]
    assert alice.get("not a uid").status_code == 400


def test_a_large_body_is_refused(ct, users):
    body = {**length(ct), "points": [[1.0, 2.0]] * 5000}
    r = users["alice"].put(new_id(), body)
    assert r.status_code == 413, r.text


def test_unauthenticated_is_401(ct, users):
    anon = users["anon"]
    series, _ = ct
    for r in (anon.get(series.study_uid), anon.put(new_id(), length(ct)), anon.delete(new_id())):
        assert r.status_code == 401, r.text
        assert r.json()["error"]


def test_measurement_access_is_audited(server, ct, users):
    alice, bob = users["alice"], users["bob"]
    series, _ = ct
    mid = new_id()
    assert alice.put(mid, length(ct)).status_code == 200
    assert alice.get(series.study_uid).status_code == 200
    assert alice.delete(mid).status_code == 204
    assert bob.get(series.study_uid).status_code == 404
    want = {("alice", "measurement-save", "ok"), ("alice", "measurements", "ok"),
            ("alice", "measurement-delete", "ok"), ("bob", "measurements", "not-found")}
    deadline = time.time() + 5
    while True:
        with index_db(server, readonly=True) as con:
            rows = con.execute("SELECT actor, action, outcome, patient_id FROM audit_log WHERE study_uid = ?",
                               (series.study_uid,)).fetchall()
        got = {(a, act, o) for a, act, o, _ in rows}
        if want <= got or time.time() > deadline:
            break
        time.sleep(0.1)
    assert want <= got, rows
    assert any(a == "alice" and act == "measurement-save" and p == "MEAS-1" for a, act, _, p in rows), rows
