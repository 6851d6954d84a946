"""Authentication and tenancy.

Nothing is served without credentials (401 + WWW-Authenticate); Bearer tokens, Basic
auth and the login session cookie work; alice (Udon Thani, 10670) never sees bob's
(Sakon Nakhon, 10671) studies through QIDO, WADO or DIMSE, and cannot tell them apart
from studies that do not exist; admin sees both.
"""

from __future__ import annotations

import re

import pytest
import requests
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import CT_IMAGE_STORAGE, gen_ct, new_image, noise_image, read, save
from dimse import findscu, movescu, pynetdicom_get, pynetdicom_move, storescu
from rangsi_server import ADMIN_PASSWORD, PASSWORDS, Server


@pytest.fixture(scope="module")
def tenants(shared_dir, tmp_path_factory, peer, alice):
    """alice's study (STOW by alice) and bob's study (C-STORE by MODB, so 10671)."""
    out = tmp_path_factory.mktemp("security")
    (a,) = gen_ct(shared_dir, out / "a", slices=2, rows=128, patient_id="SEC-ALICE", seed=31)
    (b,) = gen_ct(shared_dir, out / "b", slices=2, rows=128, patient_id="SEC-BOB", seed=32)
    alice.stow_ok([f.read_bytes() for f in a.files])
    outcome = storescu(peer, "MODB", b.files)
    assert not outcome.failed, f"storescu as MODB: {outcome.results}"
    return a, b


@pytest.fixture(scope="module")
def bob_target(shared_dir, tmp_path_factory, peer):
    """A second study of bob's, for alice to try to STOW into (kept apart from `tenants`
    so the attempt cannot disturb the other tenancy checks)."""
    (t,) = gen_ct(shared_dir, tmp_path_factory.mktemp("security-target"), slices=2, rows=64,
                  patient_id="SEC-BOB-2", seed=33, study_description="BOB ONLY STUDY")
    outcome = storescu(peer, "MODB", t.files)
    assert not outcome.failed, f"storescu as MODB: {outcome.results}"
    return t


def instance_path(series, i=0):
    sop = str(read(series.files[i]).SOPInstanceUID)
    return f"/studies/{series.study_uid}/series/{series.series_uid}/instances/{sop}"


# ---------------------------------------------------------------------------
# authentication


def endpoints(series):
    inst = instance_path(series)
    return [
        ("GET", "/studies"), ("GET", "/series"), ("GET", "/instances"),
        ("GET", f"/studies/{series.study_uid}"), ("GET", f"/studies/{series.study_uid}/metadata"),
        ("GET", f"/studies/{series.study_uid}/series"), ("GET", f"/studies/{series.study_uid}/instances"),
        ("GET", f"/studies/{series.study_uid}/series/{series.series_uid}"),
        ("GET", f"/studies/{series.study_uid}/series/{series.series_uid}/instances"),
        ("GET", f"/studies/{series.study_uid}/series/{series.series_uid}/metadata"),
        ("GET", inst), ("GET", inst + "/metadata"), ("GET", inst + "/frames/1"), ("GET", inst + "/rendered"),
        ("GET", inst + "/thumbnail"), ("GET", f"/studies/{series.study_uid}/thumbnail"),
        ("POST", "/studies"), ("POST", f"/studies/{series.study_uid}"),
    ]


def test_every_endpoint_needs_auth(tenants, server):
    a, _ = tenants
    for method, path in endpoints(a):
        r = requests.request(method, server.http_url + "/dicomweb" + path, timeout=60,
                             headers={"Content-Type": "multipart/related; type=\"application/dicom\"; boundary=x"} if method == "POST" else {},
                             data=b"--x--\r\n" if method == "POST" else None)
        assert r.status_code == 401, f"{method} {path} without credentials -> {r.status_code}, want 401"
        assert 'Basic realm="rangsi"' in r.headers.get("WWW-Authenticate", ""), f"{method} {path}: WWW-Authenticate {r.headers.get('WWW-Authenticate')!r}"
        assert b"DICM" not in r.content
    r = requests.get(server.http_url + "/api/me", timeout=30)
    assert r.status_code == 401, f"/api/me without credentials -> {r.status_code}"


def test_healthz_needs_no_auth(server):
    r = requests.get(server.http_url + "/healthz", timeout=10)
    assert r.status_code == 200 and r.text.strip() == "ok"


