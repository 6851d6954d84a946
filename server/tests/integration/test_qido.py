"""QIDO-RS: every resource (/studies, /studies/{s}/series, /studies/{s}/series/{x}/instances,
/studies/{s}/instances, /series, /instances), default attributes, attribute matching,
wildcards, date ranges, UID lists, fuzzy matching, includefield, limit and offset.

Four studies of patients QIDO-1..QIDO-4 are STOWed by alice (hospital 10670); every query
is restricted to them with PatientID=QIDO-* so other test modules' data cannot interfere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import CT_IMAGE_STORAGE, MR_IMAGE_STORAGE, US_IMAGE_STORAGE, new_image, noise_image, save

OURS = {"PatientID": "QIDO-*"}


@dataclass
class QidoStudy:
    key: str
    patient_id: str
    name: str
    date: str
    description: str
    accession: str
    uid: str = field(default_factory=generate_uid)
    series: dict[str, list[str]] = field(default_factory=dict)  # series UID -> SOP UIDs
    modalities: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def studies(alice, tmp_path_factory):
    out = tmp_path_factory.mktemp("qido")
    plan = [
        # key, patient, name, date, description, accession, [(modality, sop class, n instances, series description)]
        ("S1", "QIDO-1", "DOE^JOHN", "20230110", "CT HEAD", "QACC1",
         [("CT", CT_IMAGE_STORAGE, 3, "AXIAL"), ("OT", None, 1, "KEY IMAGES")]),
        ("S2", "QIDO-2", "DOE^JANE", "20230215", "MR KNEE", "QACC2", [("MR", MR_IMAGE_STORAGE, 2, "T1 SAG")]),
        ("S3", "QIDO-3", "DOERING^JOHANN", "20230320", "CT CHEST", "QACC3", [("CT", CT_IMAGE_STORAGE, 1, "LUNG")]),
        ("S4", "QIDO-4", "SMITH^JOHN", "20221231", "US ABDOMEN", "QACC4", [("US", US_IMAGE_STORAGE, 1, "LIVER")]),
    ]
    made = {}
    files = []
    for key, pid, name, date, desc, acc, series_plan in plan:
        st = QidoStudy(key, pid, name, date, desc, acc)
        for number, (modality, sop_class, n, sdesc) in enumerate(series_plan, start=1):
            series_uid = generate_uid()
            st.series[series_uid] = []
            st.modalities.add(modality)
            for i in range(n):
                kw = {"sop_class": sop_class} if sop_class else {}
                ds = new_image(
                    patient_id=pid, patient_name=name, study_uid=st.uid, series_uid=series_uid, modality=modality,
                    study_date=date, study_time="101500", accession=acc, study_description=desc,
                    series_description=sdesc, series_number=number, instance_number=i + 1,
                    referring="HOUSE^GREGORY", study_id=key, birth_date="19780412", sex="F" if "JANE" in name else "M",
                    age="045Y", institution="Udon Thani Hospital", pixels=noise_image(16, 20, seed=i), **kw,
                )
                st.series[series_uid].append(str(ds.SOPInstanceUID))
                files.append(save(ds, out / f"{key}-{number}-{i}.dcm").read_bytes())
        made[key] = st
    alice.stow_ok(files)
    return made


def study_uids(results):
    return dw.uids(results, dw.STUDY_INSTANCE_UID)


def keys_of(studies, *keys):
    return {studies[k].uid for k in keys}


# ---------------------------------------------------------------------------
# resources and default attributes


def test_studies_default_attributes(studies, alice):
    s1 = studies["S1"]
    (r,) = alice.qido("/studies", {"PatientID": "QIDO-1"})
    expected = {
        dw.STUDY_DATE: "20230110",
        dw.STUDY_TIME: "101500",
        dw.ACCESSION_NUMBER: "QACC1",
        dw.PATIENT_ID: "QIDO-1",
        dw.PATIENT_BIRTH_DATE: "19780412",
        dw.PATIENT_SEX: "M",
        dw.STUDY_INSTANCE_UID: s1.uid,
        dw.STUDY_ID: "S1",
        dw.STUDY_DESCRIPTION: "CT HEAD",
    }
    for tag, want in expected.items():
        assert dw.value(r, tag) == want, f"/studies default attribute {tag}: {r.get(tag)}, want {want!r}"
    assert dw.person_name(r) == "DOE^JOHN"
    assert dw.person_name(r, dw.REFERRING_PHYSICIAN_NAME) == "HOUSE^GREGORY"
    assert set(dw.values(r, dw.MODALITIES_IN_STUDY)) == {"CT", "OT"}
    assert int(dw.value(r, dw.NUMBER_OF_STUDY_RELATED_SERIES)) == 2
    assert int(dw.value(r, dw.NUMBER_OF_STUDY_RELATED_INSTANCES)) == 4
    for tag, el in r.items():
        assert "vr" in el, f"DICOM JSON element {tag} has no vr"


def test_study_series_resource(studies, alice):
    s1 = studies["S1"]
    results = alice.qido(f"/studies/{s1.uid}/series")
    by_uid = {dw.value(r, dw.SERIES_INSTANCE_UID): r for r in results}
    assert set(by_uid) == set(s1.series), "/studies/{s}/series must list the study's two series"
    ct_uid, ot_uid = list(s1.series)
    assert dw.value(by_uid[ct_uid], dw.MODALITY) == "CT"
    assert int(dw.value(by_uid[ct_uid], dw.SERIES_NUMBER)) == 1
    assert dw.value(by_uid[ct_uid], dw.SERIES_DESCRIPTION) == "AXIAL"
    assert int(dw.value(by_uid[ct_uid], dw.NUMBER_OF_SERIES_RELATED_INSTANCES)) == 3
    assert dw.value(by_uid[ot_uid], dw.MODALITY) == "OT"
    assert int(dw.value(by_uid[ot_uid], dw.NUMBER_OF_SERIES_RELATED_INSTANCES)) == 1


def test_study_series_with_matching(studies, alice):
    s1 = studies["S1"]
    results = alice.qido(f"/studies/{s1.uid}/series", {"Modality": "OT"})
    assert [dw.value(r, dw.SERIES_INSTANCE_UID) for r in results] == [list(s1.series)[1]]


def test_series_instances_resource(studies, alice):
    s1 = studies["S1"]
    ct_uid = list(s1.series)[0]
    results = alice.qido(f"/studies/{s1.uid}/series/{ct_uid}/instances")
    assert dw.uids(results, dw.SOP_INSTANCE_UID) == set(s1.series[ct_uid])
    for r in results:
        assert dw.value(r, dw.SOP_CLASS_UID) == CT_IMAGE_STORAGE
        assert dw.value(r, dw.ROWS) == 16 and dw.value(r, dw.COLUMNS) == 20, "Rows/Columns of the instance"
    assert sorted(int(dw.value(r, dw.INSTANCE_NUMBER)) for r in results) == [1, 2, 3]


def test_study_instances_resource(studies, alice):
    s1 = studies["S1"]
    results = alice.qido(f"/studies/{s1.uid}/instances")
    assert dw.uids(results, dw.SOP_INSTANCE_UID) == {u for sops in s1.series.values() for u in sops}
    assert dw.uids(results, dw.SERIES_INSTANCE_UID) == set(s1.series), "study-level instances carry their series UID"


def test_all_series_resource(studies, alice):
    s2 = studies["S2"]
    results = alice.qido("/series", {"Modality": "MR", **OURS})
    assert dw.uids(results, dw.SERIES_INSTANCE_UID) == set(s2.series)
    assert study_uids(results) == {s2.uid}, "/series results must say which study they belong to"
    assert dw.value(results[0], dw.SERIES_DESCRIPTION) == "T1 SAG"


def test_all_instances_resource(studies, alice):
    s4 = studies["S4"]
    sop = next(iter(s4.series.values()))[0]
    (r,) = alice.qido("/instances", {"SOPInstanceUID": sop})
    assert dw.value(r, dw.STUDY_INSTANCE_UID) == s4.uid
    assert dw.value(r, dw.SERIES_INSTANCE_UID) == next(iter(s4.series))
    assert dw.value(r, dw.SOP_CLASS_UID) == US_IMAGE_STORAGE


def test_all_instances_by_study_level_attribute(studies, alice):
    results = alice.qido("/instances", {"PatientID": "QIDO-1"})
    assert len(results) == 4, f"/instances?PatientID=QIDO-1 gave {len(results)} results, want the 4 instances of S1"


# ---------------------------------------------------------------------------
# matching


@pytest.mark.parametrize("params,want", [
    ({"PatientName": "DOE*"}, {"S1", "S2", "S3"}),
    ({"PatientName": "DOE^J*"}, {"S1", "S2"}),
    ({"PatientName": "DOE^JO?N"}, {"S1"}),
    ({"PatientName": "*JOHN"}, {"S1", "S4"}),
    ({"PatientID": "QIDO-3"}, {"S3"}),
    ({"AccessionNumber": "QACC2"}, {"S2"}),
    ({"StudyDescription": "CT*"}, {"S1", "S3"}),
    ({"ModalitiesInStudy": "MR"}, {"S2"}),
    ({"ModalitiesInStudy": "OT"}, {"S1"}),
    ({"StudyDate": "20230110"}, {"S1"}),
    ({"StudyDate": "20230101-20230228"}, {"S1", "S2"}),
    ({"StudyDate": "-20221231"}, {"S4"}),
    ({"StudyDate": "20230301-"}, {"S3"}),
    ({"PatientName": "NOBODY*"}, set()),
], ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None)
def test_study_matching(studies, alice, params, want):
    results = alice.qido("/studies", {**OURS, **params})
    got = {k for k, s in studies.items() if s.uid in study_uids(results)}
    assert got == want, f"/studies?{params}: matched {sorted(got)}, want {sorted(want)}"
    assert len(results) == len(got), "duplicate or foreign studies in the results"


def test_uid_list_matching(studies, alice):
    uid_list = ",".join([studies["S1"].uid, studies["S4"].uid])
    results = alice.qido("/studies", {"StudyInstanceUID": uid_list})
    assert study_uids(results) == keys_of(studies, "S1", "S4")


@pytest.mark.parametrize("term,want", [
    ("jo", {"S1", "S3", "S4"}),   # JOHN, JOHANN, JOHN: prefix of a name component
    ("doe", {"S1", "S2", "S3"}),  # DOE, DOE, DOERING
    ("ja", {"S2"}),
    ("smith", {"S4"}),
    ("ohn", set()),               # not a prefix of any component
])
def test_fuzzy_matching_patient_name(studies, alice, term, want):
    results = alice.qido("/studies", {**OURS, "PatientName": term, "fuzzymatching": "true"})
    got = {k for k, s in studies.items() if s.uid in study_uids(results)}
    assert got == want, f"fuzzymatching PatientName={term}: matched {sorted(got)}, want {sorted(want)}"


def test_without_fuzzy_matching_is_exact(studies, alice):
    assert alice.qido("/studies", {**OURS, "PatientName": "jo"}) == [], "PatientName=jo must not match without fuzzymatching"


# ---------------------------------------------------------------------------
# includefield, limit, offset, empty results


def test_includefield_tag_and_keyword(studies, alice):
    (r,) = alice.qido("/studies", {"PatientID": "QIDO-2", "includefield": "00101010"})
    assert dw.value(r, dw.PATIENT_AGE) == "045Y", "includefield=00101010 should add PatientAge"
    (series,) = alice.qido(f"/studies/{studies['S2'].uid}/series", {"includefield": "InstitutionName"})
    assert dw.value(series, dw.INSTITUTION_NAME) == "Udon Thani Hospital", "includefield=InstitutionName"


def test_includefield_several(studies, alice):
    (r,) = alice.qido("/studies", "PatientID=QIDO-2&includefield=00101010,00081030&includefield=PatientAge")
    assert dw.value(r, dw.PATIENT_AGE) == "045Y"
    (series,) = alice.qido(f"/studies/{studies['S2'].uid}/series", "includefield=InstitutionName,00080070")
    assert dw.value(series, dw.INSTITUTION_NAME) == "Udon Thani Hospital"
    assert dw.value(series, "00080070") == "RANGSI-IT", "includefield=...,00080070 should add Manufacturer"


def test_includefield_all(studies, alice):
    s1 = studies["S1"]
    ct_uid = list(s1.series)[0]
    results = alice.qido(f"/studies/{s1.uid}/series/{ct_uid}/instances", {"includefield": "all"})
    assert len(results) == 3
    for r in results:
        assert dw.values(r, dw.IMAGE_TYPE) == ["ORIGINAL", "PRIMARY", "AXIAL"], "includefield=all should include ImageType"
        assert dw.value(r, dw.BITS_ALLOCATED) == 16, "includefield=all should include BitsAllocated"
        assert dw.PIXEL_DATA not in r or "InlineBinary" not in r[dw.PIXEL_DATA], "QIDO must not inline pixel data"
    (study,) = alice.qido("/studies", {"PatientID": "QIDO-1", "includefield": "all"})
    assert dw.value(study, dw.PATIENT_AGE) == "045Y", "includefield=all at study level should include PatientAge"


def test_limit_and_offset_page_through_all(studies, alice):
    everything = alice.qido("/studies", OURS)
    assert study_uids(everything) == {s.uid for s in studies.values()}
    page1 = alice.qido("/studies", {**OURS, "limit": "2"})
    page2 = alice.qido("/studies", {**OURS, "limit": "2", "offset": "2"})
    assert len(page1) == 2 and len(page2) == 2, f"limit=2 pages: {len(page1)} and {len(page2)} results"
    assert not study_uids(page1) & study_uids(page2), "pages overlap"
    assert study_uids(page1) | study_uids(page2) == study_uids(everything)
    assert alice.qido("/studies", {**OURS, "offset": "4"}) == [], "offset past the end must give no results"
    page3 = alice.qido("/studies", {**OURS, "limit": "3", "offset": "1"})
    assert len(page3) == 3


def test_no_match_is_empty(alice):
    r = alice.qido_response("/studies", {"PatientID": "QIDO-NOBODY"})
    assert r.status_code in (200, 204), f"no-match QIDO -> {r.status_code}"
    if r.status_code == 200:
        assert r.json() == []
