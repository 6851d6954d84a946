"""WADO-URI (PS3.18 chapter 9), still used by many viewers, and CORS for viewers served
from another origin (e.g. OHIF)."""

import io

import requests
from PIL import Image

from dicom_factory import new_image, noise_image, save
from rangsi_server import Server


def test_wado_uri_dicom_and_jpeg(server, alice, bob, tmp_path):
    ds = new_image(patient_id="WADO-URI", pixels=noise_image(40, 30, seed=3))
    raw = save(ds, tmp_path / "w.dcm").read_bytes()
    alice.stow_ok([raw])
    q = f"requestType=WADO&studyUID={ds.StudyInstanceUID}&seriesUID={ds.SeriesInstanceUID}&objectUID={ds.SOPInstanceUID}"
    r = alice.get(f"/wado?{q}&contentType=application%2Fdicom")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/dicom"
    assert r.content == raw, "WADO-URI application/dicom must return the stored bytes"
    r = alice.get(f"/wado?{q}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (30, 40)
    r = alice.get(f"/wado?{q}&contentType=image%2Fpng&rows=20")
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "PNG" and img.size == (15, 20)
    assert bob.get(f"/wado?{q}").status_code == 404, "WADO-URI must respect tenancy"
    assert requests.get(f"{server.http_url}/dicomweb/wado?{q}", timeout=30).status_code == 401
    assert alice.get(f"/wado?requestType=WADO&studyUID={ds.StudyInstanceUID}").status_code == 400


def test_cors_only_for_configured_origins(rangsi_bin, tmp_path):
    srv = Server(rangsi_bin, tmp_path, extra_args=["--cors-origin", "http://viewer.example:3000"])
    srv.set_up_regional_archive()
    srv.start()
    try:
        url = srv.http_url + "/dicomweb/studies"
        pre = requests.options(url, timeout=30, headers={
            "Origin": "http://viewer.example:3000", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert pre.headers.get("Access-Control-Allow-Origin") == "http://viewer.example:3000", pre.headers
        other = requests.options(url, timeout=30, headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
        assert "Access-Control-Allow-Origin" not in other.headers
        # CORS does not replace authentication
        assert requests.get(url, headers={"Origin": "http://viewer.example:3000"}, timeout=30).status_code == 401
    finally:
        srv.stop()
