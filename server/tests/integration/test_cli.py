"""The command line and operations: `rangsi import` of folders, DICOMDIR media and zip
files; configuration from a TOML file and RANGSI_* variables; token expiry; the
association limit; and the audit log (read with Python's own sqlite3 or pg8000, not the server)."""

import os
import shutil
import socket
import subprocess
import time
import zipfile

import pytest
import requests

import dicomweb as dw
from dicom_factory import new_image, noise_image, read, save
from rangsi_server import HOSPITAL_UDON, PASSWORDS, Server, index_db


@pytest.fixture(scope="module")
def fresh(rangsi_bin, tmp_path_factory):
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("cli"))
    srv.set_up_regional_archive()
    yield srv
    srv.stop()


def images(patient_id: str, n: int, seed: int):
    study = None
    out = []
    for i in range(n):
        ds = new_image(patient_id=patient_id, study_uid=study, instance_number=i + 1,
                       pixels=noise_image(16, 16, seed=seed + i))
        study = str(ds.StudyInstanceUID)
        out.append(ds)
    return out


def studies_of(srv: Server, patient_id: str) -> list[dict]:
    client = dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
    return client.qido("/studies", {"PatientID": patient_id})


def test_import_folder_zip_and_dicomdir(fresh, tmp_path):
    # a folder with a non-DICOM file beside the instances
    folder = tmp_path / "folder"
    for i, ds in enumerate(images("IMP-FOLDER", 3, 1)):
        save(ds, folder / f"IM{i}")
    (folder / "README.TXT").write_text("not DICOM")
    # a zip file
    zpath = tmp_path / "study.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for i, ds in enumerate(images("IMP-ZIP", 2, 10)):
            p = save(ds, tmp_path / "zipsrc" / f"IM{i}.dcm")
            z.write(p, f"DICOM/IM{i}.dcm")
    # a patient's CD: DICOMDIR made by dcmtk's dcmmkdir over 8.3 file names
    cd = tmp_path / "cd"
    (cd / "DICOM").mkdir(parents=True)
    for i, ds in enumerate(images("IMP-CD", 2, 20)):
        save(ds, cd / "DICOM" / f"IM{i}")
    subprocess.run(["dcmmkdir", "+r", "+I", "+id", str(cd), "--output-file", str(cd / "DICOMDIR"), "DICOM"],
                   check=True, capture_output=True, cwd=cd)
    assert (cd / "DICOMDIR").exists()

    out = fresh.cli("import", "--hospital", HOSPITAL_UDON, str(folder), str(zpath), str(cd / "DICOMDIR")).stdout.decode()
    assert "imported 7, duplicates 0, conflicts 0, failed 0" in out, out
    # importing again is idempotent
    out = fresh.cli("import", "--hospital", HOSPITAL_UDON, str(folder)).stdout.decode()
    assert "imported 0, duplicates 3" in out, out

    fresh.start()
    fresh.create_tokens()
    try:
        for pid, n in (("IMP-FOLDER", 3), ("IMP-ZIP", 2), ("IMP-CD", 2)):
            (study,) = studies_of(fresh, pid)
            assert dw.value(study, dw.NUMBER_OF_STUDY_RELATED_INSTANCES) == n, pid
    finally:
        fresh.stop()


def test_import_of_unknown_hospital_fails_clearly(fresh, tmp_path):
    p = save(images("IMP-X", 1, 30)[0], tmp_path / "x.dcm")
    r = fresh.cli("import", "--hospital", "99999", str(p), check=False)
    assert r.returncode != 0 and b"99999" in r.stderr


