"""Blobs on S3-compatible object storage: `rangsi serve --blobs s3://BUCKET/PREFIX`
against a real Garage started here (garage.py; no mock). Checked with an independent
S3 client (SigV4 by hand in garage.py), not through rangsi:

- a multi-frame instance larger than the multipart threshold (8 MiB) stored by STOW-RS
  and retrieved byte for byte (WADO-RS whole, frames, a byte range; C-GET), and the
  object in the bucket is those bytes;
- the bucket's listing under the prefix equals the index's blob keys and sizes;
- Garage stopped mid-operation: STOW answers 503 and C-STORE a failure status, nothing
  unstored is acknowledged or visible, retrieval answers 503, the server stays up, and
  everything works again once Garage is back;
- `rangsi fsck --verify` finds an object deleted and one corrupted behind its back;
- tiering from one prefix to a colder one.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
import requests
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import frames_as_stored, new_image, noise_image, read
from dimse import Peer, pynetdicom_get, pynetdicom_store
from garage import Garage
from rangsi_server import Server, index_db

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
MULTIPART_THRESHOLD = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def garage(tmp_path_factory):
    g = Garage(tmp_path_factory.mktemp("garage"))
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def s3_server(rangsi_bin, garage, tmp_path_factory):
    """A regional archive keeping its blobs in Garage (hot prefix) with a colder prefix."""
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-s3"))
    srv.s3_prefix = "hot"
    blobs_in(srv, garage, "hot", RANGSI_COLD_BLOBS="s3://rangsi/cold")
    srv.set_up_regional_archive()
    srv.start()
    srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield srv
    srv.stop()


def blobs_in(srv: Server, garage: Garage, prefix: str, **env: str) -> None:
    """The server's blobs under `prefix` of this module's Garage (instead of the shared
    one of RANGSI_TEST_BLOBS=s3); its index stays where `Server` put it (the database
    of RANGSI_TEST_DB=postgres)."""
    keep = {"RANGSI_DATABASE": srv.database} if srv.database else {}
    srv.blob_env = {**garage.rangsi_env(prefix), **env, **keep}


def alice_of(srv: Server) -> dw.DicomWeb:
    return dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")


def part10(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def index_blobs(srv: Server) -> dict[str, int]:
    with index_db(srv, readonly=True) as con:
        return {k: s for k, s in con.execute(
            "SELECT blob_key, size_bytes FROM instances WHERE blob_key NOT IN (SELECT blob_key FROM blob_tiers)")}


def fsck(srv: Server, *args: str):
    r = srv.cli("fsck", *args, check=False)
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def test_large_multiframe_instance_round_trips_byte_identical(s3_server, garage):
    alice = alice_of(s3_server)
    ds = new_image(patient_id="S3BIG", pixels=noise_image(512, 512, seed=3, frames=20))
    sent = part10(ds)
    assert len(sent) > MULTIPART_THRESHOLD + 1024 * 1024, "the test instance must take the multipart upload"
    alice.stow_ok([sent])
    study, series, sop = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
    url = f"/studies/{study}/series/{series}/instances/{sop}"

    assert alice.instance_bytes(study, series, sop) == sent, "WADO-RS instance differs from what was stored"
    parts = alice.retrieve(url + "/frames/1,13,20", accept=dw.ACCEPT_FRAMES_AS_STORED)
    frames = frames_as_stored(ds)
    assert [p.body for p in parts] == [frames[0], frames[12], frames[19]]
    r = alice.get(url, headers={"Accept": "application/dicom", "Range": "bytes=9000000-9000099"})
    assert r.status_code == 206 and r.content == sent[9000000:9000100], f"Range on S3 -> {r.status_code}"

    # The object in the bucket, read with another client, is the same bytes.
    keys = [k for k, size in index_blobs(s3_server).items() if size == len(sent)]
    assert len(keys) == 1
    assert garage.get(f"hot/{keys[0]}") == sent

    q = Dataset()
    q.QueryRetrieveLevel = "IMAGE"
    q.StudyInstanceUID, q.SeriesInstanceUID, q.SOPInstanceUID = study, series, sop
    peer = Peer(s3_server.dicom_host, s3_server.dicom_port, s3_server.ae_title)
    received, status = pynetdicom_get(peer, "MODA", q, [SECONDARY_CAPTURE])
    assert status == 0x0000 and set(received) == {sop}, f"C-GET -> {status}"
    assert received[sop].PixelData == ds.PixelData


def test_bucket_listing_matches_the_index(s3_server, garage):
    alice = alice_of(s3_server)
    for i in range(3):
        alice.stow_ok([part10(new_image(patient_id="S3LIST", pixels=noise_image(32, 32, seed=40 + i)))])
    listed = {k.removeprefix("hot/"): size for k, size in garage.list_keys("hot/").items()}
    indexed = index_blobs(s3_server)
    assert listed == indexed, f"bucket {sorted(listed)} vs index {sorted(indexed)}"
    code, out = fsck(s3_server)
    assert code == 0 and "consistent" in out, out


def test_garage_outage_fails_clearly_and_recovers(s3_server, garage):
    alice = alice_of(s3_server)
    peer = Peer(s3_server.dicom_host, s3_server.dicom_port, s3_server.ae_title)
    before = part10(new_image(patient_id="S3DOWN", pixels=noise_image(32, 32, seed=70)))
    alice.stow_ok([before])
    kept = read(before)

    garage.stop()
    try:
        lost_ds = new_image(patient_id="S3DOWN", pixels=noise_image(32, 32, seed=71))
        r = alice.stow([part10(lost_ds)])
        assert r.status_code == 503, f"STOW with the object store down -> {r.status_code} {r.text[:300]}"
        assert "00081199" not in r.json(), "nothing may be acknowledged as stored"

        dimse_ds = new_image(patient_id="S3DOWN", pixels=noise_image(32, 32, seed=72))
        ((_, status),) = pynetdicom_store(peer, "MODA", [dimse_ds], [(SECONDARY_CAPTURE, EXPLICIT_LE)])
        assert status is not None and status.Status not in (0x0000, 0xB000, 0xB007, 0xB006), (
            f"C-STORE with the object store down -> {status}"
        )

        r = alice.get(f"/studies/{kept.StudyInstanceUID}/series/{kept.SeriesInstanceUID}/instances/{kept.SOPInstanceUID}",
                      headers={"Accept": "application/dicom"})
        assert r.status_code == 503, f"retrieve with the object store down -> {r.status_code}"
        assert s3_server.healthy(), "the server must stay up"
        # Neither refused instance became visible.
        for ds in (lost_ds, dimse_ds):
            assert alice.qido("/instances", {"SOPInstanceUID": str(ds.SOPInstanceUID)}) == []
    finally:
        garage.start()

    assert alice.instance_bytes(str(kept.StudyInstanceUID), str(kept.SeriesInstanceUID), str(kept.SOPInstanceUID)) == before
    again = part10(lost_ds)
    alice.stow_ok([again])
    assert alice.instance_bytes(str(lost_ds.StudyInstanceUID), str(lost_ds.SeriesInstanceUID),
                                str(lost_ds.SOPInstanceUID)) == again
    ((_, status),) = pynetdicom_store(peer, "MODA", [dimse_ds], [(SECONDARY_CAPTURE, EXPLICIT_LE)])
    assert status is not None and status.Status == 0x0000, f"C-STORE after recovery -> {status}"
    code, out = fsck(s3_server, "--verify")
    assert code == 0, out


def test_garage_stopped_during_large_uploads_acknowledges_only_what_is_stored(s3_server, garage):
    """Multipart STOWs in a row while Garage is stopped under them: each answer is either
    success (and the instance reads back whole once Garage is back) or a failure (and the
    instance is not visible) — never an acknowledged loss."""
    alice = alice_of(s3_server)
    sent = [new_image(patient_id="S3MID", pixels=noise_image(512, 512, seed=200 + i, frames=18)) for i in range(6)]
    answers: list[int] = []

    def upload() -> None:
        for ds in sent:
            try:
                answers.append(alice.stow([part10(ds)]).status_code)
            except requests.RequestException:
                answers.append(0)

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    while t.is_alive() and not answers:
        time.sleep(0.01)
    garage.stop()
    try:
        t.join(300)
        assert not t.is_alive()
        assert s3_server.healthy()
    finally:
        garage.start()
    assert answers[0] == 200 and any(a != 200 for a in answers), f"answers {answers}: the outage fell outside the uploads"
    for ds, status in zip(sent, answers):
        study, series, sop = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
        if status == 200:
            assert alice.instance_bytes(study, series, sop) == part10(ds), f"acknowledged {sop} not whole"
        else:
            assert status in (0, 503), f"refused upload answered {status}"
            assert alice.qido("/instances", {"SOPInstanceUID": sop}) == [], f"refused {sop} is visible"
    code, out = fsck(s3_server, "--verify")
    assert code == 0, out


def test_fsck_finds_deleted_and_corrupted_objects(rangsi_bin, garage, tmp_path):
    srv = Server(rangsi_bin, tmp_path / "fsck")
    srv.s3_prefix = "fsck"
    blobs_in(srv, garage, "fsck")
    srv.set_up_regional_archive()
    srv.start()
    try:
        srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
        alice = alice_of(srv)
        for i in range(3):
            alice.stow_ok([part10(new_image(patient_id="S3FSCK", pixels=noise_image(32, 32, seed=90 + i)))])
        code, out = fsck(srv, "--verify")
        assert code == 0, out
        deleted, corrupted, _ = sorted(index_blobs(srv))
        original = garage.get(f"fsck/{corrupted}")
        garage.delete(f"fsck/{deleted}")
        flipped = bytearray(original)
        flipped[-1] ^= 0xFF
        garage.put(f"fsck/{corrupted}", bytes(flipped))

        code, out = fsck(srv, "--verify")
        assert code != 0, out
        assert f"MISSING blob {deleted}" in out, out
        assert f"CORRUPT blob {corrupted}" in out, out
        # Without --verify the same-size corruption goes unseen, the deletion not.
        code, out = fsck(srv)
        assert code != 0 and deleted in out and corrupted not in out, out
    finally:
        srv.stop()


def test_tiering_to_a_colder_prefix(s3_server, garage):
    alice = alice_of(s3_server)
    study = generate_uid()
    datasets = [new_image(patient_id="S3TIER", study_uid=study, instance_number=i + 1,
                          pixels=noise_image(48, 48, seed=100 + i)) for i in range(3)]
    sent = {str(ds.SOPInstanceUID): (str(ds.SeriesInstanceUID), part10(ds)) for ds in datasets}
    alice.stow_ok([b for _, b in sent.values()])
    with index_db(s3_server) as con:
        con.execute("UPDATE studies SET updated_at = '2020-01-01T00:00:00Z' WHERE study_uid = ?", (study,))
        keys = [k for (k,) in con.execute(
            "SELECT i.blob_key FROM instances i JOIN series se ON se.id = i.series_ref "
            "JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ?", (study,))]
        con.commit()
    out = s3_server.cli("tier", "--older-than-days", "30").stdout.decode()
    assert study in out, out
    hot, cold = garage.list_keys("hot/"), garage.list_keys("cold/")
    for k in keys:
        assert f"cold/{k}" in cold and f"hot/{k}" not in hot, f"{k} not moved to the cold prefix"
    for sop, (series, body) in sent.items():
        assert alice.instance_bytes(study, series, sop) == body
    code, out = fsck(s3_server, "--verify")
    assert code == 0, out
