"""Consultation requests and the reading worklist (`/api/consults`, `/api/worklist`;
issue 7), across two hospitals with two users each.

alice (doctor, Udon Thani) asks Sakon Nakhon's radiologists for a STAT reading of a
CT, with history, question and patient data. Until then bob's hospital sees nothing of
the patient; with the request its radiologists (not bob, a doctor) see exactly this
patient's studies at Udon (the study and a prior), not another patient's. sakrad1
claims it from his worklist (sakrad2 then can neither claim nor read it), releases it,
sakrad2 claims, writes and signs the report; the request is reported and alice sees the
report. A second request, withdrawn, takes its grant back. The server is this module's
own: grants must not leak into other modules' tenancy tests.
"""

from __future__ import annotations

import pytest
import requests

from dicom_factory import gen_ct
from dicomweb import DicomWeb
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, Server

PASSWORDS = {"sakrad1": "sakrad1-Pw-10671", "sakrad2": "sakrad2-Pw-10671", "udonrad": "udonrad-Pw-10670"}


class Api:
    def __init__(self, server, token: str | None):
        self.root = server.http_url + "/api"
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.root + path, timeout=60, **kw)

    def post(self, path: str, body=None) -> requests.Response:
        return self.http.post(self.root + path, json=body, timeout=60)


def check(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def server(rangsi_bin, tmp_path_factory):
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("consults"))
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    for name, hospital in (("sakrad1", HOSPITAL_SAKON), ("sakrad2", HOSPITAL_SAKON), ("udonrad", HOSPITAL_UDON)):
        srv.cli("user", "add", name, "--hospital", hospital, "--role", "radiologist", "--password-stdin",
                stdin=PASSWORDS[name] + "\n")
        srv.tokens[name] = srv.cli("token", "create", "--user", name).stdout.decode().strip()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def users(server):
    return {u: Api(server, server.tokens[u]) for u in ("alice", "bob", "admin", "sakrad1", "sakrad2", "udonrad")}


@pytest.fixture(scope="module")
def studies(server, shared_dir, tmp_path_factory):
    """Patient CONS-1: a CT and a prior; patient CONS-2: another CT; all at Udon."""
    alice = DicomWeb(server.http_url, token=server.tokens["alice"], name="alice")
    out = {}
    for key, pid, seed in (("ct", "CONS-1", 51), ("prior", "CONS-1", 52), ("other", "CONS-2", 53)):
        (series,) = gen_ct(shared_dir, tmp_path_factory.mktemp(key), slices=1, rows=64, patient_id=pid, seed=seed)
        alice.stow_ok([f.read_bytes() for f in series.files])
        out[key] = series.study_uid
    return out


def visible(api: Api, server, study: str) -> bool:
    """Whether `api`'s user can read the study's metadata (DICOMweb, not our API)."""
    r = api.http.get(f"{server.http_url}/dicomweb/studies/{study}/metadata", timeout=60)
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def test_a_remote_reading_from_request_to_signed_report(server, users, studies):
    alice, bob, rad1, rad2 = users["alice"], users["bob"], users["sakrad1"], users["sakrad2"]
    assert not any(visible(rad1, server, s) for s in studies.values())

    request = {"study_uid": studies["ct"], "to_hospital": HOSPITAL_SAKON, "priority": "stat",
               "history": "ปวดศีรษะรุนแรง 2 ชั่วโมง", "question": "Haemorrhage?",
               "patient_data": {"weight_kg": "62", "labs": "INR 1.1", "allergies": "iodine (mild)",
                                "prior_treatment": "none"}}
    check(bob.post("/consults", request), 404)  # not bob's hospital's study
    check(alice.post("/consults", {**request, "priority": "soon"}), 400)
    check(alice.post("/consults", {**request, "to_hospital": "99999"}), 400)
    check(alice.post("/consults", {**request, "to_radiologist": "udonrad"}), 400)  # not of Sakon
    (c,) = check(alice.post("/consults", request), 201)["consults"]
    assert (c["status"], c["priority"], c["from_hospital"], c["to_hospital"]) == \
        ("requested", "stat", HOSPITAL_UDON, HOSPITAL_SAKON)
    assert c["patient_data"]["allergies"] == "iodine (mild)" and not c["overdue"]

    # The grant: this patient's studies at Udon, nothing else, and to the readers only:
    # the reading hospital's radiologists, not its doctors.
    assert visible(rad1, server, studies["ct"]) and visible(rad1, server, studies["prior"])
    assert visible(rad2, server, studies["ct"])
    assert not visible(bob, server, studies["ct"]) and not visible(bob, server, studies["prior"])
    check(bob.get("/reports", params={"study": studies["ct"]}), 404)
    assert not visible(rad1, server, studies["other"])

    # The worklist: STAT first; one reader claims it.
    items = check(rad1.get("/worklist"), 200)["items"]
    assert items[0]["consult"]["id"] == c["id"] and items[0]["priority"] == "stat"
    check(alice.get("/worklist"), 403)  # doctors have none
    check(rad1.post(f"/consults/{c['id']}/claim"), 200)
    check(rad2.post(f"/consults/{c['id']}/claim"), 409)
    # Once claimed, the patient's studies are the claimer's to read, not the group's.
    assert visible(rad1, server, studies["ct"]) and not visible(rad2, server, studies["ct"])
    assert c["id"] not in [i["consult"]["id"] for i in check(rad2.get("/worklist"), 200)["items"] if i["consult"]]
    check(rad2.post(f"/consults/{c['id']}/release"), 403)
    check(rad1.post(f"/consults/{c['id']}/release"), 200)
    assert visible(rad2, server, studies["ct"])  # released: the group's again
    check(rad2.post(f"/consults/{c['id']}/claim"), 200)
    assert not visible(rad1, server, studies["ct"])
    check(alice.post(f"/consults/{c['id']}/claim"), 403)
    check(rad1.post(f"/consults/{c['id']}/frobnicate"), 400)

    # The reader reports; the request is done and the requester has the signed report.
    rid = check(rad2.post("/reports", {"study_uid": studies["ct"],
                                       "content": {"findings": "No haemorrhage.", "impression": "Normal CT brain."}}), 201)["id"]
    check(rad2.post(f"/reports/{rid}/sign", {"password": PASSWORDS["sakrad2"]}), 200)
    (done,) = check(alice.get("/consults", params={"study": studies["ct"]}), 200)["consults"]
    assert (done["status"], done["claimed_by"], done["report_state"]) == ("reported", "sakrad2", "final")
    (report,) = check(alice.get("/reports", params={"study": studies["ct"]}), 200)["reports"]
    assert report["signed_by"] == "sakrad2"
    assert studies["ct"] not in [i["study_uid"] for i in check(rad2.get("/worklist"), 200)["items"]]
    rows = check(alice.get("/studies", params={"patient": "CONS-1"}), 200)["rows"]
    assert {r["study_uid"]: r["badges"]["reported"] for r in rows}[studies["ct"]] is True


