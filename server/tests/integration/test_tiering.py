"""Tiering: `rangsi tier --older-than-days N` moves the blobs of studies neither opened
nor changed for N days to the cold store (here a local folder; blobs on Garage when
RANGSI_TEST_BLOBS=s3 — test_s3.py tiers S3 to S3). The moved study still reads back byte
for byte through WADO-RS (whole instances and frames) and C-GET, `rangsi fsck --verify`
stays clean, opening a study records `last_opened_at` so the policy keeps it hot, and a
SIGKILL at any point of a tier run loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import pytest
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import frames_as_stored, gen_ct, new_image, noise_image, read
from dimse import Peer, pynetdicom_get
from garage import blobs_on_s3
from rangsi_server import IndexDb, Server, index_db

OLD = "2020-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def tiered(rangsi_bin, tmp_path_factory):
    """A server with a cold tier in a local folder (named once, on the first command:
    the data directory records it for every later command)."""
    work = tmp_path_factory.mktemp("rangsi-tier")
    srv = Server(rangsi_bin, work)
    srv.cold = work / "cold"
    srv.blob_env["RANGSI_COLD_BLOBS"] = str(srv.cold)
    srv.set_up_regional_archive()
    # Later commands find the cold store in the data directory's record.
    del srv.blob_env["RANGSI_COLD_BLOBS"]
    srv.start()
    srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield srv
    srv.stop()


@contextlib.contextmanager
def db(srv: Server):
    """The server's index (SQLite or PostgreSQL), committed at the end of the block."""
    con: IndexDb = index_db(srv)
    try:
        yield con
        con.commit()
    finally:
        con.close()


def age_studies(srv: Server, study_uids: list[str]) -> None:
    """Makes studies look last changed long ago (the clock the policy reads)."""
    with db(srv) as con:
        for uid in study_uids:
            con.execute("UPDATE studies SET updated_at = ? WHERE study_uid = ?", (OLD, uid))


def cold_files(srv: Server) -> list:
    return sorted(srv.cold.rglob("*.dcm")) if srv.cold.exists() else []


def hot_has(srv: Server, key: str) -> bool:
    if blobs_on_s3():
        from garage import shared_garage
        return f"{srv.s3_prefix}/{key}" in shared_garage().list_keys(srv.s3_prefix + "/")
    return (srv.data / "blobs" / key).is_file()


def stow_study(alice: dw.DicomWeb, n_slices: int = 3, seed: int = 0) -> tuple[str, dict]:
    """A multi-frame instance plus a few single-frame ones in one study."""
    study = generate_uid()
    series = generate_uid()
    datasets = [
        new_image(patient_id="TIER1", study_uid=study, series_uid=series, instance_number=i + 1,
                  pixels=noise_image(64, 48, seed=seed + i))
        for i in range(n_slices)
    ]
    datasets.append(new_image(patient_id="TIER1", study_uid=study, series_uid=series, instance_number=99,
                              pixels=noise_image(40, 30, seed=seed + 50, frames=6)))
    files = {}
    for ds in datasets:
        from io import BytesIO
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        files[str(ds.SOPInstanceUID)] = (str(ds.SeriesInstanceUID), buf.getvalue())
    alice.stow_ok([b for _, b in files.values()])
    return study, files


def test_tiered_study_reads_back_identical_and_opened_study_stays_hot(tiered):
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    cold_study, cold_files_sent = stow_study(alice, seed=10)
    hot_study, _ = stow_study(alice, seed=20)
    age_studies(tiered, [cold_study, hot_study])

    # Opening a study records it (batched with the audit log, so within moments).
    alice.get(f"/studies/{hot_study}/metadata", headers={"Accept": dw.DICOM_JSON}).raise_for_status()
    deadline = time.time() + 30
    while time.time() < deadline:
        with db(tiered) as con:
            (opened,) = con.execute("SELECT last_opened_at FROM studies WHERE study_uid = ?", (hot_study,)).fetchone()
        if opened:
            break
        time.sleep(0.05)
    assert opened and opened > OLD, "opening a study must record last_opened_at"

    dry = tiered.cli("tier", "--older-than-days", "30", "--dry-run").stdout.decode()
    assert cold_study in dry and hot_study not in dry, dry
    assert not cold_files(tiered), "a dry run moves nothing"

    out = tiered.cli("tier", "--older-than-days", "30").stdout.decode()
    assert cold_study in out and hot_study not in out, out
    moved = cold_files(tiered)
    assert len(moved) == len(cold_files_sent), f"{len(moved)} cold blobs for {len(cold_files_sent)} instances:\n{out}"
    with db(tiered) as con:
        keys = [k for (k,) in con.execute("SELECT blob_key FROM blob_tiers WHERE tier = 'cold'")]
    assert len(keys) == len(cold_files_sent)
    for key in keys:
        assert not hot_has(tiered, key), f"hot copy of {key} still there after the move"

    # WADO-RS: every instance byte for byte, and frames of the multi-frame one.
    for sop, (series, sent) in cold_files_sent.items():
        got = alice.instance_bytes(cold_study, series, sop)
        assert got == sent, f"instance {sop} differs after tiering"
    mf_sop, (mf_series, mf_bytes) = list(cold_files_sent.items())[-1]
    parts = alice.retrieve(f"/studies/{cold_study}/series/{mf_series}/instances/{mf_sop}/frames/2,6",
                           accept=dw.ACCEPT_FRAMES_AS_STORED)
    frames = frames_as_stored(read(mf_bytes))
    assert [p.body for p in parts] == [frames[1], frames[5]], "frames 2 and 6 differ after tiering"

    # C-GET: the same data sets.
    from pydicom.dataset import Dataset
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = cold_study
    peer = Peer(tiered.dicom_host, tiered.dicom_port, tiered.ae_title)
    received, status = pynetdicom_get(peer, "MODA", q, ["1.2.840.10008.5.1.4.1.1.7"])
    assert status == 0x0000, f"C-GET of a tiered study -> status {status:#06x}"
    assert set(received) == set(cold_files_sent)
    for sop, ds in received.items():
        assert ds.PixelData == read(cold_files_sent[sop][1]).PixelData, f"C-GET {sop}: pixel data differs"

    fsck = tiered.cli("fsck", "--verify", check=False)
    assert fsck.returncode == 0 and "consistent" in fsck.stdout.decode(), fsck.stdout.decode() + fsck.stderr.decode()

    # Running again moves nothing more.
    again = tiered.cli("tier", "--older-than-days", "30").stdout.decode()
    assert "0 blob(s)" in again, again


