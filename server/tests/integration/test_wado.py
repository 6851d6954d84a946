"""WADO-RS: study/series/instance retrieval, /metadata with BulkDataURI, /frames as
stored and decoded (checked against pydicom + pylibjpeg), /rendered and /thumbnail
(checked with Pillow against a hand-computed VOI window), ETag, Range and gzip.

Instances: gen_ct_series CT in Explicit VR LE, RLE and JPEG 2000; dcmtk-compressed JPEG
lossless SV1, JPEG-LS, JPEG baseline and RLE; an RGB secondary capture; a multi-frame
image (native and RLE). All STOWed by alice except two slices C-STOREd by MODA.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from dicomweb_client import DICOMwebClient
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomweb as dw
from dicom_factory import (
    dataset_fingerprint,
    dcmtk_compress,
    decoded_frames,
    frames_as_stored,
    gen_ct,
    new_image,
    noise_image,
    read,
    rgb_image,
    save,
)
from dimse import storescu


@dataclass
class Item:
    path: Path
    ds: Dataset

    @property
    def study(self) -> str:
        return str(self.ds.StudyInstanceUID)

    @property
    def series(self) -> str:
        return str(self.ds.SeriesInstanceUID)

    @property
    def sop(self) -> str:
        return str(self.ds.SOPInstanceUID)

    @property
    def url(self) -> str:
        return f"/studies/{self.study}/series/{self.series}/instances/{self.sop}"


@pytest.fixture(scope="module")
def corpus(shared_dir, tmp_path_factory, alice, peer):
    out = tmp_path_factory.mktemp("wado")
    items: dict[str, Item] = {}
    ct = gen_ct(shared_dir, out / "ct", slices=3, patient_id="WADO-CT", seed=21)[0]
    rle = gen_ct(shared_dir, out / "rle", slices=2, ts="rle", rows=256, patient_id="WADO-RLE", seed=22)[0]
    j2k = gen_ct(shared_dir, out / "j2k", slices=2, ts="j2k", rows=256, patient_id="WADO-J2K", seed=23)[0]
    for name, series in (("ct", ct), ("rle", rle), ("j2k", j2k)):
        for i, f in enumerate(series.files):
            items[f"{name}{i}" if i else name] = Item(f, read(f))

    study = generate_uid()

    def misc(name, **kw):
        ds = new_image(patient_id="WADO-MISC", patient_name="WADO^MISC", study_uid=study, series_number=len(items), **kw)
        return save(ds, out / "src" / f"{name}.dcm")

    def add(name, path):
        items[name] = Item(path, read(path))

    dcmtk = out / "dcmtk"
    add("jpeg-lossless", dcmtk_compress(misc("m16a", pixels=noise_image(256, 200, seed=1), bits_stored=12), dcmtk / "jl.dcm", "jpeg-lossless-sv1"))
    add("jpeg-ls", dcmtk_compress(misc("m16b", pixels=noise_image(256, 200, seed=2), bits_stored=12), dcmtk / "jls.dcm", "jpeg-ls"))
    add("jpeg-baseline", dcmtk_compress(misc("m8a", pixels=noise_image(100, 120, seed=3, dtype=np.uint8, maximum=255)), dcmtk / "jb.dcm", "jpeg-baseline"))
    add("dcmcrle", dcmtk_compress(misc("m8b", pixels=noise_image(100, 120, seed=4, dtype=np.uint8, maximum=255)), dcmtk / "rle.dcm", "rle"))
    add("rgb", misc("rgb", pixels=rgb_image(48, 64), rgb=True, modality="OT"))
    add("multiframe", misc("mf", pixels=noise_image(40, 30, seed=5, frames=5)))
    mf_rle = new_image(patient_id="WADO-MISC", patient_name="WADO^MISC", study_uid=study, series_number=99,
                       pixels=noise_image(40, 30, seed=6, frames=4))
    add("multiframe-rle", save(mf_rle, out / "src" / "mfrle.dcm", rle=True))
    for name in ("jpeg-lossless", "jpeg-ls", "jpeg-baseline", "dcmcrle"):
        ts = items[name].ds.file_meta.TransferSyntaxUID
        assert ts.is_encapsulated, f"dcmtk did not compress {name}: {ts}"

    stowed = dict(items)
    for chunk in ([i for k, i in items.items() if k.startswith("ct")], [i for k, i in items.items() if not k.startswith("ct")]):
        alice.stow_ok([i.path.read_bytes() for i in chunk])

    dimse_ct = gen_ct(shared_dir, out / "dimse", slices=2, rows=128, patient_id="WADO-DIMSE", seed=24)[0]
    outcome = storescu(peer, "MODA", dimse_ct.files)
    assert not outcome.failed, f"storescu: {outcome.results}"
    cstored = {f"cstore{i}": Item(f, read(f)) for i, f in enumerate(dimse_ct.files)}
    return {"stowed": stowed, "cstored": cstored, "ct_study": ct, "misc_study": study}


STOWED = ["ct", "ct1", "ct2", "rle", "rle1", "j2k", "j2k1", "jpeg-lossless", "jpeg-ls", "jpeg-baseline", "dcmcrle",
          "rgb", "multiframe", "multiframe-rle"]
SINGLE_FRAME_STORED = ["ct", "rle", "j2k", "jpeg-lossless", "jpeg-ls", "jpeg-baseline", "dcmcrle", "rgb"]
LOSSLESS_DECODABLE = ["ct", "rle", "j2k", "jpeg-lossless", "dcmcrle", "rgb"]


def item(corpus, name) -> Item:
    return corpus["stowed"][name]


# ---------------------------------------------------------------------------
# study / series / instance


@pytest.mark.parametrize("name", STOWED)
def test_instance_round_trip_is_byte_identical(corpus, alice, name):
    it = item(corpus, name)
    got = alice.instance_bytes(it.study, it.series, it.sop)
    assert got == it.path.read_bytes(), (
        f"{name}: WADO-RS instance ({len(got)} bytes) differs from the STOWed file ({it.path.stat().st_size} bytes)"
    )


def test_study_retrieve_returns_every_instance(corpus, alice):
    misc = [i for i in corpus["stowed"].values() if i.study == corpus["misc_study"]]
    parts = alice.retrieve(f"/studies/{corpus['misc_study']}")
    assert sorted(p.body for p in parts) == sorted(i.path.read_bytes() for i in misc), (
        f"study retrieve gave {len(parts)} parts, want the {len(misc)} STOWed files byte for byte"
    )
    for p in parts:
        assert p.headers.get("content-type", "").startswith("application/dicom"), f"part Content-Type {p.headers}"


def test_series_retrieve(corpus, alice):
    ct = corpus["ct_study"]
    parts = alice.retrieve(f"/studies/{ct.study_uid}/series/{ct.series_uid}")
    assert sorted(p.body for p in parts) == sorted(f.read_bytes() for f in ct.files)


def test_cstored_instances_keep_their_dataset(corpus, alice):
    for name, it in corpus["cstored"].items():
        got = read(alice.instance_bytes(it.study, it.series, it.sop))
        assert dataset_fingerprint(got) == dataset_fingerprint(it.ds), f"{name}: C-STOREd dataset changed"


def test_dicomweb_client_retrieve_instance(server, corpus):
    it = item(corpus, "ct")
    client = DICOMwebClient(url=server.http_url + "/dicomweb", headers={"Authorization": f"Bearer {server.tokens['alice']}"})
    ds = client.retrieve_instance(it.study, it.series, it.sop)
    assert dataset_fingerprint(ds) == dataset_fingerprint(it.ds)


def test_default_accept_gives_explicit_little_endian(corpus, alice):
    it = item(corpus, "ct")
    parts = alice.retrieve(it.url, accept='multipart/related; type="application/dicom"')
    ds = read(parts[0].body)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert ds.PixelData == it.ds.PixelData


@pytest.mark.parametrize("name", ["rle", "j2k", "jpeg-lossless"])
def test_default_accept_transcodes_to_explicit_little_endian(corpus, alice, name):
    """Without a transfer-syntax parameter the payload is Explicit VR Little Endian
    (PS3.18 8.7.3.4: every origin server must be able to convert to it, except lossy
    pixel data), so clients without codecs get pixels they can read."""
    it = item(corpus, name)
    (part,) = alice.retrieve(it.url, accept='multipart/related; type="application/dicom"')
    ds = read(part.body)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1", f"{name}: returned as {ds.file_meta.TransferSyntaxUID.name}"
    assert bytes(ds.PixelData) == decoded_frames(it.ds)[0], f"{name}: transcoded pixels differ from pydicom's decode"
    assert ds.SOPInstanceUID == it.ds.SOPInstanceUID and ds.PatientName == it.ds.PatientName


# ---------------------------------------------------------------------------
# metadata and bulk data


def normalized(el: dict):
    out = []
    for v in el.get("Value", []):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        elif isinstance(v, str) and el.get("vr") in ("DS", "IS"):
            out.append(float(v))
        elif isinstance(v, dict) and el.get("vr") == "SQ":
            out.append({k: (e.get("vr"), normalized(e)) for k, e in v.items()})
        else:
            out.append(v)
    return out


def test_metadata_matches_pydicom(corpus, alice):
    it = item(corpus, "ct")
    r = alice.get(it.url + "/metadata", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200, f"GET metadata -> {r.status_code} {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith(dw.DICOM_JSON)
    (meta,) = r.json()
    want = it.ds.to_json_dict(bulk_data_threshold=1 << 40)
    want.pop(dw.PIXEL_DATA)
    for tag, el in want.items():
        assert tag in meta, f"metadata lacks {tag} ({el.get('vr')})"
        assert meta[tag].get("vr") == el["vr"], f"{tag}: vr {meta[tag].get('vr')}, file has {el['vr']}"
        if "InlineBinary" in el:
            continue
        assert normalized(meta[tag]) == normalized(el), f"{tag}: {meta[tag]} != {el}"
    assert "BulkDataURI" in meta[dw.PIXEL_DATA], f"PixelData should be a BulkDataURI: {meta[dw.PIXEL_DATA]}"
    assert "InlineBinary" not in meta[dw.PIXEL_DATA]


def test_bulkdata_uri_resolves_to_pixel_data(corpus, alice):
    it = item(corpus, "ct")
    (meta,) = alice.get(it.url + "/metadata", headers={"Accept": dw.DICOM_JSON}).json()
    uri = meta[dw.PIXEL_DATA]["BulkDataURI"]
    from urllib.parse import urljoin

    url = urljoin(alice.url(it.url + "/metadata"), uri)
    parts = alice.retrieve(url, accept=dw.ACCEPT_FRAMES_AS_STORED)
    assert b"".join(p.body for p in parts) == it.ds.PixelData, f"BulkDataURI {uri} does not give the PixelData bytes"


def test_study_metadata_lists_every_instance(corpus, alice):
    ct = corpus["ct_study"]
    r = alice.get(f"/studies/{ct.study_uid}/metadata", headers={"Accept": dw.DICOM_JSON})
    assert r.status_code == 200
    assert dw.uids(r.json(), dw.SOP_INSTANCE_UID) == set(ct.sop_uids())


# ---------------------------------------------------------------------------
# frames


@pytest.mark.parametrize("name", SINGLE_FRAME_STORED)
def test_frame_as_stored(corpus, alice, name):
    it = item(corpus, name)
    parts = alice.retrieve(it.url + "/frames/1", accept=dw.ACCEPT_FRAMES_AS_STORED)
    assert len(parts) == 1
    assert parts[0].body == frames_as_stored(it.ds)[0], f"{name}: frame 1 (transfer-syntax=*) differs from the stored frame"


@pytest.mark.parametrize("accept", [dw.ACCEPT_FRAMES_NATIVE, dw.ACCEPT_FRAMES_DEFAULT], ids=["explicit-ts", "no-ts"])
@pytest.mark.parametrize("name", LOSSLESS_DECODABLE)
def test_frame_decoded_equals_pydicom(corpus, alice, name, accept):
    it = item(corpus, name)
    parts = alice.retrieve(it.url + "/frames/1", accept=accept)
    assert len(parts) == 1
    want = decoded_frames(it.ds)[0]
    got = parts[0].body
    assert len(got) == len(want), f"{name}: decoded frame is {len(got)} bytes, pydicom's is {len(want)}"
    assert got == want, f"{name}: decoded frame differs from pydicom + pylibjpeg"


def test_jpeg_baseline_frame_decoded_close_to_pydicom(corpus, alice):
    it = item(corpus, "jpeg-baseline")
    (part,) = alice.retrieve(it.url + "/frames/1", accept=dw.ACCEPT_FRAMES_NATIVE)
    want = np.frombuffer(decoded_frames(it.ds)[0], np.uint8).astype(int)
    got = np.frombuffer(part.body, np.uint8).astype(int)
    assert got.shape == want.shape, f"decoded baseline frame: {got.size} bytes, want {want.size}"
    diff = np.abs(got - want)
    assert diff.max() <= 4 and diff.mean() < 0.5, f"baseline JPEG decode differs: max {diff.max()}, mean {diff.mean():.3f}"


def test_multiframe_frame_list_as_stored(corpus, alice):
    it = item(corpus, "multiframe")
    parts = alice.retrieve(it.url + "/frames/1,3", accept=dw.ACCEPT_FRAMES_AS_STORED)
    frames = frames_as_stored(it.ds)
    assert [p.body for p in parts] == [frames[0], frames[2]], "frames/1,3 must be frames 1 and 3, in that order"


def test_multiframe_rle_frame_list(corpus, alice):
    it = item(corpus, "multiframe-rle")
    stored = alice.retrieve(it.url + "/frames/1,3", accept=dw.ACCEPT_FRAMES_AS_STORED)
    assert [p.body for p in stored] == [frames_as_stored(it.ds)[0], frames_as_stored(it.ds)[2]]
    decoded = alice.retrieve(it.url + "/frames/3,1", accept=dw.ACCEPT_FRAMES_NATIVE)
    want = decoded_frames(it.ds)
    assert [p.body for p in decoded] == [want[2], want[0]], "decoded frames/3,1 must be frames 3 and 1"


def test_frame_out_of_range_is_4xx(corpus, alice):
    it = item(corpus, "multiframe")
    r = alice.get(it.url + "/frames/6", headers={"Accept": dw.ACCEPT_FRAMES_AS_STORED})
    assert 400 <= r.status_code < 500, f"frame 6 of 5 -> {r.status_code}"


# ---------------------------------------------------------------------------
# rendered and thumbnail


def expected_window(it: Item, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 linear VOI function after the modality LUT, output 0..255."""
    x = it.ds.pixel_array.astype(np.float64) * float(it.ds.RescaleSlope) + float(it.ds.RescaleIntercept)
    lo = center - 0.5 - (width - 1) / 2
    hi = center - 0.5 + (width - 1) / 2
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y = np.where(x <= lo, 0, np.where(x > hi, 255, y))
    return y


