"""STOW-RS: dicomweb-client and raw multipart requests, PS3.18 status semantics
(200 all stored, 202 some failed or warned, 409 none stored), idempotent duplicates,
conflicting duplicates (first kept, warning 0xB000), target-study mismatches.
"""

from __future__ import annotations

import pytest
from dicomweb_client import DICOMwebClient
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import dataset_fingerprint, gen_ct, new_image, noise_image, read, save

GARBAGE = b"this is not a DICOM file at all\r\n" * 64
WARNING_CONFLICT = 0xB000


def referenced(body: dict) -> dict[str, dict]:
    """ReferencedSOPSequence items by ReferencedSOPInstanceUID."""
    return {dw.value(i, dw.REFERENCED_SOP_INSTANCE_UID): i for i in dw.values(body, dw.REFERENCED_SOP_SEQUENCE)}


def failed(body: dict) -> list[dict]:
    return dw.values(body, dw.FAILED_SOP_SEQUENCE)


def assert_json(r):
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith(dw.DICOM_JSON), f"STOW response Content-Type {ctype!r}, want {dw.DICOM_JSON}"
    return r.json()


@pytest.fixture(scope="module")
def ct(shared_dir, tmp_path_factory):
    (series,) = gen_ct(shared_dir, tmp_path_factory.mktemp("stow-ct"), slices=3, rows=128, patient_id="STOW-CT", seed=11)
    return series


@pytest.fixture(scope="module")
def ct_stowed(ct, alice):
    r = alice.stow([f.read_bytes() for f in ct.files])
    return r


def image_file(tmp_path, name: str, **kw):
    kw.setdefault("patient_id", "STOW-MISC")
    ds = new_image(pixels=noise_image(24, 20, seed=len(name)), **kw)
    return save(ds, tmp_path / f"{name}.dcm")


def test_all_stored_is_200_with_referenced_sop_sequence(ct, ct_stowed):
    assert ct_stowed.status_code == 200, f"STOW of 3 valid instances -> {ct_stowed.status_code} {ct_stowed.text[:500]}"
    body = assert_json(ct_stowed)
    refs = referenced(body)
    assert set(refs) == set(ct.sop_uids()), "ReferencedSOPSequence must list every stored instance"
    for sop, item in refs.items():
        assert dw.value(item, dw.REFERENCED_SOP_CLASS_UID) == "1.2.840.10008.5.1.4.1.1.2", f"{sop}: ReferencedSOPClassUID"
    assert not failed(body), f"unexpected FailedSOPSequence: {failed(body)}"


def test_stored_instances_are_found(ct, ct_stowed, alice):
    found = alice.qido(f"/studies/{ct.study_uid}/instances")
    assert dw.uids(found, dw.SOP_INSTANCE_UID) == set(ct.sop_uids())


def test_dicomweb_client_store_instances(server, tmp_path):
    client = DICOMwebClient(url=server.http_url + "/dicomweb", headers={"Authorization": f"Bearer {server.tokens['alice']}"})
    study = generate_uid()
    files = [
        save(new_image(patient_id="STOW-DWC", study_uid=study, instance_number=i + 1, pixels=noise_image(16, 16, seed=i)),
             tmp_path / f"dwc{i}.dcm")
        for i in range(2)
    ]
    datasets = [read(f) for f in files]  # as a user would: dcmread, then store
    response = client.store_instances(datasets=datasets)
    refs = {str(i.ReferencedSOPInstanceUID) for i in response.get("ReferencedSOPSequence", [])}
    assert refs == {str(d.SOPInstanceUID) for d in datasets}, f"dicomweb-client STOW response: {response}"
    assert "FailedSOPSequence" not in response or len(response.FailedSOPSequence) == 0
    found = client.search_for_instances(study_instance_uid=study)
    assert {f["00080018"]["Value"][0] for f in found} == refs