def test_withdrawing_a_request_takes_the_grant_back(server, users, studies):
    alice, rad1, udonrad = users["alice"], users["sakrad1"], users["udonrad"]
    (c,) = check(alice.post("/consults", {"study_uid": studies["other"], "to_hospital": HOSPITAL_SAKON,
                                          "to_radiologist": "sakrad1", "priority": "routine"}), 201)["consults"]
    assert c["to_radiologist"] == "sakrad1"
    assert visible(rad1, server, studies["other"])
    assert not visible(users["sakrad2"], server, studies["other"])  # named for sakrad1 alone
    rows = check(alice.get("/studies", params={"patient": "CONS-2"}), 200)["rows"]
    assert rows[0]["badges"]["consult_requested"] is True
    check(users["sakrad2"].post(f"/consults/{c['id']}/claim"), 403)  # named for sakrad1
    check(rad1.post(f"/consults/{c['id']}/withdraw"), 403)  # only the requesting hospital
    check(alice.post(f"/consults/{c['id']}/withdraw"), 200)
    assert not visible(rad1, server, studies["other"])
    check(alice.post(f"/consults/{c['id']}/withdraw"), 409)
    check(rad1.post(f"/consults/{c['id']}/claim"), 409)
    # A local radiologist's worklist has the hospital's unreported studies.
    local = [i["study_uid"] for i in check(udonrad.get("/worklist"), 200)["items"] if not i["consult"]]
    assert studies["other"] in local and studies["prior"] in local and studies["ct"] not in local
    # Both hospitals list their requests; the regional administrator lists all.
    ids = {c2["id"] for c2 in check(users["bob"].get("/consults"), 200)["consults"]}
    assert c["id"] in ids and ids == {c2["id"] for c2 in check(alice.get("/consults"), 200)["consults"]}
    assert ids <= {c2["id"] for c2 in check(users["admin"].get("/consults"), 200)["consults"]}


def test_attachments_are_stored_into_the_study_as_dicom(server, users, studies, tmp_path):
    """A PDF and a JPEG sent with a request: read back by dcmtk (dcm2pdf) and pydicom
    (pylibjpeg decoding the Secondary Capture against Pillow's decoding of the JPEG)."""
    import io
    import subprocess

    import numpy as np
    import pydicom
    from PIL import Image

    from dimse import dcmtk_tool

    alice = users["alice"]
    web = DicomWeb(server.http_url, token=server.tokens["alice"], name="alice")
    url = f"{alice.root}/studies/{studies['ct']}/attachments"

    def post(body: bytes, media_type: str, who: Api = alice, title: str = "") -> requests.Response:
        return who.http.post(url, params={"title": title} if title else None, data=body,
                             headers={"Content-Type": media_type}, timeout=60)

    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    sop = check(post(pdf, "application/pdf", title="ใบส่งตรวจ"), 201)["sop_instance_uid"]
    (hit,) = web.qido(f"/studies/{studies['ct']}/instances", {"SOPInstanceUID": sop})
    path = tmp_path / "pdf.dcm"
    path.write_bytes(web.instance_bytes(studies["ct"], hit["0020000E"]["Value"][0], sop))
    out = tmp_path / "out.pdf"
    subprocess.run([dcmtk_tool("dcm2pdf"), str(path), str(out)], check=True, capture_output=True, timeout=60)
    assert out.read_bytes().rstrip(b"\0") == pdf
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1" and ds.DocumentTitle == "ใบส่งตรวจ"
    assert ds.PatientID == "CONS-1" and ds.StudyInstanceUID == studies["ct"]

    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, subsampling=2)
    jpeg = buf.getvalue()
    sop = check(post(jpeg, "image/jpeg"), 201)["sop_instance_uid"]
    (hit,) = web.qido(f"/studies/{studies['ct']}/instances", {"SOPInstanceUID": sop})
    ds = pydicom.dcmread(io.BytesIO(web.instance_bytes(studies["ct"], hit["0020000E"]["Value"][0], sop)))
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation) == (48, 64, 3, "YBR_FULL_422")
    got = ds.pixel_array.astype(int)
    want = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    assert np.abs(got - want).max() <= 3

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", progressive=True)
    r = post(buf.getvalue(), "image/jpeg")
    assert r.status_code == 400 and "baseline" in r.json()["error"], r.text
    assert post(b"hello", "text/plain").status_code == 415
    assert post(b"hello", "application/pdf").status_code == 400
    assert post(pdf, "application/pdf", who=users["bob"]).status_code == 404