def get_image(web, url, accept, params=None) -> Image.Image:
    if params:  # commas literal, as viewers send them
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    r = web.get(url, headers={"Accept": accept})
    assert r.status_code == 200, f"GET {r.url} (Accept {accept}) -> {r.status_code} {r.text[:200]}"
    assert r.headers.get("Content-Type", "").startswith(accept), f"Content-Type {r.headers.get('Content-Type')}, want {accept}"
    magic = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}[accept]
    assert r.content.startswith(magic), f"{accept} body does not start with the {accept} signature"
    img = Image.open(io.BytesIO(r.content))
    img.load()
    return img


def assert_close_to(img: Image.Image, want: np.ndarray, what: str):
    assert img.mode in ("L", "RGB", "RGBA", "LA"), f"{what}: unexpected PNG mode {img.mode}"
    got = np.asarray(img.convert("L"), dtype=np.float64)
    assert got.shape == want.shape, f"{what}: {got.shape[::-1]} image, want {want.shape[::-1]}"
    diff = np.abs(got - want)
    assert (diff <= 1.01).mean() > 0.999 and diff.max() <= 2, (
        f"{what}: rendered pixels differ from the VOI window (max {diff.max():.1f}, "
        f"{(diff > 1.01).sum()} pixels off by more than 1)"
    )


