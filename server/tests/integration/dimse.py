"""DIMSE peers for the tests: dcmtk command-line tools (storescu, findscu, movescu,
getscu, echoscu, storescp) and pynetdicom as a second, independent implementation.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

# storescu option proposing a file's own (compressed) transfer syntax, so the server
# receives exactly the bytes in the file
STORESCU_TS_OPTION = {
    "1.2.840.10008.1.2.1": [],
    "1.2.840.10008.1.2": [],
    "1.2.840.10008.1.2.5": ["-xr"],
    "1.2.840.10008.1.2.4.90": ["-xv"],
    "1.2.840.10008.1.2.4.70": ["-xs"],
    "1.2.840.10008.1.2.4.50": ["-xy"],
    "1.2.840.10008.1.2.4.80": ["-xt"],
}

DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


@functools.cache
def dcmtk_tool(name: str) -> str:
    """Path of dcmtk's `name`. pynetdicom installs apps with the same names (storescu,
    findscu, ...) into the venv's bin, so PATH order alone cannot be trusted: take the
    first `name` on PATH (then /usr/bin) whose --version says dcmtk."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/usr/local/bin"]
    for d in dirs:
        path = os.path.join(d, name)
        if d and os.path.isfile(path) and os.access(path, os.X_OK):
            out = subprocess.run([path, "--version"], capture_output=True, timeout=30)
            if b"dcmtk" in (out.stdout + out.stderr).lower():
                return path
    raise AssertionError(f"dcmtk's {name} not found on PATH or in /usr/bin (apt-get install dcmtk)")


@dataclass
class ToolResult:
    returncode: int
    output: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.output[-4000:]}"


def run_dcmtk(args: list[str], timeout: float = 180, cwd: str | None = None) -> ToolResult:
    proc = subprocess.run(
        [dcmtk_tool(str(args[0])), *map(str, args[1:])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=timeout, env=DCMTK_ENV, cwd=cwd,
    )
    return ToolResult(proc.returncode, proc.stdout.decode("utf-8", errors="replace"))


@dataclass
class Peer:
    """The server's DICOM address as a calling AE sees it."""

    host: str
    port: int
    called_ae: str = "RANGSI"


def echoscu(peer: Peer, aet: str) -> ToolResult:
    return run_dcmtk(["echoscu", "-v", "-aet", aet, "-aec", peer.called_ae, peer.host, peer.port], timeout=60)


@dataclass
class StoreOutcome:
    """What storescu reported, file by file."""

    ok: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)


def parse_storescu_log(output: str) -> tuple[list[str], list[str]]:
    """(files acknowledged with Success, files with any other outcome) from `storescu -v`."""
    ok, other = [], []
    current = None
    for line in output.splitlines():
        m = re.search(r"Sending file: (.+)$", line)
        if m:
            if current is not None:
                other.append(current)
            current = m.group(1).strip()
            continue
        if current is not None and "Received Store Response" in line:
            (ok if "(Success)" in line else other).append(current)
            current = None
    if current is not None:
        other.append(current)
    return ok, other


