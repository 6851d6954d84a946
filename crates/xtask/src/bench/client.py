"""HTTP and DICOM client side of `cargo xtask bench server`.

Third-party code (requests, pydicom) so that rangsi and Orthanc meet the very same
client. Each command prints one line of space-separated key=value pairs on stdout;
errors go to stderr with a non-zero exit. The Authorization header, if any, comes
from the environment variable RANGSI_BENCH_AUTH.

  client.py sops DIR                 -> one "STUDY SERIES SOP" line per *.dcm (sorted)
  client.py stow URL DIR BATCH       -> instances= seconds= failed= statuses=
  client.py get URL RUNS BUDGET_S [ACCEPT]
                                     -> p50_ms= p99_ms= first_ms= runs= status= count= bytes= content_type=
     (RUNS requests, fewer when BUDGET_S seconds have passed, but at least 3 unless RUNS < 3)
  client.py frame URL ACCEPT FILE    -> bytes= expected= match= content_type= part_type=
     (fetches one multipart frame response and compares its first part with FILE's
      first frame as pydicom decodes it: pixel-exact for lossless syntaxes)
"""
import glob
import os
import re
import statistics
import sys
import time
import uuid

import pydicom
import requests


def auth_headers():
    auth = os.environ.get("RANGSI_BENCH_AUTH")
    return {"Authorization": auth} if auth else {}


def dicom_files(folder):
    return sorted(glob.glob(os.path.join(folder, "*.dcm")))


def cmd_sops(folder):
    for path in dicom_files(folder):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        print(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)


def cmd_stow(url, folder, batch):
    files = dicom_files(folder)
    # Bodies are built before the clock starts: only the transfer and the server's work count.
    bodies = []
    for i in range(0, len(files), batch):
        boundary = uuid.uuid4().hex
        parts = []
        for path in files[i:i + batch]:
            with open(path, "rb") as f:
                parts.append(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                             + f.read() + b"\r\n")
        parts.append(b"--" + boundary.encode() + b"--\r\n")
        bodies.append((boundary, len(files[i:i + batch]), b"".join(parts)))
    session = requests.Session()
    failed, statuses = 0, set()
    started = time.perf_counter()
    for boundary, n, body in bodies:
        headers = auth_headers()
        headers["Content-Type"] = f'multipart/related; type="application/dicom"; boundary={boundary}'
        headers["Accept"] = "application/dicom+json"
        r = session.post(url, data=body, headers=headers, timeout=300)
        statuses.add(r.status_code)
        if r.status_code != 200:
            failed += n
            if r.status_code >= 400:
                sys.stderr.write(f"STOW batch -> {r.status_code}: {r.text[:300]}\n")
    seconds = time.perf_counter() - started
    print(f"instances={len(files)} seconds={seconds:.4f} failed={failed} "
          f"statuses={','.join(map(str, sorted(statuses)))}")


def cmd_get(url, runs, budget, accept=None):
    session = requests.Session()
    headers = auth_headers()
    if accept:
        headers["Accept"] = accept
    times, r = [], None
    begun = time.perf_counter()
    for i in range(runs):
        if i >= 3 and time.perf_counter() - begun > budget:
            break
        started = time.perf_counter()
        r = session.get(url, headers=headers, timeout=120)
        body = r.content
        times.append((time.perf_counter() - started) * 1000.0)
        if r.status_code not in (200, 204):
            sys.exit(f"GET {url} -> {r.status_code}: {r.text[:300]}")
    count = 0
    ctype = r.headers.get("Content-Type", "")
    if r.status_code == 200 and "json" in ctype:
        count = len(r.json())
    times_sorted = sorted(times)
    p99 = times_sorted[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(f"p50_ms={statistics.median(times):.3f} p99_ms={p99:.3f} first_ms={times[0]:.3f} "
          f"runs={len(times)} status={r.status_code} count={count} bytes={len(body)} content_type={ctype.replace(' ', '')}")


def first_part(body, content_type):
    """Headers (text) and body of the first part of a multipart body."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        sys.exit(f"no boundary in Content-Type {content_type!r}")
    delim = b"--" + m.group(1).encode()
    start = body.index(delim) + len(delim)
    head_end = body.index(b"\r\n\r\n", start) + 4
    end = body.index(b"\r\n" + delim, head_end)
    return body[start:head_end].decode("latin-1"), body[head_end:end]


def cmd_frame(url, accept, path):
    headers = auth_headers()
    headers["Accept"] = accept
    r = requests.get(url, headers=headers, timeout=120)
    if r.status_code != 200:
        sys.exit(f"GET {url} -> {r.status_code}: {r.text[:300]}")
    ctype = r.headers.get("Content-Type", "")
    head, part = first_part(r.content, ctype)
    m = re.search(r"(?im)^content-type:\s*(.*?)\s*$", head)
    part_type = m.group(1) if m else ""
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if getattr(ds, "NumberOfFrames", 1) > 1:
        pixels = pixels[0]
    dtype = pixels.dtype.newbyteorder("<")
    expected = pixels.astype(dtype).tobytes()
    match = 1 if part == expected else 0
    print(f"bytes={len(part)} expected={len(expected)} match={match} "
          f"content_type={ctype.replace(' ', '')} part_type={part_type.replace(' ', '')}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "sops":
        cmd_sops(args[0])
    elif cmd == "stow":
        cmd_stow(args[0], args[1], int(args[2]))
    elif cmd == "get":
        cmd_get(args[0], int(args[1]), float(args[2]), args[3] if len(args) > 3 else None)
    elif cmd == "frame":
        cmd_frame(args[0], args[1], args[2])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
