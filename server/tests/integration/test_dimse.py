"""DIMSE: C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET against dcmtk and pynetdicom.

Data: a 10-slice 512x512 CT series (Explicit VR LE), an RLE and a JPEG 2000 series,
three small series sent concurrently; all from MODA (hospital 10670).
"""

from __future__ import annotations

import socket
import struct
import threading

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import (
    CT_IMAGE_STORAGE,
    MINIMAL_PDF,
    dataset_fingerprint,
    dcmtk_compress,
    frames_as_stored,
    gen_ct,
    new_image,
    new_pdf,
    new_text_sr,
    noise_image,
    read,
    save,
)
from dimse import (
    echoscu,
    findscu,
    getscu,
    movescu,
    pynetdicom_ae,
    pynetdicom_find,
    pynetdicom_get,
    pynetdicom_move,
    pynetdicom_store,
    storescu,
)

PATIENT_ID = "DIMSE-CT-1"


@pytest.fixture(scope="module")
def ct(shared_dir, tmp_path_factory):
    (series,) = gen_ct(shared_dir, tmp_path_factory.mktemp("dimse-ct"), slices=10, patient_id=PATIENT_ID)
    return series


@pytest.fixture(scope="module")
def ct_stored(ct, peer, server):
    """The explicit CT series sent once by storescu as MODA."""
    return storescu(peer, "MODA", ct.files)


@pytest.fixture(scope="module")
def compressed(shared_dir, tmp_path_factory, peer, server):
    """An RLE and a JPEG 2000 series sent by storescu proposing their own syntaxes."""
    out = tmp_path_factory.mktemp("dimse-compressed")
    rle = gen_ct(shared_dir, out / "rle", slices=3, ts="rle", rows=256, patient_id="DIMSE-RLE", seed=2)[0]
    j2k = gen_ct(shared_dir, out / "j2k", slices=3, ts="j2k", rows=256, patient_id="DIMSE-J2K", seed=3)[0]
    outcome = storescu(peer, "MODA", rle.files + j2k.files)
    return rle, j2k, outcome


def sop_uid_of(path) -> str:
    return str(read(path).SOPInstanceUID)


# ---------------------------------------------------------------------------
# C-ECHO and association acceptance


def test_echo_from_registered_ae_succeeds(peer):
    res = echoscu(peer, "MODA")
    assert res.returncode == 0 and "Received Echo Response (Success)" in res.output, f"echoscu as MODA: {res}"


def test_unknown_calling_ae_is_rejected_by_echoscu(peer):
    res = echoscu(peer, "NOBODY")
    assert res.returncode != 0, f"echoscu as unregistered AE NOBODY must fail: {res}"
    assert "Association Rejected" in res.output, f"expected an A-ASSOCIATE-RJ for NOBODY: {res}"


def test_unknown_calling_ae_is_rejected_by_pynetdicom(peer):
    ae = pynetdicom_ae("STRANGER")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae)
    try:
        assert assoc.is_rejected, "association from unregistered AE STRANGER was not rejected"
    finally:
        if assoc.is_established:
            assoc.abort()