@pytest.mark.parametrize("auth", [
    {"Authorization": "Bearer not-a-real-token"},
    {"Authorization": "Basic YWxpY2U6d3JvbmctcGFzc3dvcmQ="},  # alice:wrong-password
    {"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="},  # nobody:nothing
])
def test_bad_credentials_are_401(server, auth):
    r = requests.get(server.http_url + "/dicomweb/studies", headers=auth, timeout=60)
    assert r.status_code == 401, f"{auth} -> {r.status_code}, want 401"


def test_basic_auth_works(tenants, server):
    a, _ = tenants
    web = dw.DicomWeb(server.http_url, auth=("alice", PASSWORDS["alice"]), name="alice-basic")
    assert dw.uids(web.qido("/studies", {"PatientID": "SEC-ALICE"}), dw.STUDY_INSTANCE_UID) == {a.study_uid}


def test_login_session_cookie(tenants, server):
    a, _ = tenants
    http = requests.Session()
    bad = http.post(server.http_url + "/api/login", json={"username": "alice", "password": "nope"}, timeout=60)
    assert bad.status_code == 401, f"login with a wrong password -> {bad.status_code}"
    r = http.post(server.http_url + "/api/login", json={"username": "alice", "password": PASSWORDS["alice"]}, timeout=60)
    assert r.status_code == 200, f"login -> {r.status_code} {r.text[:300]}"
    cookie = r.headers.get("Set-Cookie", "")
    assert "rangsi_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, f"Set-Cookie: {cookie!r}"
    me = http.get(server.http_url + "/api/me", timeout=30)
    assert me.status_code == 200 and "alice" in me.text, f"/api/me with the session -> {me.status_code} {me.text[:200]}"
    q = http.get(server.http_url + "/dicomweb/studies", params={"PatientID": "SEC-ALICE"},
                 headers={"Accept": dw.DICOM_JSON}, timeout=60)
    assert q.status_code == 200 and dw.uids(q.json(), dw.STUDY_INSTANCE_UID) == {a.study_uid}
    out = http.post(server.http_url + "/api/logout", timeout=30)
    assert out.status_code in (200, 204), f"logout -> {out.status_code}"
    http.cookies.clear()
    http.cookies.set("rangsi_session", r.cookies.get("rangsi_session"))
    after = http.get(server.http_url + "/dicomweb/studies", timeout=30)
    assert after.status_code == 401, f"the session cookie still works after logout ({after.status_code})"


def test_admin_password_from_environment(server):
    r = requests.get(server.http_url + "/api/me", auth=("admin", ADMIN_PASSWORD), timeout=60)
    assert r.status_code == 200 and "admin" in r.text, f"admin with RANGSI_ADMIN_PASSWORD -> {r.status_code} {r.text[:200]}"


def test_first_start_prints_generated_admin_password(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path, admin_password=None)
    srv.data.mkdir()
    srv.start()
    try:
        m = re.search(r"^rangsi: admin password: (\S+)$", srv.log_path.read_text(errors="replace"), re.M)
        assert m, f"first start without RANGSI_ADMIN_PASSWORD printed no admin password:\n{srv.log_tail()}"
        ok = requests.get(srv.http_url + "/api/me", auth=("admin", m.group(1)), timeout=60)
        assert ok.status_code == 200, f"admin with the printed password -> {ok.status_code}"
        bad = requests.get(srv.http_url + "/api/me", auth=("admin", m.group(1) + "x"), timeout=60)
        assert bad.status_code == 401
    finally:
        srv.stop()
    srv.start()
    try:
        assert "admin password" not in srv.log_path.read_text(errors="replace"), "the password was printed again on restart"
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# tenancy: DICOMweb


def qido_paths(series, sop):
    s, x = series.study_uid, series.series_uid
    return [
        ("/studies", {"StudyInstanceUID": s}),
        ("/studies", {"PatientID": series.patient_id}),
        ("/series", {"SeriesInstanceUID": x}),
        ("/instances", {"SOPInstanceUID": sop}),
        (f"/studies/{s}/series", None),
        (f"/studies/{s}/instances", None),
        (f"/studies/{s}/series/{x}/instances", None),
    ]