def test_rendered_png_applies_requested_window(corpus, alice):
    it = item(corpus, "ct")
    img = get_image(alice, it.url + "/rendered", "image/png", {"window": "40,400,linear"})
    assert_close_to(img, expected_window(it, 40, 400), "window=40,400")
    img = get_image(alice, it.url + "/rendered", "image/png", {"window": "-600,1500,linear"})
    assert_close_to(img, expected_window(it, -600, 1500), "window=-600,1500")


def test_rendered_default_uses_the_instance_window(corpus, alice):
    it = item(corpus, "ct")
    img = get_image(alice, it.url + "/rendered", "image/png")
    assert_close_to(img, expected_window(it, 40, 400), "default window (first WindowCenter/Width: 40/400)")


def test_rendered_jpeg_and_viewport(corpus, alice):
    it = item(corpus, "ct")
    img = get_image(alice, it.url + "/rendered", "image/jpeg")
    assert img.size == (512, 512)
    img = get_image(alice, it.url + "/rendered", "image/png", {"viewport": "128,128"})
    assert img.size == (128, 128), f"viewport=128,128 of a 512x512 image gave {img.size}"


def test_rendered_rgb_is_exact_and_keeps_aspect(corpus, alice):
    it = item(corpus, "rgb")
    img = get_image(alice, it.url + "/rendered", "image/png")
    assert img.size == (64, 48), f"rendered RGB is {img.size}, want 64x48 (columns x rows)"
    got = np.asarray(img.convert("RGB"))
    assert np.array_equal(got, it.ds.pixel_array), "rendered PNG of an RGB image must equal its pixels"
    small = get_image(alice, it.url + "/rendered", "image/png", {"viewport": "32,32"})
    assert small.size == (32, 24), f"viewport=32,32 of 64x48 should keep the aspect ratio: got {small.size}"


