"""The local read cache in front of blobs on S3 (`serve --blob-cache DIR --blob-cache-gb
N`), against a real Garage started here (garage.py), and `rangsi fsck` listing the
bucket instead of asking for each object.

- frames read once fill the cache with the whole objects, byte for byte (checked against
  what was sent); later frame reads are served from it even when the objects are gone
  from the bucket behind rangsi's back (so range reads hit the cache);
- the budget holds: with a small `--blob-cache-gb` the files in the cache never sum to
  more, the least recently read go first; the flag is recorded in blob-store.toml and a
  later flag overrides it;
- kill -9 and a leftover temporary file: the next start removes it and keeps the
  complete entries;
- a tier move in `serve` (`--tier-after-days`) deletes the hot objects and with them
  their cache entries;
- `rangsi fsck` on S3 makes one listing request (counted by a proxy in front of Garage),
  no HEAD per object, and still finds a deleted and a resized object.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import frames_as_stored, new_image, noise_image, read
from garage import Garage
from rangsi_server import Server, index_db

PREFIX = "cached"
OLD = "2020-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def garage(tmp_path_factory):
    g = Garage(tmp_path_factory.mktemp("garage-cache"))
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def srv(rangsi_bin, garage, tmp_path_factory):
    s = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-cache"))
    s.s3_prefix = PREFIX
    s.blob_env = {k: v for k, v in s.blob_env.items() if k == "RANGSI_DATABASE"}
    s.blob_env.update({**garage.rangsi_env(PREFIX), "RANGSI_COLD_BLOBS": "s3://rangsi/cached-cold"})
    s.set_up_regional_archive()
    s.extra_args = ["--blob-cache-gb", "1"]
    s.start()
    s.tokens["alice"] = s.cli("token", "create", "--user", "alice").stdout.decode().strip()
    yield s
    s.stop()


def alice_of(srv: Server) -> dw.DicomWeb:
    return dw.DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")


def cache_dir(srv: Server) -> Path:
    return srv.data / "blob-cache"


def cached(srv: Server) -> dict[str, int]:
    """Cache entry (as a blob key) -> its size, excluding temporary files."""
    root = cache_dir(srv)
    return {str(p.relative_to(root)): p.stat().st_size for p in root.glob("*/*/*.dcm")}


def restart(srv: Server, *args: str) -> None:
    srv.stop()
    srv.extra_args = list(args)
    srv.start()


def stow(alice: dw.DicomWeb, n: int, seed: int, frames: int = 1) -> tuple[str, dict]:
    study, series = generate_uid(), generate_uid()
    files = {}
    for i in range(n):
        ds = new_image(patient_id="CACHE", study_uid=study, series_uid=series, instance_number=i + 1,
                       pixels=noise_image(64, 48, seed=seed + i, frames=frames))
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        files[str(ds.SOPInstanceUID)] = (series, buf.getvalue())
    alice.stow_ok([b for _, b in files.values()])
    return study, files


def keys_of(srv: Server, study: str) -> dict[str, str]:
    """SOP Instance UID -> blob key."""
    with index_db(srv, readonly=True) as db:
        rows = db.execute(
            "SELECT i.sop_uid, i.blob_key FROM instances i JOIN series se ON se.id = i.series_ref "
            "JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ?", (study,)).fetchall()
    return {s: k for s, k in rows}


def frame(alice: dw.DicomWeb, study: str, series: str, sop: str, n: int = 1) -> bytes:
    (part,) = alice.retrieve(f"/studies/{study}/series/{series}/instances/{sop}/frames/{n}",
                             accept=dw.ACCEPT_FRAMES_AS_STORED)
    return part.body


def wait_for(cond, what: str, srv: Server, secs: float = 30) -> None:
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {secs} s:\n{srv.log_tail()}")


def test_frames_fill_the_cache_and_are_served_from_it(srv, garage):
    alice = alice_of(srv)
    study, sent = stow(alice, 3, seed=1, frames=4)
    keys = keys_of(srv, study)
    for sop, (series, body) in sent.items():
        assert frame(alice, study, series, sop, 2) == frames_as_stored(read(body))[1]
    wait_for(lambda: set(keys.values()) <= set(cached(srv)), "the cache filled", srv)
    for sop, key in keys.items():
        assert (cache_dir(srv) / key).read_bytes() == sent[sop][1], f"cache entry of {sop} differs from what was sent"
    record = (srv.data / "blob-store.toml").read_text()
    assert re.search(r"blob_cache_gb = 1(\.0)?\n", record), record
    assert f"read cache in {cache_dir(srv)} (1.0 GB" in srv.log_tail(20000), "serve names its cache at start"

    # The objects vanish from the bucket behind rangsi's back: frames still come, from the cache.
    for key in keys.values():
        garage.delete(f"{PREFIX}/{key}")
    for sop, (series, body) in sent.items():
        frames = frames_as_stored(read(body))
        assert [frame(alice, study, series, sop, n) for n in (1, 4)] == [frames[0], frames[3]]
    # Put them back (the archive's own state is unchanged): fsck is clean.
    for sop, key in keys.items():
        garage.put(f"{PREFIX}/{key}", sent[sop][1])
    fsck = srv.cli("fsck", "--verify", check=False)
    assert fsck.returncode == 0, fsck.stdout.decode() + fsck.stderr.decode()


def test_the_budget_holds_and_the_least_recently_read_go_first(srv):
    budget = 200_000
    restart(srv, "--blob-cache-gb", str(budget / 1e9))
    assert cached(srv) == {} or sum(cached(srv).values()) <= budget, "a start evicts down to the new budget"
    record = (srv.data / "blob-store.toml").read_text()
    assert "blob_cache_gb = 0.0002" in record, record
    alice = alice_of(srv)
    study, sent = stow(alice, 40, seed=100)
    keys = keys_of(srv, study)
    order = list(sent)
    for sop in order:
        series, body = sent[sop]
        assert frame(alice, study, series, sop) == frames_as_stored(read(body))[0]
        wait_for(lambda: keys[sop] in cached(srv), f"entry of instance {sop}", srv)
        assert sum(cached(srv).values()) <= budget, "the cache grew past its budget"
    held = cached(srv)
    assert sum(len(sent[s][1]) for s in order) > budget, "the test must read more than the budget"
    assert keys[order[-1]] in held and keys[order[0]] not in held, "the least recently read go first"
    # A later start without the flag keeps the recorded budget.
    restart(srv)
    assert sum(cached(srv).values()) <= budget


def test_a_crash_leaves_no_partial_entry(srv):
    restart(srv, "--blob-cache-gb", "1")
    alice = alice_of(srv)
    study, sent = stow(alice, 2, seed=300)
    keys = keys_of(srv, study)
    for sop, (series, _) in sent.items():
        frame(alice, study, series, sop)
    wait_for(lambda: set(keys.values()) <= set(cached(srv)), "the cache filled", srv)
    srv.kill()
    partial = cache_dir(srv) / "tmp" / "0123.partial.tmp"
    partial.write_bytes(b"half an object")
    srv.start()
    assert not partial.exists(), "a temporary file of a crash must be removed on start"
    for sop, key in keys.items():
        assert (cache_dir(srv) / key).read_bytes() == sent[sop][1]
    alice = alice_of(srv)
    for sop, (series, body) in sent.items():
        assert frame(alice, study, series, sop) == frames_as_stored(read(body))[0]


def test_a_tier_move_in_serve_drops_the_cache_entries(srv):
    restart(srv, "--blob-cache-gb", "1")
    alice = alice_of(srv)
    study, sent = stow(alice, 3, seed=400)
    keys = keys_of(srv, study)
    for sop, (series, _) in sent.items():
        frame(alice, study, series, sop)
    wait_for(lambda: set(keys.values()) <= set(cached(srv)), "the cache filled", srv)
    with index_db(srv) as db:
        db.execute("UPDATE studies SET updated_at = ?, last_opened_at = NULL WHERE study_uid = ?", (OLD, study))
        db.commit()
    restart(srv, "--blob-cache-gb", "1", "--tier-after-days", "30")

    def moved() -> bool:
        with index_db(srv, readonly=True) as db:
            (n,) = db.execute("SELECT COUNT(*) FROM blob_tiers WHERE tier = 'cold' AND blob_key IN ({})".format(
                ",".join("?" * len(keys))), tuple(keys.values())).fetchone()
        return n == len(keys)

    wait_for(moved, "the background tier run", srv, secs=60)
    assert not set(keys.values()) & set(cached(srv)), "entries of deleted hot objects must be dropped"
    alice = alice_of(srv)
    for sop, (series, body) in sent.items():
        assert alice.instance_bytes(study, series, sop) == body
    restart(srv, "--blob-cache-gb", "1")


class CountingProxy:
    """A TCP proxy in front of Garage that counts the HTTP request lines passing through
    (SigV4 signs the Host header the client sent, which the proxy forwards unchanged)."""

    LINE = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.1\r\n")

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.requests: list[tuple[str, str]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(65536):
                if count:
                    self.requests += [(m.group(1).decode(), m.group(2).decode()) for m in self.LINE.finditer(data)]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_fsck_lists_the_bucket_once(srv, garage):
    alice = alice_of(srv)
    study, sent = stow(alice, 30, seed=500)
    keys = keys_of(srv, study)
    proxy = CountingProxy(garage.s3_port)
    try:
        env = dict(srv.blob_env)
        srv.blob_env["RANGSI_S3_ENDPOINT"] = f"http://127.0.0.1:{proxy.port}"
        r = srv.cli("fsck", check=False)
        assert r.returncode == 0 and "consistent" in r.stdout.decode(), r.stdout.decode() + r.stderr.decode()
        methods = [m for m, _ in proxy.requests]
        assert "HEAD" not in methods, f"fsck asked for objects one by one: {proxy.requests[:10]}"
        assert 1 <= len(proxy.requests) <= 4, f"fsck made {len(proxy.requests)} requests: {proxy.requests}"

        # Still finds what is wrong: one object deleted, one resized.
        k1, k2 = list(keys.values())[:2]
        body2 = garage.get(f"{PREFIX}/{k2}")
        garage.delete(f"{PREFIX}/{k1}")
        garage.put(f"{PREFIX}/{k2}", body2 + b"\0\0")
        r = srv.cli("fsck", check=False)
        out = r.stdout.decode()
        assert r.returncode != 0 and f"MISSING blob {k1}" in out and f"WRONG SIZE blob {k2}" in out, out
    finally:
        srv.blob_env = env
        proxy.close()
    sop1 = next(s for s, k in keys.items() if k == k1)
    garage.put(f"{PREFIX}/{k1}", sent[sop1][1])
    garage.put(f"{PREFIX}/{k2}", body2)
    assert srv.cli("fsck", check=False).returncode == 0


def test_bad_cache_settings_are_refused_and_not_recorded(srv, tmp_path):
    srv.stop()
    record = (srv.data / "blob-store.toml").read_text()
    foreign = tmp_path / "not-a-cache"
    (foreign / "ab" / "cd").mkdir(parents=True)
    precious = foreign / "ab" / "cd" / ("a" * 64 + ".dcm")
    precious.write_bytes(b"someone else's file")
    try:
        for args, message in (
            (["--blob-cache-gb=-1"], "--blob-cache-gb must be a number of GB"),
            (["--blob-cache-gb", "lots"], "invalid value"),
            (["--blob-cache", str(foreign)], "is not empty and is not a blob cache"),
            (["--blob-cache", str(srv.data / "blob-cache" / "..")], "is not empty and is not a blob cache"),
        ):
            r = srv.cli("serve", "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0", *args, check=False, timeout=60)
            assert r.returncode != 0 and message in r.stderr.decode(), (args, r.stderr.decode())
            assert precious.read_bytes() == b"someone else's file"
        assert (srv.data / "blob-store.toml").read_text() == record, "a refused setting must not be recorded"
    finally:
        srv.extra_args = ["--blob-cache-gb", "1"]
        srv.start()
    assert srv.healthy()
