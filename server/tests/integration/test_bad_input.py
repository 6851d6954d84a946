"""Bad input: truncated and garbage DICOM over STOW-RS and C-STORE, broken multipart,
wrong Content-Type (415), oversize bodies (413 on a server started with
--max-body-mb 1), junk on the DICOM port. Each must get a clear 4xx (JSON {"error"}) or a
DIMSE failure, leave nothing half-indexed, and leave the server up with previously
stored data unchanged.
"""

from __future__ import annotations

import os
import socket

import pytest
import requests
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import CT_IMAGE_STORAGE, gen_ct, new_image, noise_image, read, save
from dimse import echoscu, pynetdicom_store
from rangsi_server import Server


@pytest.fixture(scope="module")
def baseline(shared_dir, tmp_path_factory, alice):
    """A CT slice stored before any bad input arrives."""
    (ct,) = gen_ct(shared_dir, tmp_path_factory.mktemp("bad-baseline"), slices=2, rows=256, patient_id="BAD-BASE", seed=41)
    alice.stow_ok([f.read_bytes() for f in ct.files])
    return ct


@pytest.fixture(scope="module")
def victim(shared_dir, tmp_path_factory):
    """A valid file to be damaged (never stored whole)."""
    (ct,) = gen_ct(shared_dir, tmp_path_factory.mktemp("bad-victim"), slices=1, rows=256, patient_id="BAD-VICTIM", seed=42)
    return ct.files[0]


def assert_unharmed(server, alice, baseline):
    assert server.healthy(), f"server not healthy after bad input:\n{server.log_tail()}"
    sop = str(read(baseline.files[0]).SOPInstanceUID)
    got = alice.instance_bytes(baseline.study_uid, baseline.series_uid, sop)
    assert got == baseline.files[0].read_bytes(), "a previously stored instance changed"
    (study,) = alice.qido("/studies", {"StudyInstanceUID": baseline.study_uid})
    assert int(dw.value(study, dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 2


def assert_json_error(r, status):
    assert r.status_code == status, f"-> {r.status_code}, want {status}: {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), f"error Content-Type {r.headers.get('Content-Type')}"
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], f"error body {body}"


def assert_not_indexed(alice, sop: str):
    assert alice.qido("/instances", {"SOPInstanceUID": sop}) == [], f"rejected instance {sop} is visible in QIDO"


# ---------------------------------------------------------------------------
# STOW-RS


@pytest.mark.parametrize("cut", ["preamble", "file-meta", "dataset-header", "pixel-data", "last-byte"])
def test_stow_truncated_file(server, alice, baseline, victim, cut):
    data = victim.read_bytes()
    at = {"preamble": 10, "file-meta": 150, "dataset-header": 420, "pixel-data": len(data) // 2, "last-byte": len(data) - 1}[cut]
    r = alice.stow([data[:at]])
    assert r.status_code == 409, f"STOW of a file truncated at byte {at} ({cut}) -> {r.status_code}, want 409: {r.text[:300]}"
    body = r.json()
    fails = dw.values(body, dw.FAILED_SOP_SEQUENCE)
    assert len(fails) == 1 and dw.value(fails[0], dw.FAILURE_REASON), f"FailedSOPSequence: {body}"
    assert_not_indexed(alice, str(read(victim).SOPInstanceUID))
    assert_unharmed(server, alice, baseline)


def test_stow_garbage(server, alice, baseline):
    r = alice.stow([os.urandom(5000)])
    assert r.status_code == 409, f"STOW of random bytes -> {r.status_code}: {r.text[:300]}"
    assert dw.values(r.json(), dw.FAILED_SOP_SEQUENCE)
    assert_unharmed(server, alice, baseline)


def test_stow_without_sop_instance_uid(server, alice, baseline, tmp_path):
    ds = new_image(patient_id="BAD-NOUID", pixels=noise_image(8, 8, seed=1))
    del ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.preamble = b"\x00" * 128
    ds.save_as(tmp_path / "nouid.dcm", enforce_file_format=False)
    r = alice.stow([(tmp_path / "nouid.dcm").read_bytes()])
    assert r.status_code == 409, f"STOW of an instance without SOPInstanceUID -> {r.status_code}: {r.text[:300]}"
    assert alice.qido("/studies", {"PatientID": "BAD-NOUID"}) == []
    assert_unharmed(server, alice, baseline)


MULTIPART = 'multipart/related; type="application/dicom"; boundary=GOOD'


@pytest.mark.parametrize("ctype,body", [
    (MULTIPART, b"--OTHER\r\nContent-Type: application/dicom\r\n\r\nxxxx\r\n--OTHER--\r\n"),
    (MULTIPART, b"--GOOD\r\nContent-Type: application/dicom\r\n\r\n" + b"\x00" * 300),
    (MULTIPART, b"no boundary anywhere"),
    ('multipart/related; type="application/dicom"', b"--GOOD\r\n\r\nxx\r\n--GOOD--\r\n"),
], ids=["wrong-boundary", "unterminated", "no-delimiter", "no-boundary-param"])
def test_stow_broken_multipart(server, alice, baseline, ctype, body):
    r = alice.post("/studies", data=body, headers={"Content-Type": ctype, "Accept": dw.DICOM_JSON})
    assert_json_error(r, 400)
    assert_unharmed(server, alice, baseline)


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/dicom+xml"])
def test_stow_wrong_content_type_is_415(server, alice, baseline, victim, ctype):
    r = alice.post("/studies", data=victim.read_bytes(), headers={"Content-Type": ctype, "Accept": dw.DICOM_JSON})
    assert_json_error(r, 415)
    assert_not_indexed(alice, str(read(victim).SOPInstanceUID))
    assert_unharmed(server, alice, baseline)


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"offset": "-1"}, {"StudyDate": "2023-13-45x"}],
                         ids=["limit", "offset", "StudyDate"])
