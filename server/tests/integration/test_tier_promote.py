"""Cold studies are "transparently retrieved": a study that `rangsi tier` moved to the
cold store is read byte for byte, and that read promotes it back to hot in the
background (`serve` only), so the next reading is fast. After the promotion the index
holds no cold row for the study, the hot store has every blob and the cold store none,
reads are still byte-identical, fsck --verify is clean and the next tier run leaves the
study hot (it was just opened). A study that is not opened stays cold. Hot blobs on
Garage with RANGSI_TEST_BLOBS=s3 (the cold tier is a local folder either way).
"""

from __future__ import annotations

import time
from io import BytesIO

import pytest
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import frames_as_stored, new_image, noise_image, read
from garage import blobs_on_s3
from rangsi_server import Server, index_db

OLD = "2020-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def tiered(rangsi_bin, tmp_path_factory):
    work = tmp_path_factory.mktemp("rangsi-promote")
    srv = Server(rangsi_bin, work)
    srv.cold = work / "cold"
    srv.blob_env["RANGSI_COLD_BLOBS"] = str(srv.cold)
    srv.set_up_regional_archive()
    del srv.blob_env["RANGSI_COLD_BLOBS"]
    srv.start()
    srv.tokens["alice"] = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield srv
    srv.stop()


def stow_study(alice: dw.DicomWeb, seed: int) -> tuple[str, dict]:
    study, series = generate_uid(), generate_uid()
    datasets = [new_image(patient_id="PROMO", study_uid=study, series_uid=series, instance_number=i + 1,
                          pixels=noise_image(64, 48, seed=seed + i)) for i in range(3)]
    datasets.append(new_image(patient_id="PROMO", study_uid=study, series_uid=series, instance_number=9,
                              pixels=noise_image(40, 30, seed=seed + 9, frames=5)))
    files = {}
    for ds in datasets:
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        files[str(ds.SOPInstanceUID)] = (series, buf.getvalue())
    alice.stow_ok([b for _, b in files.values()])
    return study, files


def study_keys(srv: Server, study: str) -> dict[str, str | None]:
    """Blob key -> its blob_tiers tier (None: hot)."""
    with index_db(srv, readonly=True) as db:
        rows = db.execute(
            "SELECT i.blob_key, bt.tier FROM instances i JOIN series se ON se.id = i.series_ref "
            "JOIN studies st ON st.id = se.study_ref LEFT JOIN blob_tiers bt ON bt.blob_key = i.blob_key "
            "WHERE st.study_uid = ?", (study,)).fetchall()
    return {k: t for k, t in rows}


def hot_has(srv: Server, key: str) -> bool:
    if blobs_on_s3():
        from garage import shared_garage
        return f"{srv.s3_prefix}/{key}" in shared_garage().list_keys(srv.s3_prefix + "/")
    return (srv.data / "blobs" / key).is_file()


def cold_has(srv: Server, key: str) -> bool:
    return (srv.cold / key).is_file()


def age(srv: Server, studies: list[str]) -> None:
    with index_db(srv) as db:
        for uid in studies:
            db.execute("UPDATE studies SET updated_at = ?, last_opened_at = NULL WHERE study_uid = ?", (OLD, uid))
        db.commit()


def test_an_opened_cold_study_is_promoted_back_to_hot(tiered):
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    opened, sent = stow_study(alice, seed=100)
    untouched, _ = stow_study(alice, seed=200)
    age(tiered, [opened, untouched])
    out = tiered.cli("tier", "--older-than-days", "30").stdout.decode()
    assert opened in out and untouched in out, out
    keys = study_keys(tiered, opened)
    assert set(keys.values()) == {"cold"}, keys
    assert all(cold_has(tiered, k) and not hot_has(tiered, k) for k in keys)

    # Reading the cold study: the bytes come from the cold tier, and the read promotes.
    mf_sop, (mf_series, mf_bytes) = list(sent.items())[-1]
    parts = alice.retrieve(f"/studies/{opened}/series/{mf_series}/instances/{mf_sop}/frames/2,5",
                           accept=dw.ACCEPT_FRAMES_AS_STORED)
    frames = frames_as_stored(read(mf_bytes))
    assert [p.body for p in parts] == [frames[1], frames[4]]

    deadline = time.time() + 60
    while time.time() < deadline:
        keys = study_keys(tiered, opened)
        if all(t is None for t in keys.values()):
            break
        time.sleep(0.1)
    assert all(t is None for t in keys.values()), f"not promoted within 60 s: {keys}\n{tiered.log_tail()}"
    for k in keys:
        assert hot_has(tiered, k), f"{k}: no hot copy after the promotion"
        assert not cold_has(tiered, k), f"{k}: cold copy left after the promotion"
    assert "promoted an opened study to hot" in tiered.log_tail(20000)

    # Still byte for byte, now from hot.
    for sop, (series, body) in sent.items():
        assert alice.instance_bytes(opened, series, sop) == body, f"{sop} differs after the promotion"

    # The study that nobody opened stays cold.
    assert set(study_keys(tiered, untouched).values()) == {"cold"}

    fsck = tiered.cli("fsck", "--verify", check=False)
    assert fsck.returncode == 0 and "consistent" in fsck.stdout.decode(), fsck.stdout.decode() + fsck.stderr.decode()
    # Just opened: the next tier run keeps it hot.
    again = tiered.cli("tier", "--older-than-days", "30").stdout.decode()
    assert opened not in again, again
    assert all(t is None for t in study_keys(tiered, opened).values())


def test_a_promotion_left_by_a_crash_is_harmless_and_taken_over(tiered):
    """A row left 'promoting' (a crash between the claim and the end): reads still work
    through the fallback, tier runs leave it alone, fsck is clean, and a promotion an
    hour later takes the claim over."""
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    study, sent = stow_study(alice, seed=300)
    age(tiered, [study])
    tiered.cli("tier", "--older-than-days", "30")
    keys = study_keys(tiered, study)
    assert set(keys.values()) == {"cold"}
    # The crash: every row claimed two hours ago, nothing copied yet.
    with index_db(tiered) as db:
        for k in keys:
            db.execute("UPDATE blob_tiers SET tier = 'promoting', moved_at = ? WHERE blob_key = ?",
                       ("2026-01-01T00:00:00Z", k))
        db.commit()
    fsck = tiered.cli("fsck", check=False)
    assert fsck.returncode == 0, fsck.stdout.decode() + fsck.stderr.decode()
    again = tiered.cli("tier", "--older-than-days", "30").stdout.decode()
    assert study not in again and all(cold_has(tiered, k) for k in keys), again
    # A restart (the opened-study memory is per process) and a read: taken over.
    tiered.stop()
    tiered.start()
    alice = dw.DicomWeb(tiered.http_url, token=tiered.tokens["alice"], name="alice")
    sop, (series, body) = next(iter(sent.items()))
    assert alice.instance_bytes(study, series, sop) == body
    deadline = time.time() + 60
    while time.time() < deadline and any(t is not None for t in study_keys(tiered, study).values()):
        time.sleep(0.1)
    keys = study_keys(tiered, study)
    assert all(t is None for t in keys.values()), f"{keys}\n{tiered.log_tail()}"
    assert all(hot_has(tiered, k) and not cold_has(tiered, k) for k in keys)
    for sop, (series, body) in sent.items():
        assert alice.instance_bytes(study, series, sop) == body
