"""The index database goes away under a running server (PostgreSQL stopped, as in a
fail-over or a crash) and comes back: nothing is acknowledged while it is away, the
answers say "try again" (HTTP 503, DIMSE 0xA7xx — a gateway retries these instead of
failing its instances for good), the server stays up, and after the database returns
it works again with everything stored before intact.

Runs in every pass with its own PostgreSQL cluster (postgres.py), stopped and started
by the test; the shared cluster of the PostgreSQL pass is not touched.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

import dicomweb as dw
from dicom_factory import new_image, save
from dimse import Peer, pynetdicom_ae
from postgres import Postgres
from rangsi_server import Server

FAIL_OUT_OF_RESOURCES = 0xA700


def wait_for(what: str, ok, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ok():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_database_outage_is_answered_with_retry_later_and_survived(rangsi_bin, tmp_path):
    # Durable commits: the immediate stop below is a crash of the database, and what was
    # acknowledged before it must still be there after it.
    pg = Postgres(Path(tempfile.mkdtemp(prefix="rangsi-pg-outage-")), durable=True)
    pg.start()
    srv = Server(rangsi_bin, tmp_path, database=pg.new_database("outage"))
    try:
        srv.set_up_regional_archive()
        srv.start()
        srv.create_tokens()
        alice = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
        study = generate_uid()
        before = save(new_image(patient_id="OUTAGE-1", study_uid=study, sop_uid=generate_uid()), tmp_path / "before.dcm")
        alice.stow_ok([before.read_bytes()])

        pg.stop()
        during_ds = new_image(patient_id="OUTAGE-1", study_uid=study, sop_uid=generate_uid())
        during = save(during_ds, tmp_path / "during.dcm")
        r = alice.stow([during.read_bytes()])
        assert r.status_code == 503, f"STOW with the index database down -> {r.status_code}, want 503: {r.text[:500]}"
        r = requests.get(srv.http_url + "/readyz", timeout=60)
        assert r.status_code == 503, f"/readyz with the index database down -> {r.status_code} {r.text!r}"
        assert requests.get(srv.http_url + "/healthz", timeout=30).status_code == 200, "liveness must not fail"
        r = alice.get("/studies", params={"PatientID": "OUTAGE-1"})
        assert r.status_code == 503, f"QIDO with the index database down -> {r.status_code}: {r.text[:300]}"
        peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
        ae = pynetdicom_ae("MODA")
        ae.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae)
        if assoc.is_established:
            status = assoc.send_c_store(during_ds)
            assoc.release()
            assert status is not None and status.Status & 0xFF00 == FAIL_OUT_OF_RESOURCES, (
                f"C-STORE with the index database down: {status}, want a transient 0xA7xx failure"
            )
        else:
            # The AE title cannot be looked up: a transient A-ASSOCIATE-RJ, not a dropped connection.
            assert assoc.is_rejected, "with the index database down the association was dropped, not rejected"
            assert assoc.acceptor.primitive.result == 0x02, f"rejection not transient: {assoc.acceptor.primitive}"

        pg.start_again()
        wait_for("/readyz back to 200 after the database returned",
                 lambda: requests.get(srv.http_url + "/readyz", timeout=30).status_code == 200)
        alice.stow_ok([during.read_bytes()])
        found = alice.qido("/instances", {"StudyInstanceUID": study})
        assert len(found) == 2, f"after the outage the study holds {len(found)} instances, want 2"
        assert srv.healthy()
    finally:
        srv.stop()
        pg.stop()