def test_rendered_jpeg2000_with_window(corpus, alice):
    it = item(corpus, "j2k")
    img = get_image(alice, it.url + "/rendered", "image/png", {"window": "40,400,linear"})
    assert_close_to(img, expected_window(it, 40, 400), "J2K instance, window=40,400")


def test_rendered_frame_of_multiframe(corpus, alice):
    it = item(corpus, "multiframe")
    img = get_image(alice, it.url + "/frames/3/rendered", "image/png", {"window": "2000,4000,linear"})
    frame = it.ds.pixel_array[2].astype(np.float64)
    lo, hi = 2000 - 0.5 - 3999 / 2, 2000 - 0.5 + 3999 / 2
    want = np.where(frame <= lo, 0, np.where(frame > hi, 255, ((frame - 1999.5) / 3999 + 0.5) * 255))
    assert_close_to(img, want, "frame 3 of the multi-frame image, window=2000,4000")


@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_thumbnail(corpus, alice, level):
    it = item(corpus, "ct")
    url = {"study": f"/studies/{it.study}", "series": f"/studies/{it.study}/series/{it.series}", "instance": it.url}[level]
    img = get_image(alice, url + "/thumbnail", "image/jpeg")
    assert 0 < img.size[0] <= 512 and 0 < img.size[1] <= 512
    assert np.asarray(img.convert("L")).std() > 5, "thumbnail is blank"


