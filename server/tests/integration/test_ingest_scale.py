"""Ingest and query at a scale where the shortcuts show: four dcmtk `storescu` processes
storing 1,500 one-instance studies side by side (their instances share group commits),
one 800-instance series sent over four associations at once (its counters are updated by
concurrent upserts), then answers too large to be held whole: an unbounded QIDO
`/studies` and the series' `/metadata`, each over 1 MiB, are streamed and must still
hold exactly what was sent, and an unbounded C-FIND must return every match. `rangsi fsck` must be clean afterwards.

The oracle is what the test generated (UIDs, counts), read back through dcmtk, pynetdicom
and requests. The module runs its own server so that its 1,500 studies do not slow down
the queries of the other modules.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import CT_IMAGE_STORAGE, new_image, noise_image, read, save
from dimse import DCMTK_ENV, Peer, dcmtk_tool, parse_storescu_log, pynetdicom_find

STUDIES = 1500
SENDERS = 4
BIG_STUDY_INSTANCES = 800


@pytest.fixture(scope="module")
def scale_server(rangsi_bin, tmp_path_factory):
    from rangsi_server import Server

    srv = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-scale"))
    srv.set_up_regional_archive()
    srv.start()
    srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield srv
    srv.stop()


def send_in_parallel(srv, groups):
    """One storescu process per group of files, all at once; (acknowledged, other) paths."""
    procs = [
        subprocess.Popen(
            [dcmtk_tool("storescu"), "-v", "-nh", "-aet", "MODA", "-aec", srv.ae_title, srv.dicom_host,
             str(srv.dicom_port), *map(str, group)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=DCMTK_ENV,
        )
        for group in groups
    ]
    ok, other = [], []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        o, f = parse_storescu_log(out.decode(errors="replace"))
        ok += o
        other += f
    return ok, other


@pytest.fixture(scope="module")
def sent(scale_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("scale")
    studies = {}
    files = []
    for n in range(STUDIES):
        ds = new_image(
            patient_id=f"SCALE-{n:05d}", patient_name=f"SCALE^P{n % 7}", study_uid=generate_uid(),
            series_uid=generate_uid(), modality="CT", study_date="20240105", study_time="101500",
            accession=f"SC{n:05d}", study_description="SCALE", series_number=1, instance_number=1,
            pixels=noise_image(8, 8, seed=n),
        )
        studies[str(ds.StudyInstanceUID)] = str(ds.SOPInstanceUID)
        files.append(save(ds, out / f"s{n:05d}.dcm"))
    ok, other = send_in_parallel(scale_server, [files[i::SENDERS] for i in range(SENDERS)])
    assert not other and len(ok) == STUDIES, f"{len(ok)} of {STUDIES} acknowledged; not: {other[:5]}"

    big_study, big_series = generate_uid(), generate_uid()
    big = [
        save(new_image(patient_id="SCALE-BIG", patient_name="SCALE^BIG", study_uid=big_study, series_uid=big_series,
                       modality="CT", sop_class=CT_IMAGE_STORAGE, series_number=1, instance_number=i + 1,
                       pixels=noise_image(8, 8, seed=10_000 + i)), out / f"big{i:03d}.dcm")
        for i in range(BIG_STUDY_INSTANCES)
    ]
    ok, other = send_in_parallel(scale_server, [big[i::SENDERS] for i in range(SENDERS)])
    assert not other and len(ok) == BIG_STUDY_INSTANCES
    big_sops = [str(read(f).SOPInstanceUID) for f in big]
    return {"studies": studies, "big_study": big_study, "big_series": big_series, "big_sops": big_sops}


def test_concurrent_associations_count_every_instance(scale_server, sent):
    alice = dw.DicomWeb(scale_server.http_url, token=scale_server.tokens["alice"], name="alice")
    r = alice.get(f"/studies?StudyInstanceUID={sent['big_study']}", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200, r.text[:300]
    (study,) = r.json()
    assert study["00201208"]["Value"] == [BIG_STUDY_INSTANCES], "NumberOfStudyRelatedInstances"
    assert study["00201206"]["Value"] == [1], "NumberOfStudyRelatedSeries"
    r = alice.get(f"/studies/{sent['big_study']}/series", headers={"Accept": dw.DICOM_JSON})
    (series,) = r.json()
    assert series["00201209"]["Value"] == [BIG_STUDY_INSTANCES], "NumberOfSeriesRelatedInstances"
    r = alice.get(f"/studies/{sent['big_study']}/series/{sent['big_series']}/instances",
                  headers={"Accept": dw.DICOM_JSON})
    numbers = sorted(i["00200013"]["Value"][0] for i in r.json())
    assert numbers == list(range(1, BIG_STUDY_INSTANCES + 1))


def test_unbounded_qido_answer_is_streamed_and_complete(scale_server, sent):
    alice = dw.DicomWeb(scale_server.http_url, token=scale_server.tokens["alice"], name="alice")
    r = alice.get("/studies?PatientID=SCALE-0*", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200, r.text[:300]
    assert len(r.content) > 1 << 20, f"answer of {len(r.content)} bytes: too small to exercise streaming"
    assert "ETag" not in r.headers, "a streamed answer cannot carry a content hash"
    results = json.loads(r.content)
    uids = [m[dw.STUDY_INSTANCE_UID]["Value"][0] for m in results]
    assert len(uids) == len(set(uids)) == STUDIES
    assert set(uids) == set(sent["studies"])
    assert all(m["00201208"]["Value"] == [1] for m in results)
    # A page of the same query is small: sent whole, with an ETag that revalidates.
    r = alice.get("/studies?PatientID=SCALE-0*&limit=10", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200 and len(r.json()) == 10 and r.headers.get("ETag")
    again = alice.get("/studies?PatientID=SCALE-0*&limit=10",
                      headers={"Accept": dw.DICOM_JSON, "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_metadata_of_a_large_series_is_streamed_in_order(scale_server, sent):
    alice = dw.DicomWeb(scale_server.http_url, token=scale_server.tokens["alice"], name="alice")
    r = alice.get(f"/studies/{sent['big_study']}/series/{sent['big_series']}/metadata",
                  headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200, r.text[:300]
    assert len(r.content) > 1 << 20, f"answer of {len(r.content)} bytes: too small to exercise streaming"
    assert "ETag" not in r.headers
    items = json.loads(r.content)
    assert [i["00080018"]["Value"][0] for i in items] == sent["big_sops"], "instances, in instance number order"
    assert all(i["00200013"]["Value"] == [n] for n, i in enumerate(items, start=1))
    bulk = [i["7FE00010"]["BulkDataURI"] for i in items if "BulkDataURI" in i.get("7FE00010", {})]
    assert all(u.startswith(alice.base) for u in bulk), "{{BASE}} replaced in streamed items too"


def test_unbounded_c_find_returns_every_match(scale_server, sent):
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.PatientID = "SCALE-0*"
    q.StudyInstanceUID = ""
    matches, status = pynetdicom_find(Peer(scale_server.dicom_host, scale_server.dicom_port, scale_server.ae_title),
                                      "MODA", q)
    assert status == 0x0000, f"C-FIND final status {status:#06x}"
    assert {str(m.StudyInstanceUID) for m in matches} == set(sent["studies"])
    assert len(matches) == STUDIES


def test_fsck_clean_after_concurrent_ingest(scale_server, sent):
    fsck = scale_server.cli("fsck", check=False)
    assert fsck.returncode == 0, fsck.stdout.decode(errors="replace") + fsck.stderr.decode(errors="replace")