def _item(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def a_associate_rq(calling: str, called: str) -> bytes:
    """A minimal A-ASSOCIATE-RQ (PS3.8 9.3.2): Verification in Implicit VR LE."""
    pc = bytes([1, 0, 0, 0]) + _item(0x30, b"1.2.840.10008.1.1") + _item(0x40, b"1.2.840.10008.1.2")
    user = _item(0x51, struct.pack(">I", 16384)) + _item(0x52, b"1.2.826.0.1.3680043.10.1")
    body = (struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode() + bytes(32)
            + _item(0x10, b"1.2.840.10008.3.1.1.1") + _item(0x20, pc) + _item(0x50, user))
    return struct.pack(">BBI", 1, 0, len(body)) + body


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, f"connection closed after {len(out)} of {n} bytes"
        out += chunk
    return out


def test_a_refused_requestor_closes_the_connection_itself(server, peer):
    """PS3.8 9.2 (AE-8, Sta13): after A-ASSOCIATE-RJ the acceptor waits for the requestor
    to close the transport (within ARTIM) rather than closing at once, so the requestor
    reads the refusal before any close; only a requestor that never closes is cut off."""
    with socket.create_connection((peer.host, peer.port), timeout=10) as s:
        s.sendall(a_associate_rq("STRANGER", peer.called_ae))
        head = _recv_exactly(s, 6)
        assert head[0] == 0x03, f"not an A-ASSOCIATE-RJ: PDU type {head[0]:#x}"
        rj = _recv_exactly(s, struct.unpack(">I", head[2:6])[0])
        assert (rj[1], rj[2], rj[3]) == (1, 1, 3), f"result/source/reason {tuple(rj[1:4])}: want calling AE not recognised"
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(1)  # still open: the server waits for us to close
        s.settimeout(30)
        assert s.recv(1) == b"", "the server closes by itself once ARTIM runs out"
    # And a well-behaved requestor that closes at once is no trouble either.
    with socket.create_connection((peer.host, peer.port), timeout=10) as s:
        s.sendall(a_associate_rq("STRANGER", peer.called_ae))
        assert _recv_exactly(s, 1) == b"\x03"
    assert server.healthy()


# ---------------------------------------------------------------------------
# C-STORE


def test_storescu_series_all_acknowledged(ct, ct_stored):
    assert not ct_stored.failed, f"storescu failures: {ct_stored.failed}\n{ct_stored.results}"
    assert sorted(ct_stored.ok) == sorted(ct.files), f"storescu acknowledged {len(ct_stored.ok)}/10:\n{ct_stored.results}"


def test_stored_series_visible_in_qido_with_counts(ct, ct_stored, alice):
    studies = alice.qido("/studies", {"StudyInstanceUID": ct.study_uid})
    assert len(studies) == 1, f"QIDO /studies for the C-STOREd study gave {len(studies)} results"
    s = studies[0]
    assert int(dw.value(s, dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 10
    assert int(dw.value(s, dw.NUMBER_OF_STUDY_RELATED_SERIES)) == 1
    assert dw.values(s, dw.MODALITIES_IN_STUDY) == ["CT"]
    assert dw.value(s, dw.PATIENT_ID) == PATIENT_ID
    instances = alice.qido(f"/studies/{ct.study_uid}/series/{ct.series_uid}/instances")
    assert dw.uids(instances, dw.SOP_INSTANCE_UID) == set(ct.sop_uids())


def test_resending_identical_instances_is_idempotent(ct, ct_stored, peer, alice):
    again = storescu(peer, "MODA", ct.files[:3])
    assert not again.failed and len(again.ok) == 3, f"re-sending identical instances must succeed: {again.results}"
    studies = alice.qido("/studies", {"StudyInstanceUID": ct.study_uid})
    assert int(dw.value(studies[0], dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 10, "duplicates were counted twice"


def test_the_same_instance_through_both_protocols_is_a_duplicate(shared_dir, peer, alice, tmp_path):
    """C-STORE and STOW-RS of one file make two different files (C-STORE's File Meta
    Information is the receiver's, STOW's the sender's); the data set is the same, so
    the second is an idempotent re-send, not a conflict: success, no warning, counted once."""
    (study,) = gen_ct(shared_dir, tmp_path / "both", slices=2, rows=64, patient_id="BOTH-PROTOCOLS", seed=77)
    sent = storescu(peer, "MODA", study.files[:1])
    assert not sent.failed, sent.results
    r = alice.stow([study.files[0].read_bytes()])
    assert r.status_code == 200, f"STOW after C-STORE of the same instance -> {r.status_code}: {r.text[:500]}"
    assert "00081196" not in r.text, f"no warning for the same data set: {r.text[:500]}"
    alice.stow_ok([study.files[1].read_bytes()])
    again = storescu(peer, "MODA", study.files[1:2])
    # storescu's "(Success)" only: a warning (0xB000) counts as failed here.
    assert not again.failed and len(again.ok) == 1, f"C-STORE after STOW of the same instance: {again.results}"
    studies = alice.qido("/studies", {"StudyInstanceUID": study.study_uid})
    assert int(dw.value(studies[0], dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 2, "a re-send was counted twice"


def test_conflicting_instance_gets_warning_b000_and_first_is_kept(ct, ct_stored, peer, alice):
    original = read(ct.files[4])
    changed = read(ct.files[4])
    changed.ImageComments = "a different object with the same SOP Instance UID"
    changed.PixelData = bytes(len(changed.PixelData))
    (_, status), = pynetdicom_store(peer, "MODA", [changed], [(CT_IMAGE_STORAGE, "1.2.840.10008.1.2.1")])
    assert status is not None and "Status" in status, "no C-STORE response for the conflicting instance"
    assert status.Status == 0xB000, f"conflicting C-STORE: status 0x{status.Status:04X}, want warning 0xB000"
    assert str(status.get("ErrorComment", "")).strip(), "warning 0xB000 should carry an ErrorComment"
    kept = read(alice.instance_bytes(ct.study_uid, ct.series_uid, str(original.SOPInstanceUID)))
    assert dataset_fingerprint(kept) == dataset_fingerprint(original), "the first-stored instance was changed"


def test_compressed_series_stored_as_received(compressed, alice):
    rle, j2k, outcome = compressed
    assert not outcome.failed, f"storescu of RLE/J2K failed: {outcome.results}"
    for series in (rle, j2k):
        for f in series.files:
            sent = read(f)
            got = read(alice.instance_bytes(series.study_uid, series.series_uid, str(sent.SOPInstanceUID)))
            assert got.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID, (
                f"{f.name}: stored as {got.file_meta.TransferSyntaxUID}, was sent as {sent.file_meta.TransferSyntaxUID}"
            )
            assert frames_as_stored(got) == frames_as_stored(sent), f"{f.name}: compressed frame bytes changed"
            assert dataset_fingerprint(got) == dataset_fingerprint(sent), f"{f.name}: dataset content changed"


@pytest.fixture(scope="module")
def dcmtk_variants(tmp_path_factory):
    """dcmtk-compressed instances (JPEG lossless SV1, JPEG-LS, JPEG baseline) of one study."""
    out = tmp_path_factory.mktemp("dimse-dcmtk")
    study = generate_uid()

    def source(name, pixels, **kw):
        return save(new_image(patient_id="DIMSE-TS", study_uid=study, pixels=pixels, **kw), out / f"{name}.dcm")

    return [
        dcmtk_compress(source("a", noise_image(128, 96, seed=1), bits_stored=12), out / "jl.dcm", "jpeg-lossless-sv1"),
        dcmtk_compress(source("b", noise_image(128, 96, seed=2), bits_stored=12), out / "jls.dcm", "jpeg-ls"),
        dcmtk_compress(source("c", noise_image(64, 80, seed=3, dtype=np.uint8, maximum=255)), out / "jb.dcm", "jpeg-baseline"),
    ]


def test_storescu_dcmtk_compressed_stored_as_received(dcmtk_variants, peer, alice):
    outcome = storescu(peer, "MODA", dcmtk_variants)
    assert not outcome.failed and len(outcome.ok) == 3, f"storescu -xs/-xt/-xy: {outcome.results}"
    for f in dcmtk_variants:
        sent = read(f)
        got = read(alice.instance_bytes(str(sent.StudyInstanceUID), str(sent.SeriesInstanceUID), str(sent.SOPInstanceUID)))
        assert got.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID, (
            f"{f.name}: stored as {got.file_meta.TransferSyntaxUID.name}, sent as {sent.file_meta.TransferSyntaxUID.name}"
        )
        assert frames_as_stored(got) == frames_as_stored(sent), f"{f.name}: compressed bytes changed"


@pytest.mark.parametrize("option,stored_as", [
    ("-xi", {"1.2.840.10008.1.2"}),
    ("-xd", {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1"}),  # deflate if accepted, else storescu falls back
], ids=["implicit-vr", "deflate"])
def test_storescu_uncompressed_syntaxes_stored_as_received(tmp_path, peer, alice, option, stored_as):
    f = save(new_image(patient_id="DIMSE-TS", pixels=noise_image(40, 40, seed=len(option))), tmp_path / "x.dcm")
    outcome = storescu(peer, "MODA", [f], extra=[option])
    assert not outcome.failed, f"storescu {option}: {outcome.results}"
    sent = read(f)
    got = read(alice.instance_bytes(str(sent.StudyInstanceUID), str(sent.SeriesInstanceUID), str(sent.SOPInstanceUID)))
    assert str(got.file_meta.TransferSyntaxUID) in stored_as, f"storescu {option}: stored as {got.file_meta.TransferSyntaxUID}"
    assert dataset_fingerprint(got) == dataset_fingerprint(sent)


def test_storescu_documents_without_pixel_data(tmp_path, peer, alice):
    study = generate_uid()
    pdf = save(new_pdf(patient_id="DIMSE-DOC", study_uid=study), tmp_path / "pdf.dcm")
    sr = save(new_text_sr(patient_id="DIMSE-DOC", study_uid=study, text="ผลการตรวจปกติ ไม่พบความผิดปกติ"), tmp_path / "sr.dcm")
    outcome = storescu(peer, "MODA", [pdf, sr])
    assert not outcome.failed and len(outcome.ok) == 2, f"storescu of PDF + SR: {outcome.results}"
    (found,) = alice.qido("/studies", {"StudyInstanceUID": study})
    assert set(dw.values(found, dw.MODALITIES_IN_STUDY)) == {"DOC", "SR"}
    for f in (pdf, sr):
        sent = read(f)
        got = read(alice.instance_bytes(study, str(sent.SeriesInstanceUID), str(sent.SOPInstanceUID)))
        assert dataset_fingerprint(got) == dataset_fingerprint(sent), f"{f.name} changed"
    s = read(sr)
    (meta,) = alice.get(f"/studies/{study}/series/{s.SeriesInstanceUID}/instances/{s.SOPInstanceUID}/metadata",
                        headers={"Accept": dw.DICOM_JSON}).json()
    content = dw.value(meta, "0040A730")  # ContentSequence
    assert dw.value(content, "0040A160") == "ผลการตรวจปกติ ไม่พบความผิดปกติ", f"SR TextValue in metadata: {content}"
    p = read(pdf)
    pdf_url = f"/studies/{study}/series/{p.SeriesInstanceUID}/instances/{p.SOPInstanceUID}"
    (meta,) = alice.get(pdf_url + "/metadata", headers={"Accept": dw.DICOM_JSON}).json()
    doc = meta["00420011"]  # EncapsulatedDocument
    if "BulkDataURI" in doc:
        from urllib.parse import urljoin

        parts = alice.retrieve(urljoin(alice.url(pdf_url + "/metadata"), doc["BulkDataURI"]), accept=dw.ACCEPT_FRAMES_AS_STORED)
        data = b"".join(p.body for p in parts)
    else:
        import base64

        data = base64.b64decode(doc["InlineBinary"])
    assert data.rstrip(b"\0") == MINIMAL_PDF, "EncapsulatedDocument from metadata is not the PDF sent"


def test_concurrent_storescu_associations(shared_dir, tmp_path_factory, peer, alice):
    series = gen_ct(shared_dir, tmp_path_factory.mktemp("dimse-conc"), slices=4, rows=128,
                    studies=3, patient_id="DIMSE-CONC", seed=5)
    outcomes = [None] * len(series)

    def send(i):
        outcomes[i] = storescu(peer, "MODA", series[i].files)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(series))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for s, o in zip(series, outcomes):
        assert o is not None and not o.failed and len(o.ok) == 4, f"concurrent storescu: {o and o.results}"
        found = alice.qido("/studies", {"StudyInstanceUID": s.study_uid})
        assert len(found) == 1 and int(dw.value(found[0], dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 4


# ---------------------------------------------------------------------------
# C-FIND (dcmtk findscu, both information models)


def test_cfind_patient_level_patient_root(ct, ct_stored, peer):
    res, found = findscu(peer, "MODA", "-P", [
        "QueryRetrieveLevel=PATIENT", f"PatientID={PATIENT_ID}", "PatientName", "PatientBirthDate", "PatientSex",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    assert len(found) == 1, f"PATIENT level C-FIND for {PATIENT_ID}: {len(found)} responses\n{res}"
    assert str(found[0].PatientName) == ct.patient_name
    assert found[0].PatientBirthDate == "19700101"


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_cfind_study_level(ct, ct_stored, peer, model):
    res, found = findscu(peer, "MODA", model, [
        "QueryRetrieveLevel=STUDY", f"PatientID={PATIENT_ID}", "StudyInstanceUID", "StudyDate", "AccessionNumber",
        "StudyDescription", "PatientName", "NumberOfStudyRelatedInstances",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    assert [str(d.StudyInstanceUID) for d in found] == [ct.study_uid], f"STUDY level C-FIND ({model}): {res}"
    d = found[0]
    assert d.AccessionNumber == ct.accession
    assert d.StudyDate == "20240101"
    assert d.StudyDescription == "CT CHEST ABDOMEN WITH CONTRAST"
    assert str(d.PatientName) == ct.patient_name
    assert str(d.get("NumberOfStudyRelatedInstances", "")) == "10", "NumberOfStudyRelatedInstances (requested key)"


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_cfind_series_level(ct, ct_stored, peer, model):
    res, found = findscu(peer, "MODA", model, [
        "QueryRetrieveLevel=SERIES", f"PatientID={PATIENT_ID}", f"StudyInstanceUID={ct.study_uid}",
        "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    assert [str(d.SeriesInstanceUID) for d in found] == [ct.series_uid], f"SERIES level C-FIND ({model}): {res}"
    assert found[0].Modality == "CT"
    assert int(found[0].SeriesNumber) == 2
    assert found[0].SeriesDescription == "Axial 1mm STANDARD"


@pytest.mark.parametrize("model", ["-P", "-S"])
def test_cfind_image_level(ct, ct_stored, peer, model):
    res, found = findscu(peer, "MODA", model, [
        "QueryRetrieveLevel=IMAGE", f"PatientID={PATIENT_ID}", f"StudyInstanceUID={ct.study_uid}",
        f"SeriesInstanceUID={ct.series_uid}", "SOPInstanceUID", "InstanceNumber",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    assert {str(d.SOPInstanceUID) for d in found} == set(ct.sop_uids()), f"IMAGE level C-FIND ({model}): {res}"
    assert sorted(int(d.InstanceNumber) for d in found) == list(range(1, 11))


def test_cfind_wildcard_patient_name(ct, ct_stored, peer):
    family = ct.patient_name.split("^")[0]
    _, found = findscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=STUDY", f"PatientName={family[:3]}*", f"PatientID={PATIENT_ID}", "StudyInstanceUID",
    ])
    assert [str(d.StudyInstanceUID) for d in found] == [ct.study_uid], f"PatientName={family[:3]}* should match {ct.patient_name}"
    _, none = findscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=STUDY", "PatientName=ZZNOBODY*", f"PatientID={PATIENT_ID}", "StudyInstanceUID",
    ])
    assert none == [], "PatientName=ZZNOBODY* should match nothing"


@pytest.mark.parametrize("dates,hit", [("20231231-20240101", True), ("20240101", True), ("20240102-", False), ("-20231231", False)])
def test_cfind_study_date_range(ct, ct_stored, peer, dates, hit):
    _, found = findscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=STUDY", f"StudyDate={dates}", f"PatientID={PATIENT_ID}", "StudyInstanceUID",
    ])
    got = [str(d.StudyInstanceUID) for d in found]
    assert got == ([ct.study_uid] if hit else []), f"StudyDate={dates} on a 20240101 study: {got}"


def test_cfind_with_pynetdicom(ct, ct_stored, peer):
    q = Dataset()
    q.QueryRetrieveLevel = "SERIES"
    q.StudyInstanceUID = ct.study_uid
    q.SeriesInstanceUID = ""
    q.Modality = ""
    q.NumberOfSeriesRelatedInstances = ""
    found, final = pynetdicom_find(peer, "MODA", q)
    assert final == 0x0000, f"C-FIND final status 0x{final:04X}" if final is not None else "no final C-FIND status"
    assert [str(d.SeriesInstanceUID) for d in found] == [ct.series_uid]
    assert found[0].Modality == "CT"


# ---------------------------------------------------------------------------
# C-MOVE and C-GET


def test_movescu_study_to_storescp(ct, ct_stored, peer, dest_a):
    dest_a.clear()
    res = movescu(peer, "MODA", "DESTA", "-S", ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={ct.study_uid}"])
    assert res.returncode == 0, f"movescu: {res}"
    received = dest_a.received()
    assert set(received) == set(ct.sop_uids()), (
        f"storescp DESTA received {len(received)} instances, want exactly the study's 10\n{res}"
    )
    for f in ct.files:
        sent = read(f)
        got = read(received[str(sent.SOPInstanceUID)])
        assert dataset_fingerprint(got) == dataset_fingerprint(sent), f"C-MOVEd {f.name} differs from what was stored"


def test_movescu_patient_level_patient_root(ct, ct_stored, peer, dest_a):
    dest_a.clear()
    res = movescu(peer, "MODA", "DESTA", "-P", ["QueryRetrieveLevel=PATIENT", f"PatientID={PATIENT_ID}"])
    assert res.returncode == 0, f"movescu -P PATIENT: {res}"
    assert set(dest_a.received()) == set(ct.sop_uids()), f"PATIENT level C-MOVE moved {len(dest_a.received())} of 10"


def test_movescu_compressed_series_keeps_its_transfer_syntax(compressed, peer, dest_a):
    rle, j2k, outcome = compressed
    assert not outcome.failed
    for series in (rle, j2k):
        dest_a.clear()
        res = movescu(peer, "MODA", "DESTA", "-S", [
            "QueryRetrieveLevel=SERIES", f"StudyInstanceUID={series.study_uid}", f"SeriesInstanceUID={series.series_uid}",
        ])
        assert res.returncode == 0, f"movescu: {res}"
        received = dest_a.received()
        assert set(received) == set(series.sop_uids())
        for f in series.files:
            sent = read(f)
            got = read(received[str(sent.SOPInstanceUID)])
            assert got.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID, (
                f"C-MOVE sent {f.name} as {got.file_meta.TransferSyntaxUID.name}, stored as {sent.file_meta.TransferSyntaxUID.name}"
            )
            assert frames_as_stored(got) == frames_as_stored(sent)


def test_move_to_unknown_destination_fails_a801(ct, ct_stored, peer):
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ct.study_uid
    final, _ = pynetdicom_move(peer, "MODA", "NOSUCHDEST", q)
    assert final == 0xA801, f"C-MOVE to unknown AE: final status {final and hex(final)}, want 0xA801"


def test_move_to_ae_without_address_fails(ct, ct_stored, peer):
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ct.study_uid
    final, _ = pynetdicom_move(peer, "MODA", "MODA", q)  # registered, but no host/port
    assert final == 0xA801, f"C-MOVE to an AE without host/port: final status {final and hex(final)}, want 0xA801"


def test_getscu_series(ct, ct_stored, peer, tmp_path):
    res = getscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=SERIES", f"StudyInstanceUID={ct.study_uid}", f"SeriesInstanceUID={ct.series_uid}",
    ], tmp_path / "get")
    assert res.returncode == 0, f"getscu: {res}"
    got = {str(read(p).SOPInstanceUID): p for p in (tmp_path / "get").iterdir()}
    assert set(got) == set(ct.sop_uids()), f"getscu received {len(got)} of 10\n{res}"
    for f in ct.files[:3]:
        sent = read(f)
        assert dataset_fingerprint(read(got[str(sent.SOPInstanceUID)])) == dataset_fingerprint(sent)


def test_cget_with_pynetdicom(ct, ct_stored, peer):
    q = Dataset()
    q.QueryRetrieveLevel = "IMAGE"
    q.StudyInstanceUID = ct.study_uid
    q.SeriesInstanceUID = ct.series_uid
    q.SOPInstanceUID = sop_uid_of(ct.files[0])
    received, final = pynetdicom_get(peer, "MODA", q, [CT_IMAGE_STORAGE])
    assert final == 0x0000, f"C-GET final status {final and hex(final)}"
    sent = read(ct.files[0])
    assert list(received) == [str(sent.SOPInstanceUID)]
    got = received[str(sent.SOPInstanceUID)]
    assert got.PixelData == sent.PixelData, "C-GET pixel data differs"
    assert str(got.PatientName) == str(sent.PatientName)
