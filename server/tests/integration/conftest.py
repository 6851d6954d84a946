"""Shared fixtures: the `rangsi` binary, one regional archive server for the session
(two hospitals, alice and bob, modality AEs MODA/MODB, storescp destinations
DESTA/DESTB), authenticated DICOMweb users and the third-party tools the suite needs.

Run: `RANGSI_BIN=target/debug/rangsi RANGSI_SHARED=../shared python -m pytest -q server/tests/integration`
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dicomweb import DicomWeb  # noqa: E402
from dimse import Peer, StoreSCP, dcmtk_tool  # noqa: E402
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, Server, free_port  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
THIRD_PARTY_TOOLS = [
    "echoscu", "storescu", "findscu", "movescu", "getscu", "storescp", "dcmdump",
    "dcmcjpeg", "dcmcrle", "dcmcjpls",
]


@pytest.fixture(scope="session")
def rangsi_bin() -> Path:
    path = Path(os.environ.get("RANGSI_BIN", REPO_ROOT / "target" / "debug" / "rangsi"))
    assert path.is_file() and os.access(path, os.X_OK), (
        f"rangsi binary not found at {path}: build it and set RANGSI_BIN (cargo xtask test does both)"
    )
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = Path(os.environ.get("RANGSI_SHARED", REPO_ROOT.parent / "shared"))
    assert (path / "gen_ct_series.py").is_file(), f"gen_ct_series.py not found under RANGSI_SHARED={path}"
    return path


@pytest.fixture(scope="session", autouse=True)
def third_party_tools() -> None:
    for tool in THIRD_PARTY_TOOLS:
        dcmtk_tool(tool)  # fails with a clear message when dcmtk's tool is missing
    import libjpeg  # noqa: F401  pylibjpeg-libjpeg: JPEG / JPEG-LS oracle
    import openjpeg  # noqa: F401  pylibjpeg-openjpeg: JPEG 2000 oracle
    import PIL  # noqa: F401  rendered-image oracle (dicomweb-client depends on Pillow)
    import rle  # noqa: F401  pylibjpeg-rle


@pytest.fixture(scope="session")
def server(rangsi_bin, tmp_path_factory):
    """The regional archive used by most tests. C-MOVE destinations are registered while
    it runs, as an operator would."""
    srv = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi"))
    srv.set_up_regional_archive()
    srv.start()
    srv.create_tokens()
    srv.dest_ports = {"DESTA": free_port(), "DESTB": free_port()}
    srv.cli("ae", "add", "DESTA", "--hospital", HOSPITAL_UDON, "--host", "127.0.0.1", "--port", str(srv.dest_ports["DESTA"]))
    srv.cli("ae", "add", "DESTB", "--hospital", HOSPITAL_SAKON, "--host", "127.0.0.1", "--port", str(srv.dest_ports["DESTB"]))
    yield srv
    srv.stop()
    assert srv.proc.returncode is not None


@pytest.fixture(scope="session")
def peer(server) -> Peer:
    return Peer(server.dicom_host, server.dicom_port, server.ae_title)


@pytest.fixture(scope="session")
def alice(server) -> DicomWeb:
    return DicomWeb(server.http_url, token=server.tokens["alice"], name="alice")


@pytest.fixture(scope="session")
def bob(server) -> DicomWeb:
    return DicomWeb(server.http_url, token=server.tokens["bob"], name="bob")


@pytest.fixture(scope="session")
def admin(server) -> DicomWeb:
    return DicomWeb(server.http_url, token=server.tokens["admin"], name="admin")


@pytest.fixture(scope="session")
def anon(server) -> DicomWeb:
    return DicomWeb(server.http_url, name="anonymous")


def _storescp(server, ae: str, tmp_path_factory):
    scp = StoreSCP(ae, server.dest_ports[ae], tmp_path_factory.mktemp(ae.lower()), server.workdir / f"{ae}.log")
    scp.start()
    return scp


@pytest.fixture(scope="session")
def dest_a(server, tmp_path_factory):
    """storescp registered as DESTA (Udon Thani)."""
    scp = _storescp(server, "DESTA", tmp_path_factory)
    yield scp
    scp.stop()


@pytest.fixture(scope="session")
def dest_b(server, tmp_path_factory):
    """storescp registered as DESTB (Sakon Nakhon)."""
    scp = _storescp(server, "DESTB", tmp_path_factory)
    yield scp
    scp.stop()


@pytest.fixture(autouse=True)
def server_still_up(request):
    """After every test that used the shared server, it must still be running."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        assert srv.proc.poll() is None, f"rangsi serve died during {request.node.name}:\n{srv.log_tail()}"