def test_dicomweb_client_store_in_memory_datasets(server):
    """dicomweb-client writes datasets built in memory (no preamble set) as file meta +
    data set without the 128-byte preamble and DICM; a PACS has to take those too."""
    client = DICOMwebClient(url=server.http_url + "/dicomweb", headers={"Authorization": f"Bearer {server.tokens['alice']}"})
    ds = new_image(patient_id="STOW-DWC-MEM", pixels=noise_image(16, 16, seed=5))
    response = client.store_instances(datasets=[ds])
    refs = {str(i.ReferencedSOPInstanceUID) for i in response.get("ReferencedSOPSequence", [])}
    assert refs == {str(ds.SOPInstanceUID)}, f"dicomweb-client STOW of an in-memory dataset: {response}"
    stored = client.retrieve_instance(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    assert stored.PixelData == ds.PixelData and stored.PatientID == "STOW-DWC-MEM"


def test_some_failed_is_202_with_failed_sop_sequence(tmp_path, alice):
    good = image_file(tmp_path, "good202")
    r = alice.stow([good.read_bytes(), GARBAGE])
    assert r.status_code == 202, f"STOW [valid, garbage] -> {r.status_code}, want 202: {r.text[:500]}"
    body = assert_json(r)
    sop = str(read(good).SOPInstanceUID)
    assert sop in referenced(body), "the valid instance must be in ReferencedSOPSequence"
    fails = failed(body)
    assert len(fails) == 1, f"want one FailedSOPSequence item for the garbage part: {body}"
    assert dw.value(fails[0], dw.FAILURE_REASON), "FailedSOPSequence item without FailureReason"
    assert alice.qido("/instances", {"SOPInstanceUID": sop}), "the valid instance of a 202 was not stored"


def test_all_failed_is_409(alice):
    r = alice.stow([GARBAGE, GARBAGE[:100]])
    assert r.status_code == 409, f"STOW of two garbage parts -> {r.status_code}, want 409: {r.text[:500]}"
    body = assert_json(r)
    fails = failed(body)
    assert len(fails) == 2 and all(dw.value(f, dw.FAILURE_REASON) for f in fails), f"FailedSOPSequence: {body}"
    assert not referenced(body)


def test_identical_resend_is_idempotent(ct, ct_stowed, alice):
    r = alice.stow([ct.files[0].read_bytes()])
    assert r.status_code == 200, f"re-STOW of an identical instance -> {r.status_code}: {r.text[:500]}"
    body = assert_json(r)
    sop = ct.sop_uids()[0]
    assert sop in referenced(body) and not failed(body)
    studies = alice.qido("/studies", {"StudyInstanceUID": ct.study_uid})
    assert int(dw.value(studies[0], dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 3, "duplicate counted twice"


def test_conflicting_instance_warns_b000_and_keeps_first(ct, ct_stowed, alice, tmp_path):
    original_bytes = ct.files[1].read_bytes()
    changed = read(ct.files[1])
    changed.PatientName = "SOMEONE^ELSE"
    changed.PixelData = bytes(len(changed.PixelData))
    changed_path = save(changed, tmp_path / "changed.dcm")
    r = alice.stow([changed_path.read_bytes()])
    assert r.status_code == 202, f"STOW of a different instance with an existing SOP UID -> {r.status_code}, want 202: {r.text[:500]}"
    body = assert_json(r)
    sop = str(changed.SOPInstanceUID)
    item = referenced(body).get(sop)
    assert item is not None, f"conflicting instance should be in ReferencedSOPSequence with a WarningReason: {body}"
    assert dw.value(item, dw.WARNING_REASON) == WARNING_CONFLICT, f"WarningReason {dw.value(item, dw.WARNING_REASON)}, want 0xB000 (45056)"
    kept = alice.instance_bytes(ct.study_uid, ct.series_uid, sop)
    assert kept == original_bytes, "the first-stored instance must be kept byte for byte"


def test_target_study_mismatch_fails_that_instance(tmp_path, alice):
    target = generate_uid()
    match = image_file(tmp_path, "match", study_uid=target)
    other = image_file(tmp_path, "other", study_uid=generate_uid())
    r = alice.stow([match.read_bytes(), other.read_bytes()], study_uid=target)
    assert r.status_code == 202, f"STOW to /studies/{{target}} with one foreign-study instance -> {r.status_code}: {r.text[:500]}"
    body = assert_json(r)
    match_sop, other_sop = str(read(match).SOPInstanceUID), str(read(other).SOPInstanceUID)
    assert match_sop in referenced(body)
    fails = {dw.value(f, dw.REFERENCED_SOP_INSTANCE_UID): f for f in failed(body)}
    assert other_sop in fails, f"the mismatching instance must be in FailedSOPSequence: {body}"
    assert dw.value(fails[other_sop], dw.FAILURE_REASON), "mismatch failure without FailureReason"
    assert not alice.qido("/instances", {"SOPInstanceUID": other_sop}), "a rejected instance was indexed"


def test_target_study_mismatch_only_is_409(tmp_path, alice):
    lone = image_file(tmp_path, "lone", study_uid=generate_uid())
    r = alice.stow([lone.read_bytes()], study_uid=generate_uid())
    assert r.status_code == 409, f"STOW of only mismatching instances -> {r.status_code}, want 409: {r.text[:500]}"
    body = assert_json(r)
    sop = str(read(lone).SOPInstanceUID)
    assert [dw.value(f, dw.REFERENCED_SOP_INSTANCE_UID) for f in failed(body)] == [sop]
    assert not alice.qido("/instances", {"SOPInstanceUID": sop})


def test_stow_to_matching_study_path_is_200(tmp_path, alice):
    target = generate_uid()
    files = [image_file(tmp_path, f"in{i}", study_uid=target, instance_number=i) for i in range(2)]
    r = alice.stow([f.read_bytes() for f in files], study_uid=target)
    assert r.status_code == 200, f"STOW to /studies/{{uid}} of matching instances -> {r.status_code}: {r.text[:500]}"
    body = assert_json(r)
    assert set(referenced(body)) == {str(read(f).SOPInstanceUID) for f in files}


def test_stored_dataset_is_what_was_sent(ct, ct_stowed, alice):
    sent = read(ct.files[2])
    got = read(alice.instance_bytes(ct.study_uid, ct.series_uid, str(sent.SOPInstanceUID)))
    assert dataset_fingerprint(got) == dataset_fingerprint(sent)