def test_kill_9_during_a_tier_run_loses_nothing(tiered, shared_dir, tmp_path):
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    (ct,) = gen_ct(shared_dir, tmp_path / "ct", slices=40, rows=256, patient_id="TIER2")
    sent = {p.name: p.read_bytes() for p in ct.files}
    alice.stow_ok(list(sent.values()))
    age_studies(tiered, [ct.study_uid])
    env_args = [str(tiered.binary), "tier", "--older-than-days", "30", "--data", str(tiered.data)]
    env = {**os.environ, **tiered.blob_env}
    kills = 0
    before = len(cold_files(tiered))
    for target in (1, 8, 20, 33):
        proc = subprocess.Popen(env_args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while proc.poll() is None and len(cold_files(tiered)) - before < target:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
        # Every crash point: fsck clean and every instance whole.
        fsck = tiered.cli("fsck", "--verify", check=False)
        assert fsck.returncode == 0, f"fsck after SIGKILL #{kills}:\n{fsck.stdout.decode()}{fsck.stderr.decode()}"
    assert kills >= 1, "the tier run finished before any SIGKILL: make the study larger"
    final = tiered.cli("tier", "--older-than-days", "30")
    assert final.returncode == 0
    with db(tiered) as con:
        cold = {k for (k,) in con.execute("SELECT blob_key FROM blob_tiers")}
        ct_keys = {k for (k,) in con.execute(
            "SELECT i.blob_key FROM instances i JOIN series se ON se.id = i.series_ref "
            "JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ?", (ct.study_uid,))}
    assert ct_keys <= cold, "after a completed run every blob of the study is cold"
    for key in ct_keys:
        assert not hot_has(tiered, key), f"hot leftover {key} not removed by the next run"
    for p in ct.files:
        ds = read(p)
        got = alice.instance_bytes(ct.study_uid, str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
        assert got == sent[p.name], f"{p.name} differs after interrupted tier runs"
    fsck = tiered.cli("fsck", "--verify", check=False)
    assert fsck.returncode == 0, fsck.stdout.decode()
    assert tiered.healthy()


def test_tier_without_a_cold_store_fails_clearly(server):
    r = server.cli("tier", "--older-than-days", "1", check=False)
    assert r.returncode != 0
    assert "no cold store configured" in r.stderr.decode(), r.stderr.decode()
    # A dry run only lists, so it needs none.
    r = server.cli("tier", "--older-than-days", "1", "--dry-run")
    assert "would move" in r.stdout.decode()


def test_serve_tiers_in_the_background(tiered):
    """`serve --tier-after-days N` runs the policy itself (at start, then hourly)."""
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    study, sent = stow_study(alice, n_slices=2, seed=300)
    age_studies(tiered, [study])
    tiered.stop()
    tiered.extra_args = ["--tier-after-days", "30"]
    try:
        tiered.start()
        deadline = time.time() + 60
        moved = 0
        while time.time() < deadline and moved < len(sent):
            with db(tiered) as con:
                (moved,) = con.execute(
                    "SELECT COUNT(*) FROM blob_tiers bt WHERE bt.blob_key IN (SELECT i.blob_key FROM instances i "
                    "JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref "
                    "WHERE st.study_uid = ?)", (study,)).fetchone()
            time.sleep(0.1)
        assert moved == len(sent), f"the background job moved {moved} of {len(sent)} blobs:\n{tiered.log_tail()}"
        alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
        for sop, (series, body) in sent.items():
            assert alice.instance_bytes(study, series, sop) == body
    finally:
        tiered.stop()
        tiered.extra_args = []
        tiered.start()