def test_toml_config_and_env(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path)
    srv.set_up_regional_archive()
    http_port, dicom_port = free_port(), free_port()
    cfg = tmp_path / "rangsi.toml"
    text = f'http = "127.0.0.1:{http_port}"\nae_title = "REGION8"\ndicom = "127.0.0.1:{dicom_port}"\n'
    # The index on PostgreSQL (RANGSI_TEST_DB=postgres): named by the file too.
    if srv.database:
        text += f'database = "{srv.database}"\n'
    cfg.write_text(text)
    stores = {k: v for k, v in srv.blob_env.items() if k != "RANGSI_DATABASE"}  # blobs on S3: RANGSI_TEST_BLOBS
    env = {**os.environ, **stores, "RANGSI_CONFIG": str(cfg), "RANGSI_DATA": str(srv.data),
           "RANGSI_ADMIN_PASSWORD": "x" * 12}
    proc = subprocess.Popen([str(rangsi_bin), "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        lines = [proc.stdout.readline().decode() for _ in range(2)]
        assert f"http://127.0.0.1:{http_port}" in lines[0], lines
        assert f"127.0.0.1:{dicom_port} as AE REGION8" in lines[1], lines
        echo = subprocess.run(["echoscu", "-aet", "MODA", "-aec", "REGION8", "127.0.0.1", str(dicom_port)],
                              capture_output=True, env={**os.environ, "TCP_NODELAY": "1"})
        assert echo.returncode == 0, echo.stderr
    finally:
        proc.terminate()
        proc.wait(15)
    # a flag beats the file
    proc = subprocess.Popen([str(rangsi_bin), "serve", "--ae-title", "FLAGAE", "--dicom", "127.0.0.1:0", "--http", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        lines = [proc.stdout.readline().decode() for _ in range(2)]
        assert "as AE FLAGAE" in lines[1], lines
    finally:
        proc.terminate()
        proc.wait(15)
    # an unknown key in the file is an error, not silently ignored
    cfg.write_text('htp = "127.0.0.1:1"\n')
    r = subprocess.run([str(rangsi_bin), "serve"], capture_output=True, env=env, timeout=30)
    assert r.returncode != 0 and b"htp" in r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_expired_token_is_refused(server):
    token = server.cli("token", "create", "--user", "alice", "--expires", "0").stdout.decode().strip()
    r = requests.get(server.http_url + "/dicomweb/studies", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 401, f"expired token -> {r.status_code}"
    token = server.cli("token", "create", "--user", "alice", "--expires", "30").stdout.decode().strip()
    r = requests.get(server.http_url + "/dicomweb/studies", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200


def test_association_limit(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path, extra_args=["--max-associations", "1"])
    srv.set_up_regional_archive()
    srv.start()
    try:
        # Hold one association open (raw A-ASSOCIATE-RQ via pynetdicom), then try another.
        from pynetdicom import AE
        ae = AE(ae_title="MODA")
        ae.add_requested_context("1.2.840.10008.1.1")
        first = ae.associate(srv.dicom_host, srv.dicom_port, ae_title=srv.ae_title)
        assert first.is_established
        second = AE(ae_title="MODA")
        second.add_requested_context("1.2.840.10008.1.1")
        other = second.associate(srv.dicom_host, srv.dicom_port, ae_title=srv.ae_title)
        assert not other.is_established, "a second association beyond --max-associations 1 was accepted"
        first.release()
        time.sleep(0.3)
        third = second.associate(srv.dicom_host, srv.dicom_port, ae_title=srv.ae_title)
        assert third.is_established, "the slot is not freed after release"
        third.release()
        assert srv.healthy()
    finally:
        srv.stop()


def audit_rows(srv: Server, where: str, args=()) -> list[tuple]:
    with index_db(srv, readonly=True) as con:
        return [tuple(r) for r in con.execute(
            f"SELECT actor, protocol, action, study_uid, outcome FROM audit_log WHERE {where}", args).fetchall()]


def test_every_access_is_audited_and_the_log_is_append_only(server, alice, bob, tmp_path):
    ds = images("AUDIT-1", 1, 40)[0]
    study = str(ds.StudyInstanceUID)
    alice.stow_ok([save(ds, tmp_path / "a.dcm").read_bytes()])
    alice.qido("/studies", {"PatientID": "AUDIT-1"})
    r = alice.get(f"/studies/{study}/metadata")
    assert r.status_code == 200
    r = bob.get(f"/studies/{study}/metadata")
    assert r.status_code == 404
    deadline = time.time() + 5
    while time.time() < deadline:
        rows = audit_rows(server, "study_uid = ? OR detail LIKE ?", (study, "%AUDIT-1%"))
        if len([r for r in rows if r[0] == "bob"]) >= 1 and any(r[2] == "metadata" and r[0] == "alice" for r in rows):
            break
        time.sleep(0.1)
    actions = {(a, p, act, o) for a, p, act, _, o in rows}
    assert ("alice", "dicomweb", "store", "ok") in actions, rows
    assert ("alice", "dicomweb", "query", "ok") in actions, rows
    assert ("alice", "dicomweb", "metadata", "ok") in actions, rows
    assert ("bob", "dicomweb", "metadata", "not-found") in actions, rows
    with index_db(server) as con:
        with pytest.raises(con.errors, match="append-only"):
            con.execute("UPDATE audit_log SET actor = 'mallory'")
        con.rollback()
        with pytest.raises(con.errors, match="append-only"):
            con.execute("DELETE FROM audit_log")
        con.rollback()


def test_dimse_access_is_audited(server, peer):
    subprocess.run(["findscu", "-aet", "MODA", "-aec", peer.called_ae, "-S", "-k", "QueryRetrieveLevel=STUDY",
                    "-k", "PatientID=AUDIT-NOBODY", peer.host, str(peer.port)], check=True, capture_output=True,
                   env={**os.environ, "TCP_NODELAY": "1"})
    deadline = time.time() + 5
    rows = []
    while time.time() < deadline and not rows:
        rows = audit_rows(server, "actor = 'AE:MODA' AND protocol = 'dimse' AND action = 'query' AND outcome = 'ok'")
        time.sleep(0.1)
    assert rows, "C-FIND by MODA left no audit record"


def test_dicom_open_maps_unknown_aes_to_one_hospital(rangsi_bin, tmp_path):
    """Lab setting: with --dicom-open CODE an unregistered calling AE may store, and its
    studies belong to hospital CODE; without it the same AE is rejected."""
    srv = Server(rangsi_bin, tmp_path, extra_args=["--dicom-open", HOSPITAL_UDON])
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    try:
        p = save(images("OPEN-LAB", 1, 50)[0], tmp_path / "lab.dcm")
        r = subprocess.run(["storescu", "-aet", "LABSCANNER", "-aec", srv.ae_title, srv.dicom_host, str(srv.dicom_port), str(p)],
                           capture_output=True, env={**os.environ, "TCP_NODELAY": "1"})
        assert r.returncode == 0, r.stderr.decode()
        (study,) = studies_of(srv, "OPEN-LAB")  # alice is of hospital 10670
        bob = dw.DicomWeb(srv.http_url, token=srv.tokens["bob"], name="bob")
        assert bob.qido("/studies", {"PatientID": "OPEN-LAB"}) == []
    finally:
        srv.stop()
    srv.extra_args = []
    srv.start()
    try:
        r = subprocess.run(["echoscu", "-aet", "LABSCANNER", "-aec", srv.ae_title, srv.dicom_host, str(srv.dicom_port)],
                           capture_output=True, env={**os.environ, "TCP_NODELAY": "1"})
        assert r.returncode != 0, "an unregistered AE was accepted without --dicom-open"
    finally:
        srv.stop()


def test_grant_extends_a_hospitals_view_until_revoked(server, alice, bob, tmp_path):
    """Referrals and consults (later issues) give another hospital access by a row in
    `grants`; the tenancy filter already honours it. Written here directly in the index (sqlite3 or pg8000)."""
    ds = images("GRANT-1", 1, 60)[0]
    study = str(ds.StudyInstanceUID)
    alice.stow_ok([save(ds, tmp_path / "g.dcm").read_bytes()])
    assert bob.qido("/studies", {"PatientID": "GRANT-1"}) == []
    con = index_db(server)
    try:
        (study_ref,) = con.execute("SELECT id FROM studies WHERE study_uid = ?", (study,)).fetchone()
        (sakon,) = con.execute("SELECT id FROM hospitals WHERE code = '10671'").fetchone()
        con.execute("INSERT INTO grants (grantee_hospital, study_ref, reason, created_at) VALUES (?, ?, 'test', '2026-01-01T00:00:00Z')",
                    (sakon, study_ref))
        con.commit()
        assert [dw.value(s, dw.STUDY_INSTANCE_UID) for s in bob.qido("/studies", {"PatientID": "GRANT-1"})] == [study]
        assert bob.get(f"/studies/{study}/metadata").status_code == 200
        con.execute("UPDATE grants SET revoked_at = '2026-01-02T00:00:00Z' WHERE study_ref = ?", (study_ref,))
        con.commit()
        assert bob.qido("/studies", {"PatientID": "GRANT-1"}) == []
        assert bob.get(f"/studies/{study}/metadata").status_code == 404
        con.execute("UPDATE grants SET revoked_at = NULL, expires_at = '2000-01-01T00:00:00Z' WHERE study_ref = ?", (study_ref,))
        con.commit()
        assert bob.qido("/studies", {"PatientID": "GRANT-1"}) == [], "an expired grant still gives access"
    finally:
        con.close()
