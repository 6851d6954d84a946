"""DEPLOY.md's recovery procedure for an archive whose blobs are in S3, run for real: a
primary `rangsi serve` with `--blobs s3://…` on a Garage started here (garage.py, no
mock), `rangsi backup` while it serves — an index-only backup, the default for blobs
that are not in a local folder: the index snapshot (`VACUUM INTO`), `blob-store.toml` and
a manifest saying the blobs are not included — then fail-over with `rangsi restore` into
a fresh standby data directory that names no store of its own:

- `rangsi backup` says it does an index-only backup, and copies no blob;
- `rangsi restore` writes the index and the store record, copies no blob, and its fsck
  finds every blob the snapshot refers to in the bucket, counting the instances stored
  after the snapshot as "unreferenced blobs";
- the standby (its bucket/prefix/endpoint from the restored record, only credentials from
  the environment) serves what was stored before the snapshot, byte for byte;
- what was acknowledged after the snapshot is not in its index, and sending it again
  (a gateway's `--cache-days` copy) stores it;
- a backup whose manifest says the blobs are not included but lacks the store record is
  refused by `rangsi restore`.

With the index on PostgreSQL (`RANGSI_TEST_DB=postgres`) the snapshot is a `pg_dump`
archive (`index.pgdump`, checked by PostgreSQL's own `pg_restore --list`) and the standby's
index is restored into a fresh database of the same cluster (`restore --database`), as
DEPLOY.md describes for a PostgreSQL index.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess

import pytest
from pydicom.dataset import Dataset

import dicomweb as dw
from dicom_factory import new_image, noise_image
from garage import Garage
from postgres import PG_BIN, index_on_postgres, shared_postgres
from rangsi_server import Server, index_db

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


def credentials_only(garage: Garage) -> dict[str, str]:
    """The environment of a restored data directory: keys only, the stores from its record."""
    env = garage.rangsi_env(PREFIX)
    return {k: v for k, v in env.items() if k.endswith(("ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))}


def restore(rangsi_bin, backup, data, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    """`rangsi restore`; `env_extra` holds the keys and, for an index on PostgreSQL, the
    database to restore into (RANGSI_DATABASE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANGSI_", "AWS_"))}
    return subprocess.run(
        [str(rangsi_bin), "restore", "--from", str(backup), "--data", str(data)],
        capture_output=True, timeout=120, env={**env, **env_extra},
    )


def fresh_index() -> dict[str, str]:
    """The environment naming where a restored index goes: a fresh database of the test
    cluster in the PostgreSQL pass, nothing (SQLite in the data directory) otherwise."""
    return {"RANGSI_DATABASE": shared_postgres().new_database("standby")} if index_on_postgres() else {}


class BackupIndex:
    """The SQLite snapshot of a backup folder, for `index_db`."""

    database = None

    def __init__(self, backup):
        self.data = backup


def check_snapshot(backup) -> None:
    """The backup's index snapshot is sound, by the engine's own reader."""
    if index_on_postgres():
        listing = subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(backup / "index.pgdump")],
                                 capture_output=True, timeout=60)
        assert listing.returncode == 0 and b"TABLE DATA public instances" in listing.stdout, listing
        assert not (backup / "index.sqlite").exists()
        return
    with index_db(BackupIndex(backup), readonly=True) as db:
        assert tuple(db.execute("PRAGMA integrity_check").fetchone()) == ("ok",)


