"""Crash safety: SIGKILL `rangsi serve` while two storescu processes, a pynetdicom
sender and a STOW-RS client are ingesting, restart it, and check that `rangsi fsck` is
clean, that every instance a sender saw acknowledged is retrievable unchanged, that
everything visible is whole, and that re-sending the lot afterwards succeeds without
conflicts.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

import dicomweb as dw
from dicom_factory import dataset_fingerprint, gen_ct, read
from dimse import DCMTK_ENV, Peer, dcmtk_tool, parse_storescu_log, pynetdicom_ae, storescu

ACKED_BEFORE_KILL = 15


@pytest.fixture(scope="module")
def crash_server(rangsi_bin, tmp_path_factory):
    from rangsi_server import Server

    srv = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-crash"))
    srv.set_up_regional_archive()
    srv.start()
    for user in ("admin", "alice"):
        srv.tokens[user] = srv.cli("token", "create", "--user", user).stdout.decode().strip()
    yield srv
    srv.stop()


class PynetdicomSender(threading.Thread):
    """Sends files byte for byte on one association, recording each acknowledged file."""

    def __init__(self, peer: Peer, files):
        super().__init__(daemon=True)
        self.peer, self.files = peer, files
        self.acked: list = []
        self.error: str | None = None

    def run(self):
        from pynetdicom import _config

        _config.STORE_SEND_CHUNKED_DATASET = True
        try:
            ae = pynetdicom_ae("MODA")
            # short timeouts: after the SIGKILL pynetdicom otherwise waits out the full
            # DIMSE timeout for a response that cannot come
            ae.dimse_timeout = ae.network_timeout = 5
            ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")
            assoc = ae.associate(self.peer.host, self.peer.port, ae_title=self.peer.called_ae)
            if not assoc.is_established:
                self.error = "association not established"
                return
            for f in self.files:
                if not assoc.is_established:
                    break
                status = assoc.send_c_store(f)
                if status is not None and status.get("Status") == 0x0000:
                    self.acked.append(f)
            if assoc.is_established:
                assoc.release()
        except Exception as e:  # the server dies under us: that is the point
            self.error = repr(e)


class StowSender(threading.Thread):
    """POSTs files one per STOW-RS request, recording each one answered 200."""

    def __init__(self, web: dw.DicomWeb, files):
        super().__init__(daemon=True)
        self.web, self.files = web, files
        self.acked: list = []

    def run(self):
        for f in self.files:
            try:
                r = self.web.stow([f.read_bytes()])
            except Exception:  # connection reset by the kill
                return
            if r.status_code == 200:
                self.acked.append(f)


def test_sigkill_during_ingest_loses_nothing_acknowledged(crash_server, shared_dir, tmp_path):
    studies = gen_ct(shared_dir, tmp_path / "ct", slices=40, rows=256, studies=4, patient_id="CRASH", seed=51)
    all_files = [f for s in studies for f in s.files]
    peer = Peer(crash_server.dicom_host, crash_server.dicom_port, crash_server.ae_title)

    logs = [tmp_path / f"storescu-{i}.log" for i in range(2)]
    procs = []
    for study, log in zip(studies[:2], logs):
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(
                [dcmtk_tool("storescu"), "-v", "-aet", "MODA", "-aec", peer.called_ae, peer.host, str(peer.port),
                 *map(str, study.files)], stdout=out, stderr=subprocess.STDOUT, env=DCMTK_ENV,
            ))
    sender = PynetdicomSender(peer, studies[2].files)
    sender.start()
    alice = dw.DicomWeb(crash_server.http_url, token=crash_server.tokens["alice"], name="alice@crash")
    stow_sender = StowSender(alice, studies[3].files)
    stow_sender.start()

    def acked_so_far():
        n = len(sender.acked) + len(stow_sender.acked)
        for log in logs:
            n += log.read_text(errors="replace").count("Received Store Response (Success)")
        return n

    deadline = time.time() + 120
    while acked_so_far() < ACKED_BEFORE_KILL and time.time() < deadline:
        time.sleep(0.01)
    crash_server.kill()
    assert crash_server.proc.returncode == -9
    for p in procs:
        p.wait(60)
    sender.join(60)
    stow_sender.join(60)

    acked = list(sender.acked)
    for log in logs:
        ok, _ = parse_storescu_log(log.read_text(errors="replace"))
        acked += ok
    acked = [str(a) for a in acked]
    assert ACKED_BEFORE_KILL <= len(acked) + len(stow_sender.acked) < len(all_files), (
        f"{len(acked) + len(stow_sender.acked)} of {len(all_files)} acknowledged at the kill: "
        "the kill did not land mid-ingest"
    )

    crash_server.start()
    fsck = crash_server.cli("fsck", check=False)
    assert fsck.returncode == 0, (
        f"rangsi fsck after SIGKILL exited {fsck.returncode}:\n{fsck.stdout.decode(errors='replace')}"
        f"\n{fsck.stderr.decode(errors='replace')}"
    )

    admin = dw.DicomWeb(crash_server.http_url, token=crash_server.tokens["admin"], name="admin@crash")
    by_path = {str(f): read(f) for f in all_files}
    for path in acked:
        sent = by_path[path]
        got = read(admin.instance_bytes(str(sent.StudyInstanceUID), str(sent.SeriesInstanceUID), str(sent.SOPInstanceUID)))
        assert dataset_fingerprint(got) == dataset_fingerprint(sent), f"acknowledged {path} came back different"
    for f in stow_sender.acked:
        sent = by_path[str(f)]
        got = admin.instance_bytes(str(sent.StudyInstanceUID), str(sent.SeriesInstanceUID), str(sent.SOPInstanceUID))
        assert got == f.read_bytes(), f"STOW-acknowledged {f.name} is not byte-identical after the crash"

    by_sop = {str(ds.SOPInstanceUID): ds for ds in by_path.values()}
    for study in studies:
        listed = admin.qido(f"/studies/{study.study_uid}/instances")
        for r in listed:
            sop = dw.value(r, dw.SOP_INSTANCE_UID)
            sent = by_sop[sop]
            got = read(admin.instance_bytes(study.study_uid, study.series_uid, sop))
            assert dataset_fingerprint(got) == dataset_fingerprint(sent), f"visible instance {sop} is not whole"
        if listed:
            (s,) = admin.qido("/studies", {"StudyInstanceUID": study.study_uid})
            assert int(dw.value(s, dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == len(listed), "study count disagrees with its instances"

    peer = Peer(crash_server.dicom_host, crash_server.dicom_port, crash_server.ae_title)
    dimse_files = [f for s in studies[:3] for f in s.files]
    again = storescu(peer, "MODA", dimse_files)
    assert not again.failed and len(again.ok) == len(dimse_files), (
        f"re-sending after the crash: {len(again.failed)} failures (a half-stored instance would conflict)\n{again.results}"
    )
    alice = dw.DicomWeb(crash_server.http_url, token=crash_server.tokens["alice"], name="alice@crash")
    for f in studies[3].files:
        r = alice.stow([f.read_bytes()])
        assert r.status_code == 200, f"re-STOW of {f.name} after the crash -> {r.status_code} {r.text[:300]}"
    for study in studies:
        (s,) = admin.qido("/studies", {"StudyInstanceUID": study.study_uid})
        assert int(dw.value(s, dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 40