def test_qido_hides_other_hospitals_studies(tenants, alice, bob):
    a, b = tenants
    for web, own, other in ((alice, a, b), (bob, b, a)):
        own_sop, other_sop = str(read(own.files[0]).SOPInstanceUID), str(read(other.files[0]).SOPInstanceUID)
        for path, params in qido_paths(own, own_sop):
            assert web.qido(path, params), f"{web.name} cannot see their own study at {path} {params}"
        for path, params in qido_paths(other, other_sop):
            assert web.qido(path, params) == [], f"{web.name} sees another hospital's data at {path} {params}"


def test_qido_of_foreign_study_looks_like_missing_study(tenants, alice):
    _, b = tenants
    for suffix in ("/series", "/instances"):
        foreign = alice.qido_response(f"/studies/{b.study_uid}{suffix}")
        missing = alice.qido_response(f"/studies/{generate_uid()}{suffix}")
        assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content), (
            f"{suffix}: bob's study answers {foreign.status_code} {foreign.text[:100]!r}, "
            f"a missing one {missing.status_code} {missing.text[:100]!r}"
        )


def wado_paths(series):
    inst = instance_path(series)
    return [
        (f"/studies/{series.study_uid}", dw.ACCEPT_DICOM_ANY_TS),
        (f"/studies/{series.study_uid}/metadata", dw.DICOM_JSON),
        (f"/studies/{series.study_uid}/series/{series.series_uid}", dw.ACCEPT_DICOM_ANY_TS),
        (f"/studies/{series.study_uid}/series/{series.series_uid}/metadata", dw.DICOM_JSON),
        (inst, dw.ACCEPT_DICOM_ANY_TS),
        (inst + "/metadata", dw.DICOM_JSON),
        (inst + "/frames/1", dw.ACCEPT_FRAMES_AS_STORED),
        (inst + "/rendered", "image/jpeg"),
        (inst + "/frames/1/rendered", "image/jpeg"),
        (inst + "/thumbnail", "image/jpeg"),
        (f"/studies/{series.study_uid}/thumbnail", "image/jpeg"),
    ]


def test_wado_of_foreign_study_is_404(tenants, alice, bob):
    a, b = tenants
    for web, own, other in ((alice, a, b), (bob, b, a)):
        for path, accept in wado_paths(own):
            r = web.get(path, headers={"Accept": accept})
            assert r.status_code == 200, f"{web.name} GET own {path} -> {r.status_code}"
        for path, accept in wado_paths(other):
            r = web.get(path, headers={"Accept": accept})
            assert r.status_code == 404, f"{web.name} GET another hospital's {path} -> {r.status_code}, want 404"
            assert b"DICM" not in r.content


def test_bulkdata_of_foreign_instance_is_404(tenants, alice, bob):
    _, b = tenants
    (meta,) = bob.get(instance_path(b) + "/metadata", headers={"Accept": dw.DICOM_JSON}).json()
    uri = meta[dw.PIXEL_DATA]["BulkDataURI"]
    from urllib.parse import urljoin

    url = urljoin(bob.url(instance_path(b) + "/metadata"), uri)
    assert bob.get(url, headers={"Accept": dw.ACCEPT_FRAMES_AS_STORED}).status_code == 200
    r = alice.get(url, headers={"Accept": dw.ACCEPT_FRAMES_AS_STORED})
    assert r.status_code == 404, f"alice GET bob's BulkDataURI -> {r.status_code}, want 404"


def test_admin_sees_every_hospital(tenants, admin):
    a, b = tenants
    found = dw.uids(admin.qido("/studies", {"PatientID": "SEC-*"}), dw.STUDY_INSTANCE_UID)
    assert {a.study_uid, b.study_uid} <= found, "admin should see alice's and bob's studies"
    for series in (a, b):
        assert admin.get(instance_path(series), headers={"Accept": dw.ACCEPT_DICOM_ANY_TS}).status_code == 200


