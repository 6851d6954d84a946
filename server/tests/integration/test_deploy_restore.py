"""DEPLOY.md's recovery procedure for an archive whose blobs are in S3, run for real: a
primary `rangsi serve` with `--blobs s3://…` on a Garage started here (garage.py, no
mock), an online index snapshot with SQLite's `VACUUM INTO` while it serves (the
statement DEPLOY.md runs with the `sqlite3` shell, here through Python's sqlite3), then
fail-over to a standby data directory built from that snapshot and `blob-store.toml`:

- `rangsi backup` refuses the S3 archive and says why (DEPLOY.md relies on that);
- `rangsi fsck` on the standby finds every blob the snapshot refers to;
- the standby serves what was stored before the snapshot, byte for byte;
- what was acknowledged after the snapshot is not in its index, and sending it again
  (a gateway's `--cache-days` copy) stores it.
"""

from __future__ import annotations

import io
import shutil
import sqlite3

import pytest
from pydicom.dataset import Dataset

import dicomweb as dw
from dicom_factory import new_image, noise_image
from garage import Garage
from rangsi_server import Server

PREFIX = "deploy"


@pytest.fixture(scope="module")
def garage(tmp_path_factory):
    g = Garage(tmp_path_factory.mktemp("garage"))
    g.start()
    yield g
    g.stop()


def part10(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def uids(ds: Dataset) -> tuple[str, str, str]:
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def test_index_snapshot_fail_over_with_blobs_on_s3(rangsi_bin, garage, tmp_path):
    primary = Server(rangsi_bin, tmp_path / "primary")
    primary.s3_prefix = PREFIX
    primary.blob_env = garage.rangsi_env(PREFIX)
    primary.set_up_regional_archive()
    primary.start()
    token = primary.cli("token", "create", "--user", "alice").stdout.decode().strip()
    alice = dw.DicomWeb(primary.http_url, token=token, name="alice")

    before = [new_image(patient_id="DEPLOY1", pixels=noise_image(64, 64, seed=300 + i)) for i in range(3)]
    for ds in before:
        alice.stow_ok([part10(ds)])

    # The online snapshot of DEPLOY.md, taken while the server runs.
    snapshot = tmp_path / "index-snapshot.sqlite"
    con = sqlite3.connect(primary.data / "index.sqlite", timeout=60)
    try:
        con.execute("VACUUM INTO ?", (str(snapshot),))
    finally:
        con.close()
    check = sqlite3.connect(snapshot)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        check.close()

    after = new_image(patient_id="DEPLOY2", pixels=noise_image(64, 64, seed=399))
    alice.stow_ok([part10(after)])

    refused = primary.cli("backup", "--to", str(tmp_path / "backup"), check=False)
    out = refused.stdout.decode() + refused.stderr.decode()
    assert refused.returncode != 0 and "replication or versioning" in out, (
        f"`rangsi backup` of an S3 archive should refuse and say why: {refused.returncode} {out}"
    )
    primary.stop()

    # Fail-over: a fresh data directory from the snapshot and the recorded blob store.
    standby = Server(rangsi_bin, tmp_path / "standby")
    standby.s3_prefix = PREFIX
    standby.blob_env = garage.rangsi_env(PREFIX)
    standby.data.mkdir(parents=True)
    shutil.copy(snapshot, standby.data / "index.sqlite")
    shutil.copy(primary.data / "blob-store.toml", standby.data / "blob-store.toml")

    fsck = standby.cli("fsck", check=False)
    report = fsck.stdout.decode() + fsck.stderr.decode()
    assert fsck.returncode == 0 and "consistent" in report, f"fsck of the restored index: {report}"

    standby.start()
    try:
        alice = dw.DicomWeb(standby.http_url, token=token, name="alice")
        for ds in before:
            assert alice.instance_bytes(*uids(ds)) == part10(ds), "an instance of the snapshot differs"
        study, series, sop = uids(after)
        assert alice.qido("/instances", {"SOPInstanceUID": sop}) == [], (
            "an instance acknowledged after the snapshot cannot be in the restored index"
        )
        alice.stow_ok([part10(after)])  # sent again, as a gateway's cache would
        assert alice.instance_bytes(study, series, sop) == part10(after)
        fsck = standby.cli("fsck", "--verify", check=False)
        assert fsck.returncode == 0, fsck.stdout.decode() + fsck.stderr.decode()
    finally:
        standby.stop()