def test_index_only_backup_and_restore_fail_over_with_blobs_on_s3(rangsi_bin, garage, tmp_path):
    primary = Server(rangsi_bin, tmp_path / "primary")
    primary.s3_prefix = PREFIX
    primary.blob_env = {**primary.blob_env, **garage.rangsi_env(PREFIX)}  # + RANGSI_DATABASE
    primary.set_up_regional_archive()
    primary.start()
    token = primary.cli("token", "create", "--user", "alice").stdout.decode().strip()
    alice = dw.DicomWeb(primary.http_url, token=token, name="alice")

    before = [new_image(patient_id="DEPLOY1", pixels=noise_image(64, 64, seed=300 + i)) for i in range(3)]
    for ds in before:
        alice.stow_ok([part10(ds)])

    # `rangsi backup` while the server runs: index-only, because the blobs are in S3.
    backup = tmp_path / "backup"
    out = primary.cli("backup", "--to", str(backup)).stdout.decode()
    assert "index-only" in out, f"backup of an S3 archive should say it is index-only: {out}"
    assert "none copied" in out, out
    manifest = json.loads((backup / "rangsi-backup.json").read_text())
    assert manifest["blobs_included"] is False
    assert "s3://" in manifest["stores"] and PREFIX in manifest["stores"], manifest
    assert not (backup / "blobs").exists() or not any((backup / "blobs").rglob("*.dcm")), "no blob is copied"
    record = (backup / "blob-store.toml").read_text()
    assert PREFIX in record and garage.endpoint in record, record
    assert garage.secret_key not in record and garage.access_key not in record, "never credentials"
    check_snapshot(backup)

    after = [new_image(patient_id="DEPLOY2", pixels=noise_image(64, 64, seed=399 + i)) for i in range(2)]
    for ds in after:
        alice.stow_ok([part10(ds)])
    primary.stop()

    # A manifest saying the blobs are elsewhere, without the record of where: refused.
    broken = tmp_path / "broken-backup"
    shutil.copytree(backup, broken)
    (broken / "blob-store.toml").unlink()
    refused = restore(rangsi_bin, broken, tmp_path / "never", {**credentials_only(garage), **fresh_index()})
    err = refused.stdout.decode() + refused.stderr.decode()
    assert refused.returncode != 0 and "blob-store.toml" in err, f"{refused.returncode}: {err}"
    assert not (tmp_path / "never" / "index.sqlite").exists()

    # Fail-over: `rangsi restore` into a fresh data directory.
    index_env = fresh_index()
    standby = Server(rangsi_bin, tmp_path / "standby", database=index_env.get("RANGSI_DATABASE"))
    standby.s3_prefix = PREFIX
    standby.blob_env = {**credentials_only(garage), **index_env}
    restored = restore(rangsi_bin, backup, standby.data, standby.blob_env)
    report = restored.stdout.decode() + restored.stderr.decode()
    assert restored.returncode == 0 and "consistent" in report, f"restore of the index-only backup: {report}"
    assert "none copied" in report, report
    if index_env:
        # The same stores; the index is the database restored into (password left out).
        standby_record = (standby.data / "blob-store.toml").read_text()
        assert f'index = "{index_env["RANGSI_DATABASE"]}"' in standby_record, standby_record
        strip = lambda text: [line for line in text.splitlines() if not line.startswith("index =")]
        assert strip(standby_record) == strip(record), standby_record
    else:
        assert (standby.data / "blob-store.toml").read_text() == record
    assert not any((standby.data / "blobs").rglob("*.dcm")), "an index-only restore copies no blob"
    unreferenced = re.search(r"unreferenced blobs: (\d+)", report)
    assert unreferenced and int(unreferenced.group(1)) == len(after), (
        f"fsck should count the {len(after)} instances stored after the backup: {report}"
    )

    standby.start()
    try:
        alice = dw.DicomWeb(standby.http_url, token=token, name="alice")
        for ds in before:
            assert alice.instance_bytes(*uids(ds)) == part10(ds), "an instance of the snapshot differs"
        for ds in after:
            study, series, sop = uids(ds)
            assert alice.qido("/instances", {"SOPInstanceUID": sop}) == [], (
                "an instance acknowledged after the snapshot cannot be in the restored index"
            )
            alice.stow_ok([part10(ds)])  # sent again, as a gateway's cache would
            assert alice.instance_bytes(study, series, sop) == part10(ds)
        fsck = standby.cli("fsck", "--verify", check=False)
        out = fsck.stdout.decode() + fsck.stderr.decode()
        assert fsck.returncode == 0 and "unreferenced blobs" not in out, out
    finally:
        standby.stop()
