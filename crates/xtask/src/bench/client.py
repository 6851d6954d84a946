"""HTTP and DICOM client side of `cargo xtask bench server`.

Third-party code (requests, pydicom) so that rangsi and Orthanc meet the very same
client. Each command prints one line of space-separated key=value pairs on stdout;
errors go to stderr with a non-zero exit. The Authorization header, if any, comes
from the environment variable RANGSI_BENCH_AUTH.

  client.py sops DIR                 -> one "STUDY SERIES SOP" line per *.dcm (sorted)
  client.py stow URL DIR BATCH       -> instances= seconds= failed= statuses=
  client.py get URL RUNS [ACCEPT]    -> p50_ms= p99_ms= first_ms= status= count= bytes= content_type=
"""
import glob
import os
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


def cmd_get(url, runs, accept=None):
    session = requests.Session()
    headers = auth_headers()
    if accept:
        headers["Accept"] = accept
    times, r = [], None
    for _ in range(runs):
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
          f"status={r.status_code} count={count} bytes={len(body)} content_type={ctype.replace(' ', '')}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "sops":
        cmd_sops(args[0])
    elif cmd == "stow":
        cmd_stow(args[0], args[1], int(args[2]))
    elif cmd == "get":
        cmd_get(args[0], int(args[1]), args[2] if len(args) > 2 else None)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
