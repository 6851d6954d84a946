"""Character sets: Thai in ISO_IR 166 (TIS-620), in ISO 2022 with escape sequences
(`\\ISO 2022 IR 166` and `ISO 2022 IR 6\\ISO 2022 IR 166`) and in UTF-8 (ISO_IR 192);
Latin-1 (ISO_IR 100). Each is stored, found by QIDO with percent-encoded UTF-8 queries
(wildcard and fuzzy), returned as the right Unicode in DICOM JSON, and found by C-FIND.

The Thai PN bytes are written by hand (dicom_factory) and checked against pydicom's
decoder before they are sent.
"""

from __future__ import annotations

import pytest
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import gen_ct, new_image, noise_image, pn_bytes_iso_2022_ir_166, read, save, set_raw_patient_name, tis620
from dimse import findscu, storescu

THAI_NAME = "สมชาย^ใจดี"
OTHER_THAI_NAME = "ประเสริฐ^มีสุข"
LATIN1_NAME = "Müller^José"

# variant -> (PatientID, SpecificCharacterSet value(s), raw PN bytes or None for pydicom's encoder, name)
VARIANTS = {
    "iso-ir-166": ("CS-TIS620", "ISO_IR 166", tis620("สมชาย") + b"^" + tis620("ใจดี"), THAI_NAME),
    "iso2022-ir166": ("CS-2022A", ["", "ISO 2022 IR 166"], pn_bytes_iso_2022_ir_166("สมชาย", "ใจดี"), THAI_NAME),
    "iso2022-ir6-ir166": ("CS-2022B", ["ISO 2022 IR 6", "ISO 2022 IR 166"], pn_bytes_iso_2022_ir_166("สมชาย", "ใจดี"), THAI_NAME),
    "utf8": ("CS-UTF8", "ISO_IR 192", None, THAI_NAME),
    "latin1": ("CS-LATIN1", "ISO_IR 100", None, LATIN1_NAME),
    "other-thai": ("CS-OTHER", "ISO_IR 166", tis620("ประเสริฐ") + b"^" + tis620("มีสุข"), OTHER_THAI_NAME),
}
THAI_VARIANTS = ["iso-ir-166", "iso2022-ir166", "iso2022-ir6-ir166", "utf8"]


def description(variant: str) -> str:
    return "Untersuchung Knöchel" if variant == "latin1" else "ตรวจ CT ช่องท้อง"


@pytest.fixture(scope="module")
def stored(tmp_path_factory, peer, alice, shared_dir):
    """Every variant C-STOREd by MODA (one file per variant), plus a Thai CT (gen_ct_series
    --thai, "ใจดี^สมชาย" in ISO_IR 166) STOWed by alice."""
    out = tmp_path_factory.mktemp("charset")
    files, by_variant = [], {}
    for key, (pid, charset, raw, name) in VARIANTS.items():
        ds = new_image(patient_id=pid, patient_name=name if raw is None else "PLACEHOLDER", charset=charset,
                       study_uid=generate_uid(), pixels=noise_image(8, 8, seed=1),
                       study_description=description(key))
        if raw is not None:
            set_raw_patient_name(ds, raw)
        path = save(ds, out / f"{key}.dcm")
        decoded = read(path)
        assert str(decoded.PatientName) == name, f"fixture {key}: pydicom decodes {decoded.PatientName!r}, want {name!r}"
        assert decoded.StudyDescription == description(key)
        files.append(path)
        by_variant[key] = read(path)
    outcome = storescu(peer, "MODA", files)
    assert not outcome.failed, f"storescu of the charset variants: {outcome.results}"
    (thai_ct,) = gen_ct(shared_dir, out / "thai-ct", slices=1, rows=64, thai=True, seed=4, patient_id="CS-THAICT")
    assert thai_ct.patient_name == "ใจดี^สมชาย"
    alice.stow_ok([f.read_bytes() for f in thai_ct.files])
    return by_variant, thai_ct