# ---------------------------------------------------------------------------
# HTTP caching, ranges, compression


@pytest.mark.parametrize("suffix,accept", [("", dw.ACCEPT_DICOM_ANY_TS), ("/metadata", dw.DICOM_JSON)], ids=["instance", "metadata"])
def test_etag_and_if_none_match(corpus, alice, suffix, accept):
    it = item(corpus, "ct")
    r = alice.get(it.url + suffix, headers={"Accept": accept})
    etag = r.headers.get("ETag")
    assert r.status_code == 200 and etag, f"GET {it.url + suffix}: no ETag (status {r.status_code})"
    again = alice.get(it.url + suffix, headers={"Accept": accept, "If-None-Match": etag})
    assert again.status_code == 304, f"If-None-Match with the current ETag -> {again.status_code}, want 304"
    assert again.content == b""
    other = alice.get(it.url + suffix, headers={"Accept": accept, "If-None-Match": '"not-the-etag"'})
    assert other.status_code == 200


def test_range_on_single_part_instance(corpus, alice):
    it = item(corpus, "ct")
    whole = it.path.read_bytes()
    r = alice.get(it.url, headers={"Accept": "application/dicom"})
    assert r.status_code == 200 and r.content == whole, f"single-part instance -> {r.status_code}"
    r = alice.get(it.url, headers={"Accept": "application/dicom", "Range": "bytes=128-131"})
    assert r.status_code == 206, f"Range bytes=128-131 -> {r.status_code}, want 206"
    assert r.content == b"DICM"
    assert r.headers.get("Content-Range") == f"bytes 128-131/{len(whole)}"
    r = alice.get(it.url, headers={"Accept": "application/dicom", "Range": "bytes=-1000"})
    assert r.status_code == 206 and r.content == whole[-1000:], "suffix range bytes=-1000"


@pytest.mark.parametrize("suffix,accept", [("", dw.ACCEPT_DICOM_ANY_TS), ("/metadata", dw.DICOM_JSON)], ids=["instance", "metadata"])
def test_gzip_for_uncompressed_payloads(corpus, alice, suffix, accept):
    it = item(corpus, "ct")
    r = alice.get(it.url + suffix, headers={"Accept": accept, "Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == "gzip", f"{suffix or 'instance'}: Content-Encoding {r.headers.get('Content-Encoding')}"
    if not suffix:
        (part,) = dw.parse_multipart(r.headers["Content-Type"], r.content)
        assert part.body == it.path.read_bytes()
