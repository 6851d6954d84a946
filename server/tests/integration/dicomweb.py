"""A thin DICOMweb client on `requests` for the tests: multipart/related encoding and
parsing, STOW-RS, QIDO-RS and WADO-RS calls, DICOM JSON accessors.

Deliberately written from PS3.18 rather than from the server's code, so it is a second,
independent reading of the standard next to `dicomweb-client`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import requests

DICOM_JSON = "application/dicom+json"
ACCEPT_DICOM_ANY_TS = 'multipart/related; type="application/dicom"; transfer-syntax=*'
ACCEPT_FRAMES_AS_STORED = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
ACCEPT_FRAMES_NATIVE = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1'
ACCEPT_FRAMES_DEFAULT = 'multipart/related; type="application/octet-stream"'

# DICOM JSON tags used by the tests (keywords in comments so the numbers can be checked)
SPECIFIC_CHARACTER_SET = "00080005"
SOP_CLASS_UID = "00080016"
SOP_INSTANCE_UID = "00080018"
STUDY_DATE = "00080020"
STUDY_TIME = "00080030"
ACCESSION_NUMBER = "00080050"
MODALITY = "00080060"
MODALITIES_IN_STUDY = "00080061"
INSTITUTION_NAME = "00080080"
REFERRING_PHYSICIAN_NAME = "00080090"
STUDY_DESCRIPTION = "00081030"
SERIES_DESCRIPTION = "0008103E"
RETRIEVE_URL = "00081190"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"
WARNING_REASON = "00081196"
PATIENT_NAME = "00100010"
PATIENT_ID = "00100020"
PATIENT_BIRTH_DATE = "00100030"
PATIENT_SEX = "00100040"
PATIENT_AGE = "00101010"
STUDY_INSTANCE_UID = "0020000D"
SERIES_INSTANCE_UID = "0020000E"
STUDY_ID = "00200010"
SERIES_NUMBER = "00200011"
INSTANCE_NUMBER = "00200013"
NUMBER_OF_STUDY_RELATED_SERIES = "00201206"
NUMBER_OF_STUDY_RELATED_INSTANCES = "00201208"
NUMBER_OF_SERIES_RELATED_INSTANCES = "00201209"
NUMBER_OF_FRAMES = "00280008"
ROWS = "00280010"
COLUMNS = "00280011"
BITS_ALLOCATED = "00280100"
IMAGE_TYPE = "00080008"
PIXEL_DATA = "7FE00010"


# ---------------------------------------------------------------------------
# multipart/related


def encode_multipart(parts: list[bytes], part_type: str = "application/dicom") -> tuple[bytes, str]:
    """Body and Content-Type header of a multipart/related message (PS3.18 8.6.1.2)."""
    boundary = "rangsi-it-" + uuid.uuid4().hex
    chunks = []
    for p in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode())
        chunks.append(p)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/related; type="{part_type}"; boundary={boundary}'


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Split a multipart/related response into parts (RFC 2046)."""
    assert content_type.lower().startswith("multipart/related"), (
        f"expected a multipart/related response, got Content-Type {content_type!r}"
    )
    m = re.search(r'boundary="?([^";]+)"?', content_type, re.I)
    assert m, f"no boundary in Content-Type {content_type!r}"
    delim = b"--" + m.group(1).encode()
    pieces = body.split(delim)
    assert len(pieces) >= 2 and pieces[-1].startswith(b"--"), (
        f"multipart body is not closed by {delim.decode()}-- (len {len(body)})"
    )
    parts = []
    for piece in pieces[1:-1]:
        assert piece.startswith(b"\r\n"), "boundary line not followed by CRLF"
        head, sep, content = piece[2:].partition(b"\r\n\r\n")
        assert sep, "multipart part without header/body separator"
        headers = {}
        for line in head.split(b"\r\n"):
            if line:
                k, _, v = line.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
        assert content.endswith(b"\r\n"), "part body not followed by CRLF before the boundary"
        parts.append(Part(headers, content[:-2]))
    return parts


# ---------------------------------------------------------------------------
# DICOM JSON


def values(obj: dict, tag: str) -> list:
    el = obj.get(tag)
    if el is None:
        return []
    return list(el.get("Value", []))


def value(obj: dict, tag: str):
    v = values(obj, tag)
    return v[0] if v else None


def person_name(obj: dict, tag: str = PATIENT_NAME) -> str | None:
    v = value(obj, tag)
    if v is None:
        return None
    return v.get("Alphabetic")


def uids(results: list[dict], tag: str) -> set[str]:
    return {value(r, tag) for r in results}


# ---------------------------------------------------------------------------
# Client


class DicomWeb:
    """One authenticated (or not) user of the server's HTTP API."""

    def __init__(self, root_url: str, *, token: str | None = None, auth=None, name: str = "anon"):
        self.root_url = root_url.rstrip("/")
        self.base = self.root_url + "/dicomweb"
        self.name = name
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        if auth:
            self.http.auth = auth

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 120)
        return self.http.get(self.url(path), **kw)

    def post(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 120)
        return self.http.post(self.url(path), **kw)

    # -- QIDO-RS
    def qido_response(self, path: str, params: dict | str | None = None) -> requests.Response:
        if isinstance(params, dict):
            params = "&".join(f"{k}={quote(str(v), safe=',*?')}" for k, v in params.items())
        url = self.url(path) + (f"?{params}" if params else "")
        return self.http.get(url, headers={"Accept": DICOM_JSON}, timeout=120)

    def qido(self, path: str, params: dict | str | None = None) -> list[dict]:
        """Results of a QIDO-RS query; 204 and an empty array both mean no match."""
        r = self.qido_response(path, params)
        if r.status_code == 204:
            return []
        assert r.status_code == 200, f"{self.name}: GET {r.url} -> {r.status_code} {r.text[:500]}"
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith(DICOM_JSON), f"GET {r.url}: Content-Type {ctype!r}, want {DICOM_JSON}"
        body = r.json()
        assert isinstance(body, list), f"GET {r.url}: QIDO body is not a JSON array: {r.text[:300]}"
        return body

    # -- STOW-RS
    def stow(self, files: list[bytes], study_uid: str | None = None) -> requests.Response:
        body, ctype = encode_multipart(files)
        path = "/studies" + (f"/{study_uid}" if study_uid else "")
        return self.post(path, data=body, headers={"Content-Type": ctype, "Accept": DICOM_JSON})

    def stow_ok(self, files: list[bytes], study_uid: str | None = None) -> dict:
        r = self.stow(files, study_uid)
        assert r.status_code == 200, f"{self.name}: STOW of {len(files)} instance(s) -> {r.status_code} {r.text[:800]}"
        return r.json()

    # -- WADO-RS
    def retrieve(self, path: str, accept: str = ACCEPT_DICOM_ANY_TS, **kw) -> list[Part]:
        r = self.get(path, headers={"Accept": accept}, **kw)
        assert r.status_code == 200, f"{self.name}: GET {r.url} (Accept {accept}) -> {r.status_code} {r.text[:500]}"
        return parse_multipart(r.headers.get("Content-Type", ""), r.content)

    def instance_bytes(self, study: str, series: str, sop: str) -> bytes:
        parts = self.retrieve(f"/studies/{study}/series/{series}/instances/{sop}")
        assert len(parts) == 1, f"instance retrieve gave {len(parts)} parts"
        return parts[0].body