def storescu(peer: Peer, aet: str, files: list[Path], extra: list[str] | None = None) -> StoreOutcome:
    """Send `files` with dcmtk storescu, one association per transfer syntax, proposing
    each file's own transfer syntax."""
    by_ts: dict[str, list[Path]] = defaultdict(list)
    for f in files:
        ts = str(pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        by_ts[ts].append(Path(f))
    outcome = StoreOutcome()
    for ts, group in by_ts.items():
        res = run_dcmtk(
            ["storescu", "-v", "-nh", "-R", *STORESCU_TS_OPTION[ts], *(extra or []),
             "-aet", aet, "-aec", peer.called_ae, peer.host, peer.port, *group]
        )
        outcome.results.append(res)
        ok, other = parse_storescu_log(res.output)
        outcome.ok += [Path(p) for p in ok]
        outcome.failed += [Path(p) for p in other]
        unreported = set(map(str, group)) - set(ok) - set(other)
        outcome.failed += [Path(p) for p in sorted(unreported)]
    return outcome


def findscu(peer: Peer, aet: str, model: str, keys: list[str]) -> tuple[ToolResult, list[Dataset]]:
    """C-FIND with dcmtk findscu (`model` is "-P" or "-S"); returns the response
    identifiers as extracted by `findscu -X`, read back with pydicom."""
    with tempfile.TemporaryDirectory(prefix="findscu-") as out:
        args = ["findscu", "-v", model, "-aet", aet, "-aec", peer.called_ae, "-X", "-od", out]
        for k in keys:
            args += ["-k", k]
        res = run_dcmtk([*args, peer.host, peer.port])
        found = [pydicom.dcmread(p, force=True) for p in sorted(Path(out).glob("rsp*.dcm"))]
    return res, found


def movescu(peer: Peer, aet: str, dest_ae: str, model: str, keys: list[str]) -> ToolResult:
    args = ["movescu", "-v", model, "-aet", aet, "-aec", peer.called_ae, "-aem", dest_ae]
    for k in keys:
        args += ["-k", k]
    return run_dcmtk([*args, peer.host, peer.port])


def getscu(peer: Peer, aet: str, model: str, keys: list[str], out_dir: Path) -> ToolResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    args = ["getscu", "-v", model, "-aet", aet, "-aec", peer.called_ae, "-od", out_dir]
    for k in keys:
        args += ["-k", k]
    return run_dcmtk([*args, peer.host, peer.port])


class StoreSCP:
    """dcmtk storescp as a C-MOVE destination, accepting every transfer syntax."""

    def __init__(self, ae_title: str, port: int, out_dir: Path, log_path: Path):
        self.ae_title = ae_title
        self.port = port
        self.out_dir = out_dir
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [dcmtk_tool("storescp"), "-v", "+xa", "-aet", self.ae_title, "-od", str(self.out_dir), str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env=DCMTK_ENV,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            assert self.proc.poll() is None, f"storescp exited early: {self.log_path.read_text(errors='replace')}"
            if echoscu(Peer("127.0.0.1", self.port, self.ae_title), "PROBE").returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"storescp on port {self.port} did not answer C-ECHO in 15 s")

    def received(self) -> dict[str, Path]:
        """SOP Instance UID -> received file."""
        out = {}
        for p in self.out_dir.iterdir():
            if p.is_file():
                ds = pydicom.dcmread(p, stop_before_pixels=True, force=True)
                out[str(ds.SOPInstanceUID)] = p
        return out

    def clear(self) -> None:
        for p in self.out_dir.iterdir():
            if p.is_file():
                p.unlink()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------------------
# pynetdicom


def pynetdicom_ae(aet: str):
    from pynetdicom import AE

    ae = AE(ae_title=aet)
    ae.acse_timeout = 30
    ae.dimse_timeout = 60
    ae.network_timeout = 60
    return ae


def pynetdicom_find(peer: Peer, aet: str, query: Dataset, model: str = "study") -> tuple[list[Dataset], int]:
    """C-FIND with pynetdicom: (identifiers of the pending responses, final status)."""
    from pynetdicom.sop_class import (
        PatientRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelFind,
    )

    sop = {"study": StudyRootQueryRetrieveInformationModelFind,
           "patient": PatientRootQueryRetrieveInformationModelFind}[model]
    ae = pynetdicom_ae(aet)
    ae.add_requested_context(sop)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae)
    assert assoc.is_established, f"pynetdicom: association as {aet} not established"
    found, final = [], None
    try:
        for status, ident in assoc.send_c_find(query, sop):
            assert status is not None and "Status" in status, "C-FIND: no response (timeout or abort)"
            if status.Status in (0xFF00, 0xFF01):
                found.append(ident)
            else:
                final = int(status.Status)
    finally:
        assoc.release()
    return found, final


def storage_contexts_for_get(ae, sop_classes: list[str]):
    """Request storage contexts with the SCP role for C-GET; returns role items."""
    from pynetdicom import build_role

    roles = []
    for uid in sop_classes:
        ae.add_requested_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
        roles.append(build_role(uid, scp_role=True))
    return roles


def pynetdicom_get(peer: Peer, aet: str, query: Dataset, sop_classes: list[str]) -> tuple[dict[str, Dataset], int | None]:
    """C-GET with pynetdicom in the Study Root model: (SOP UID -> dataset received, final status)."""
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

    received: dict[str, Dataset] = {}

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        received[str(ds.SOPInstanceUID)] = ds
        return 0x0000

    ae = pynetdicom_ae(aet)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    roles = storage_contexts_for_get(ae, sop_classes)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae, ext_neg=roles,
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert assoc.is_established, f"pynetdicom: association as {aet} not established"
    final = None
    try:
        for status, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
            assert status is not None and "Status" in status, "C-GET: no response (timeout or abort)"
            if status.Status != 0xFF00:
                final = int(status.Status)
    finally:
        assoc.release()
    return received, final


def pynetdicom_move(peer: Peer, aet: str, dest_ae: str, query: Dataset) -> tuple[int | None, Dataset | None]:
    """C-MOVE with pynetdicom in the Study Root model: (final status, final response)."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove

    ae = pynetdicom_ae(aet)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae)
    assert assoc.is_established, f"pynetdicom: association as {aet} not established"
    final, final_rsp = None, None
    try:
        for status, _ in assoc.send_c_move(query, dest_ae, StudyRootQueryRetrieveInformationModelMove):
            assert status is not None and "Status" in status, "C-MOVE: no response (timeout or abort)"
            if status.Status != 0xFF00:
                final, final_rsp = int(status.Status), status
    finally:
        assoc.release()
    return final, final_rsp


def pynetdicom_store(peer: Peer, aet: str, items: list, contexts: list[tuple[str, str]], raw_files: bool = False):
    """C-STORE each item (Dataset, or file path sent byte for byte when `raw_files`) on
    one association; returns [(item, status dataset or None)]."""
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = raw_files
    ae = pynetdicom_ae(aet)
    for sop_class, ts in contexts:
        ae.add_requested_context(sop_class, ts)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae)
    assert assoc.is_established, f"pynetdicom: association as {aet} not established"
    out = []
    try:
        for item in items:
            if not assoc.is_established:
                out.append((item, None))
                continue
            out.append((item, assoc.send_c_store(item)))
    finally:
        if assoc.is_established:
            assoc.release()
        _config.STORE_SEND_CHUNKED_DATASET = False
    return out