def test_qido_bad_parameter_is_400(server, alice, baseline, params):
    r = alice.qido_response("/studies", params)
    assert_json_error(r, 400)
    assert_unharmed(server, alice, baseline)


# ---------------------------------------------------------------------------
# oversize bodies


@pytest.fixture(scope="module")
def small_server(rangsi_bin, tmp_path_factory):
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-small"), extra_args=["--max-body-mb", "1"])
    srv.set_up_regional_archive()
    srv.start()
    srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield srv
    srv.stop()


def test_oversize_stow_is_413(small_server, tmp_path):
    web = dw.DicomWeb(small_server.http_url, token=small_server.tokens["alice"], name="alice@small")
    big = new_image(patient_id="BAD-BIG", pixels=noise_image(1024, 1024, seed=7))  # 2 MiB of pixels
    big_bytes = save(big, tmp_path / "big.dcm").read_bytes()
    r = web.stow([big_bytes])
    assert_json_error(r, 413)
    body, ctype = dw.encode_multipart([big_bytes])

    def chunks():
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    try:
        r = web.post("/studies", data=chunks(), headers={"Content-Type": ctype, "Accept": dw.DICOM_JSON})
        assert_json_error(r, 413)
    except requests.ConnectionError:
        pass  # closing the connection on an oversize chunked upload is acceptable; storing it is not
    assert small_server.healthy(), small_server.log_tail()
    assert web.qido("/studies", {"PatientID": "BAD-BIG"}) == [], "an oversize instance was stored"
    small = new_image(patient_id="BAD-SMALL", pixels=noise_image(64, 64, seed=8))
    r = web.stow([save(small, tmp_path / "small.dcm").read_bytes()])
    assert r.status_code == 200, f"a small STOW after the 413 -> {r.status_code}"


# ---------------------------------------------------------------------------
# DIMSE


def test_cstore_truncated_dataset(server, alice, baseline, peer, victim, tmp_path):
    data = victim.read_bytes()
    broken = tmp_path / "truncated.dcm"
    broken.write_bytes(data[: len(data) // 2])
    ((_, status),) = pynetdicom_store(peer, "MODA", [broken], [(CT_IMAGE_STORAGE, "1.2.840.10008.1.2.1")], raw_files=True)
    assert status is not None and "Status" in status, "no C-STORE response to a truncated data set (association dropped)"
    assert 0xA000 <= status.Status <= 0xCFFF, f"truncated C-STORE answered 0x{status.Status:04X}, want a failure status"
    assert_not_indexed(alice, str(read(victim).SOPInstanceUID))
    assert echoscu(peer, "MODA").returncode == 0, "C-ECHO fails after a truncated C-STORE"
    assert_unharmed(server, alice, baseline)


def test_junk_on_dicom_port(server, alice, baseline, peer):
    for junk in (os.urandom(4096), b"\x01\x00\x00\x00\xff\xff\xff\xff" + os.urandom(64), b"GET / HTTP/1.1\r\n\r\n"):
        with socket.create_connection((peer.host, peer.port), timeout=10) as s:
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(10)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    assert echoscu(peer, "MODA").returncode == 0, "C-ECHO fails after junk on the DICOM port"
    assert_unharmed(server, alice, baseline)