def patient_ids(results):
    return {dw.value(r, dw.PATIENT_ID) for r in results}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_name_comes_back_as_unicode(stored, alice, variant):
    pid, _, _, name = VARIANTS[variant]
    (study,) = alice.qido("/studies", {"PatientID": pid})
    assert dw.person_name(study) == name, f"{variant}: QIDO PatientName {study.get(dw.PATIENT_NAME)}, want {name!r}"
    ds = stored[0][variant]
    r = alice.get(f"/studies/{ds.StudyInstanceUID}/metadata", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200
    (meta,) = r.json()
    assert dw.person_name(meta) == name, f"{variant}: metadata PatientName {meta.get(dw.PATIENT_NAME)}"
    assert dw.value(meta, dw.STUDY_DESCRIPTION) == description(variant), f"{variant}: StudyDescription {meta.get(dw.STUDY_DESCRIPTION)}"


def test_thai_wildcard_search_finds_every_thai_encoding(stored, alice):
    found = patient_ids(alice.qido("/studies", {"PatientName": "สมชาย*"}))
    want = {VARIANTS[v][0] for v in THAI_VARIANTS}
    assert want <= found, f"PatientName=สมชาย* missed {sorted(want - found)}"
    assert VARIANTS["other-thai"][0] not in found and VARIANTS["latin1"][0] not in found


def test_thai_fuzzy_search(stored, alice):
    found = patient_ids(alice.qido("/studies", {"PatientName": "ใจ", "fuzzymatching": "true"}))
    want = {VARIANTS[v][0] for v in THAI_VARIANTS} | {"CS-THAICT"}
    assert want <= found, f"fuzzy PatientName=ใจ missed {sorted(want - found)}"
    assert VARIANTS["other-thai"][0] not in found


def test_thai_ct_from_generator(stored, alice):
    _, thai_ct = stored
    found = alice.qido("/studies", {"PatientName": "ใจดี*", "PatientID": "CS-THAICT"})
    assert [dw.person_name(s) for s in found] == ["ใจดี^สมชาย"]
    fuzzy = patient_ids(alice.qido("/studies", {"PatientName": "สมช", "fuzzymatching": "true"}))
    assert "CS-THAICT" in fuzzy, "fuzzy สมช should match the given-name component of ใจดี^สมชาย"
    (series,) = alice.qido(f"/studies/{thai_ct.study_uid}/series", {"includefield": "InstitutionName"})
    assert dw.value(series, dw.INSTITUTION_NAME) == "โรงพยาบาลทดสอบ"


def test_latin1_search(stored, alice):
    assert patient_ids(alice.qido("/studies", {"PatientName": "Müller*"})) >= {"CS-LATIN1"}
    assert "CS-LATIN1" in patient_ids(alice.qido("/studies", {"PatientName": "jos", "fuzzymatching": "true"}))


def test_query_is_percent_encoded_utf8(stored, alice):
    # the same query, written out by hand: สมชาย* in UTF-8, percent-encoded
    raw = "PatientName=" + "".join(f"%{b:02X}" for b in "สมชาย".encode()) + "*&PatientID=CS-2022A"
    assert patient_ids(alice.qido("/studies", raw)) == {"CS-2022A"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cfind_returns_the_name(stored, peer, variant):
    pid, _, _, name = VARIANTS[variant]
    res, found = findscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=STUDY", f"PatientID={pid}", "PatientName", "StudyInstanceUID", "SpecificCharacterSet",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    assert len(found) == 1, f"C-FIND PatientID={pid}: {len(found)} responses\n{res}"
    assert str(found[0].PatientName) == name, (
        f"{variant}: C-FIND PatientName decodes to {str(found[0].PatientName)!r} "
        f"(SpecificCharacterSet {found[0].get('SpecificCharacterSet')}), want {name!r}"
    )


def test_cfind_matches_thai_name_sent_in_utf8(stored, peer):
    res, found = findscu(peer, "MODA", "-S", [
        "QueryRetrieveLevel=STUDY", "SpecificCharacterSet=ISO_IR 192", "PatientName=สมชาย*", "PatientID=CS-*",
        "StudyInstanceUID",
    ])
    assert res.returncode == 0, f"findscu: {res}"
    got = {str(d.StudyInstanceUID) for d in found}
    want = {str(stored[0][v].StudyInstanceUID) for v in THAI_VARIANTS}
    assert want <= got, f"C-FIND PatientName=สมชาย* (query in UTF-8) missed {len(want - got)} of the Thai studies\n{res}"
    for v in ("other-thai", "latin1"):
        assert str(stored[0][v].StudyInstanceUID) not in got, f"C-FIND PatientName=สมชาย* matched {v}"