def test_stow_into_foreign_study_uid_gives_no_access(bob_target, alice, bob, tmp_path):
    b = bob_target
    intruder = new_image(patient_id="SEC-INTRUDER", patient_name="INTRUDER^ALICE", study_uid=b.study_uid,
                         pixels=noise_image(8, 8, seed=9))
    r = alice.stow([save(intruder, tmp_path / "intruder.dcm").read_bytes()])
    assert r.status_code in (200, 202, 409), f"STOW into bob's study UID -> {r.status_code}"
    bob_sops = {str(read(f).SOPInstanceUID) for f in b.files}
    visible = dw.uids(alice.qido(f"/studies/{b.study_uid}/instances"), dw.SOP_INSTANCE_UID)
    assert not visible & bob_sops, "after STOWing into bob's study UID alice sees bob's instances"
    assert alice.get(instance_path(b), headers={"Accept": dw.ACCEPT_DICOM_ANY_TS}).status_code == 404
    meta = alice.get(f"/studies/{b.study_uid}/metadata", headers={"Accept": dw.DICOM_JSON})
    if meta.status_code == 200:
        assert not dw.uids(meta.json(), dw.SOP_INSTANCE_UID) & bob_sops, "study metadata leaks bob's instances"
    for s in alice.qido("/studies", {"StudyInstanceUID": b.study_uid}):
        assert dw.person_name(s) != b.patient_name, "alice sees bob's patient's name on the shared study UID"
        assert dw.value(s, dw.STUDY_DESCRIPTION) != "BOB ONLY STUDY", "alice sees bob's study description"
        assert dw.value(s, dw.NUMBER_OF_STUDY_RELATED_INSTANCES) in (None, 1, "1"), "study counts leak bob's instances"
    after = dw.uids(bob.qido(f"/studies/{b.study_uid}/instances"), dw.SOP_INSTANCE_UID)
    assert bob_sops <= after, "bob lost instances after alice's STOW into his study UID"
    (bob_study,) = bob.qido("/studies", {"StudyInstanceUID": b.study_uid})
    assert dw.person_name(bob_study) == b.patient_name, "alice's STOW changed bob's study-level attributes"


# ---------------------------------------------------------------------------
# tenancy: DIMSE


def test_cfind_hides_other_hospitals_studies(tenants, peer):
    a, b = tenants
    for aet, own, other in (("MODA", a, b), ("MODB", b, a)):
        _, found = findscu(peer, aet, "-S", ["QueryRetrieveLevel=STUDY", "PatientID=SEC-*", "StudyInstanceUID"])
        got = {str(d.StudyInstanceUID) for d in found}
        assert own.study_uid in got, f"{aet} does not find its own study"
        assert other.study_uid not in got, f"{aet} C-FIND returns the other hospital's study"
        _, imgs = findscu(peer, aet, "-S", ["QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={other.study_uid}",
                                            f"SeriesInstanceUID={other.series_uid}", "SOPInstanceUID"])
        assert imgs == [], f"{aet} C-FIND IMAGE level returns the other hospital's instances"


def test_cmove_of_foreign_study_sends_nothing(tenants, peer, dest_a):
    _, b = tenants
    dest_a.clear()
    movescu(peer, "MODA", "DESTA", "-S", ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={b.study_uid}"])
    assert dest_a.received() == {}, "MODA moved Sakon Nakhon's study to DESTA"


def test_cmove_to_other_hospitals_destination_fails(tenants, peer, dest_b):
    a, _ = tenants
    dest_b.clear()
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = a.study_uid
    final, _ = pynetdicom_move(peer, "MODA", "DESTB", q)
    assert final is not None and final not in (0x0000, 0xB000), f"MODA -> DESTB (other hospital) final status {final and hex(final)}"
    assert dest_b.received() == {}, "an Udon Thani study was sent to Sakon Nakhon's AE"


def test_cget_of_foreign_study_returns_nothing(tenants, peer):
    _, b = tenants
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = b.study_uid
    received, _ = pynetdicom_get(peer, "MODA", q, [CT_IMAGE_STORAGE])
    assert received == {}, "MODA C-GET retrieved Sakon Nakhon's instances"
    own, final = pynetdicom_get(peer, "MODB", q, [CT_IMAGE_STORAGE])
    assert len(own) == 2 and final == 0x0000, f"MODB C-GET of its own study: {len(own)} instances, status {final}"


def test_cmove_own_study_to_own_destination_works(tenants, peer, dest_b):
    _, b = tenants
    dest_b.clear()
    res = movescu(peer, "MODB", "DESTB", "-S", ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={b.study_uid}"])
    assert res.returncode == 0, f"movescu MODB -> DESTB: {res}"
    assert set(dest_b.received()) == {str(read(f).SOPInstanceUID) for f in b.files}
