"""WADO-RS /rendered and /thumbnail through each file's own greyscale pipeline, with
pydicom as the oracle.

The instances are pydicom's own test files and copies of them given a Modality LUT
Sequence, a VOI LUT Sequence, MONOCHROME1, Presentation LUT Shape INVERSE, a SIGMOID
VOI LUT Function (each attribute set with pydicom, the LUTs computed here). The expected
8-bit image is computed with pydicom's `apply_modality_lut`, `apply_windowing` (PS3.3
C.11.2.1.2 linear, C.11.2.1.3 LINEAR_EXACT and SIGMOID) and `apply_voi` (the LUT), then
mapped from pydicom's output range to 0..255; inversion and the min/max default are
computed by hand.

Greyscale PNG must be pixel-exact. (pydicom windows into the range of the stored bits
and the test rescales that to 0..255 while rangsi computes in 0..255 directly; both
round half up, and on these files no value lands near enough to .5 for the two float
paths to round apart. Should one ever do so, ±1 with 99 % exact is the bound to move
to, not more.) Colour conversions (YBR to RGB, 16-bit palettes to 8 bits) get ±1: the
standard fixes neither the coefficients' rounding nor the 16 → 8 bit reduction; today
they are exact too. JPEG output is held to a PSNR bound, GIF of grey to exactness.
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from dicomweb import parse_multipart

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
PNG = "image/png"


def pydicom_file(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(TEST_FILES / name)


@dataclass
class Item:
    ds: Dataset

    @property
    def url(self) -> str:
        return f"/studies/{self.ds.StudyInstanceUID}/series/{self.ds.SeriesInstanceUID}/instances/{self.ds.SOPInstanceUID}"


# ---------------------------------------------------------------------------
# The instances


def lut_item(first: int, data: np.ndarray, bits: int, explanation: str) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data), first, bits]
    item.LUTExplanation = explanation
    item.add(DataElement(0x00283006, "OW", data.astype("<u2").tobytes()))
    return item


def mlut(study: str) -> Dataset:
    """12-bit unsigned data with a square-root Modality LUT Sequence and no rescale."""
    ds = pydicom_file("MR_small.dcm")
    arr = np.clip(ds.pixel_array.astype(np.int32) * 3, 0, 4095).astype(np.uint16)
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 12, 11
    ds.PixelData = arr.tobytes()
    lut = np.round(np.sqrt(np.arange(4096)) * 1000).astype(np.uint16)
    ds.ModalityLUTSequence = Sequence([lut_item(0, lut, 16, "SQRT")])
    ds.ModalityLUTSequence[0].ModalityLUTType = "US"
    for k in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
        if k in ds:
            delattr(ds, k)
    return ds


def vlut(study: str, with_window: bool) -> Dataset:
    """A VOI LUT Sequence (12-bit output, gamma 0.5) over the data's range."""
    ds = pydicom_file("MR_small.dcm")
    arr = ds.pixel_array
    lo, hi = int(arr.min()), int(arr.max())
    x = np.arange(hi - lo + 1, dtype=np.float64)
    lut = np.round(4095 * np.sqrt(x / x[-1])).astype(np.uint16)
    ds.VOILUTSequence = Sequence([lut_item(lo, lut, 12, "GAMMA")])
    if not with_window:
        del ds.WindowCenter, ds.WindowWidth
    return ds


def derived(study: str) -> dict[str, Dataset]:
    out = {
        "mlut": mlut(study),
        "vlut": vlut(study, with_window=False),
        "vlut+window": vlut(study, with_window=True),
        "ct-signed": pydicom_file("CT_small.dcm"),
        "mr": pydicom_file("MR_small.dcm"),
        "rtdose": pydicom_file("rtdose.dcm"),
        "palette": pydicom_file("examples_palette.dcm"),
        "ybr422": pydicom_file("SC_ybr_full_422_uncompressed.dcm"),
        "deflated": pydicom_file("image_dfl.dcm"),
        "rgb-2frame": pydicom_file("SC_rgb_rle_2frame.dcm"),
    }
    mono1 = pydicom_file("MR_small.dcm")
    mono1.PhotometricInterpretation = "MONOCHROME1"
    out["mono1"] = mono1
    inverse = pydicom_file("MR_small.dcm")
    inverse.PresentationLUTShape = "INVERSE"
    out["inverse"] = inverse
    sigmoid = pydicom_file("CT_small.dcm")
    sigmoid.WindowCenter, sigmoid.WindowWidth, sigmoid.VOILUTFunction = 40, 400, "SIGMOID"
    out["sigmoid"] = sigmoid
    for n, (name, ds) in enumerate(out.items()):
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = "RENDERED-1"
        ds.SeriesNumber = n + 1
    return out


def part10(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(alice) -> dict[str, Item]:
    study = generate_uid()
    items = {name: Item(ds) for name, ds in derived(study).items()}
    alice.stow_ok([part10(i.ds) for i in items.values()])
    # The oracle reads what was stored, as a client would.
    for i in items.values():
        i.ds = pydicom.dcmread(io.BytesIO(part10(i.ds)))
    return items


# ---------------------------------------------------------------------------
# The oracle


def modality(ds: Dataset, frame: int = 0, as_float: bool = True) -> np.ndarray:
    arr = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        arr = arr[frame]
    out = apply_modality_lut(arr, ds)
    return out.astype(np.float64) if as_float else out


def to_8bit(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.floor((y - lo) / (hi - lo) * 255 + 0.5), 0, 255)


def windowed(ds: Dataset, center: float, width: float, function: str = "LINEAR", frame: int = 0) -> np.ndarray:
    """pydicom's window of the modality values, mapped from its output range to 0..255."""
    w = copy.deepcopy(ds)
    w.WindowCenter, w.WindowWidth, w.VOILUTFunction = center, width, function
    y = apply_windowing(modality(ds, frame), w)
    # pydicom's output range: a LINEAR window of extreme inputs gives its ends.
    w.VOILUTFunction = "LINEAR"
    lo, hi = apply_windowing(np.array([-1e30, 1e30]), w)
    return to_8bit(y, lo, hi)


def voi_lut(ds: Dataset) -> np.ndarray:
    """pydicom's VOI LUT (item 1) of the modality values, scaled from its bits to 0..255."""
    w = copy.deepcopy(ds)
    for k in ("WindowCenter", "WindowWidth"):
        if k in w:
            delattr(w, k)
    y = apply_voi(modality(ds, as_float=False), w, index=0).astype(np.float64)
    bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    return to_8bit(y, 0, 2**bits - 1)


def min_max(ds: Dataset, frame: int = 0) -> np.ndarray:
    """No window and no VOI LUT: the range of the frame's modality values."""
    x = modality(ds, frame)
    return to_8bit(x, x.min(), x.max())


def get_image(web, url: str, accept: str = PNG, params: dict | None = None) -> np.ndarray:
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    r = web.get(url, headers={"Accept": accept})
    assert r.status_code == 200, f"GET {r.url} (Accept {accept}) -> {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith(accept), r.headers["Content-Type"]
    img = Image.open(io.BytesIO(r.content))
    img.load()
    assert img.format == {PNG: "PNG", "image/jpeg": "JPEG", "image/gif": "GIF"}[accept]
    if img.mode == "P":
        img = img.convert("RGB")
    return np.asarray(img).astype(np.float64)


def assert_close(got: np.ndarray, want: np.ndarray, what: str, tolerance: int = 0):
    assert got.shape == want.shape, f"{what}: rendered {got.shape}, expected {want.shape}"
    diff = np.abs(got - want)
    exact = (diff == 0).mean()
    assert diff.max() <= tolerance, (
        f"{what}: max difference {diff.max()} from pydicom, {100 * exact:.2f} % exact "
        f"({(diff > tolerance).sum()} pixels off by more than {tolerance})"
    )


def psnr(got: np.ndarray, want: np.ndarray) -> float:
    mse = ((got - want) ** 2).mean()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


# ---------------------------------------------------------------------------
# Greyscale pipeline


def test_modality_lut_sequence_then_min_max(corpus, alice):
    it = corpus["mlut"]
    assert "RescaleSlope" not in it.ds and "WindowCenter" not in it.ds
    assert_close(get_image(alice, it.url + "/rendered"), min_max(it.ds), "Modality LUT Sequence, default VOI")


def test_modality_lut_sequence_with_window(corpus, alice):
    it = corpus["mlut"]
    got = get_image(alice, it.url + "/rendered", params={"window": "40000,30000,linear"})
    assert_close(got, windowed(it.ds, 40000, 30000), "Modality LUT Sequence, window=40000,30000")


def test_voi_lut_sequence_is_the_default(corpus, alice):
    it = corpus["vlut"]
    assert "WindowCenter" not in it.ds
    assert_close(get_image(alice, it.url + "/rendered"), voi_lut(it.ds), "VOI LUT Sequence")


def test_first_window_wins_over_the_voi_lut(corpus, alice):
    it = corpus["vlut+window"]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    assert_close(get_image(alice, it.url + "/rendered"), windowed(it.ds, c, w), f"file window {c}/{w} beside a VOI LUT")
    assert not np.array_equal(windowed(it.ds, c, w), voi_lut(it.ds)), "test data: window and LUT must differ"


def test_explicit_window_replaces_the_voi_lut(corpus, alice):
    it = corpus["vlut"]
    got = get_image(alice, it.url + "/rendered", params={"window": "300,500"})
    assert_close(got, windowed(it.ds, 300, 500), "window=300,500 on a VOI LUT instance")


def test_monochrome1_is_inverted(corpus, alice):
    it = corpus["mono1"]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    want = 255 - windowed(it.ds, c, w)
    assert_close(get_image(alice, it.url + "/rendered"), want, "MONOCHROME1, file window")
    got = get_image(alice, it.url + "/rendered", params={"window": "200,400"})
    assert_close(got, 255 - windowed(it.ds, 200, 400), "MONOCHROME1, window=200,400")


def test_presentation_lut_shape_inverse(corpus, alice):
    it = corpus["inverse"]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    assert_close(get_image(alice, it.url + "/rendered"), 255 - windowed(it.ds, c, w), "Presentation LUT Shape INVERSE")


@pytest.mark.parametrize("center,width", [(40, 400), (-600, 1500), (0, 1), (1000, 2)])
def test_signed_data_explicit_window(corpus, alice, center, width):
    it = corpus["ct-signed"]
    assert int(it.ds.PixelRepresentation) == 1 and float(it.ds.RescaleIntercept) != 0
    got = get_image(alice, it.url + "/rendered", params={"window": f"{center},{width},linear"})
    assert_close(got, windowed(it.ds, center, width), f"signed CT, window={center},{width}")


def test_voi_lut_function_sigmoid_from_the_file(corpus, alice):
    it = corpus["sigmoid"]
    assert it.ds.VOILUTFunction == "SIGMOID"
    assert_close(get_image(alice, it.url + "/rendered"), windowed(it.ds, 40, 400, "SIGMOID"), "file's SIGMOID window")
    # A requested window without a function is LINEAR, as in a presentation state.
    got = get_image(alice, it.url + "/rendered", params={"window": "40,400"})
    assert_close(got, windowed(it.ds, 40, 400, "LINEAR"), "window=40,400 on a SIGMOID file")


@pytest.mark.parametrize("function", ["sigmoid", "linear-exact"])
def test_window_function_parameter(corpus, alice, function):
    it = corpus["ct-signed"]
    got = get_image(alice, it.url + "/rendered", params={"window": f"100,700,{function}"})
    want = windowed(it.ds, 100, 700, function.upper().replace("-", "_"))
    assert_close(got, want, f"window=100,700,{function}")


def test_multiframe_first_frame_and_frames_n(corpus, alice):
    it = corpus["rtdose"]
    assert int(it.ds.NumberOfFrames) == 15 and "WindowCenter" not in it.ds
    assert_close(get_image(alice, it.url + "/rendered"), min_max(it.ds, 0), "multi-frame /rendered = frame 1")
    got = get_image(alice, it.url + "/frames/7/rendered")
    assert_close(got, min_max(it.ds, 6), "/frames/7/rendered")
    assert not np.array_equal(min_max(it.ds, 0), min_max(it.ds, 6))


def test_deflated_instance_renders(corpus, alice):
    it = corpus["deflated"]
    assert it.ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1.99"
    assert_close(get_image(alice, it.url + "/rendered"), min_max(it.ds), "deflated, min/max")


# ---------------------------------------------------------------------------
# Colour


def test_palette_colour(corpus, alice):
    it = corpus["palette"]
    rgb = apply_color_lut(it.ds.pixel_array, it.ds).astype(np.float64)
    if rgb.max() > 255:
        rgb = np.floor(rgb / 256)
    assert_close(get_image(alice, it.url + "/rendered"), rgb, "PALETTE COLOR", tolerance=1)


def test_ybr_full_422_is_converted_to_rgb(corpus, alice):
    it = corpus["ybr422"]
    want = pydicom.pixels.pixel_array(it.ds, as_rgb=True).astype(np.float64)
    assert_close(get_image(alice, it.url + "/rendered"), want, "native YBR_FULL_422", tolerance=1)


def test_rgb_second_frame(corpus, alice):
    it = corpus["rgb-2frame"]
    frames = it.ds.pixel_array
    assert_close(get_image(alice, it.url + "/frames/2/rendered"), frames[1].astype(np.float64), "RGB frame 2")


# ---------------------------------------------------------------------------
# Media types, viewport, thumbnails, study and series


def test_jpeg_within_psnr_bound(corpus, alice):
    it = corpus["mr"]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    got = get_image(alice, it.url + "/rendered", "image/jpeg", {"quality": "95"})
    p = psnr(got, windowed(it.ds, c, w))
    assert p >= 38, f"JPEG (quality 95) PSNR {p:.1f} dB against pydicom's window"


def test_gif_is_exact_for_grey(corpus, alice):
    it = corpus["mono1"]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    got = get_image(alice, it.url + "/rendered", "image/gif")
    got = got if got.ndim == 2 else got[..., 0]
    assert_close(got, 255 - windowed(it.ds, c, w), "GIF of MONOCHROME1")


def test_gif_of_a_larger_image_and_of_colour(corpus, alice):
    # 128 x 128 samples fill GIF's 4096-code LZW table several times over.
    it = corpus["ct-signed"]
    got = get_image(alice, it.url + "/rendered", "image/gif", {"window": "40,400"})
    got = got if got.ndim == 2 else got[..., 0]
    assert_close(got, windowed(it.ds, 40, 400), "GIF of a 128x128 CT")
    # Colour maps to a fixed 6 x 7 x 6 palette: within half a palette step.
    it = corpus["rgb-2frame"]
    got = get_image(alice, it.url + "/rendered", "image/gif")
    assert_close(got, it.ds.pixel_array[0].astype(np.float64), "GIF of RGB", tolerance=26)


def test_unsupported_media_type_is_406(corpus, alice):
    it = corpus["mr"]
    r = alice.get(it.url + "/rendered", headers={"Accept": "image/webp"})
    assert r.status_code == 406, r.status_code
    assert "image/png" in r.json()["error"], r.text
    r = alice.get(it.url + "/rendered?accept=image/png", headers={"Accept": "image/webp"})
    assert r.status_code == 200 and r.headers["Content-Type"] == PNG


def test_viewport_source_region_crop_flip_and_zoom(corpus, alice):
    it = corpus["ct-signed"]
    want = windowed(it.ds, 40, 400)
    # The region of 40 columns from (60, 10) flipped left-right (sw < 0), 30 rows:
    # 1:1, then zoomed twice.
    region = want[10:40, 60:100][:, ::-1]
    got = get_image(alice, it.url + "/rendered", params={"window": "40,400", "viewport": "40,30,60,10,-40,30"})
    assert_close(got, region, "viewport 40,30 of region (60,10) -40x30")
    got = get_image(alice, it.url + "/rendered", params={"window": "40,400", "viewport": "80,80,60,10,-40,30"})
    assert_close(got, np.repeat(np.repeat(region, 2, axis=0), 2, axis=1), "the same region in an 80x80 viewport")
    r = alice.get(it.url + "/rendered?viewport=64,64,900,0,10,10")
    assert r.status_code == 400, r.status_code


def test_thumbnail_uses_the_pipeline(corpus, alice):
    it = corpus["vlut"]
    assert int(it.ds.Rows) <= 128 and int(it.ds.Columns) <= 128
    assert_close(get_image(alice, it.url + "/thumbnail"), voi_lut(it.ds), "thumbnail of a VOI LUT instance")
    series = it.url.rsplit("/instances/", 1)[0]
    assert_close(get_image(alice, series + "/thumbnail"), voi_lut(it.ds), "series thumbnail")


@pytest.mark.parametrize("level", ["study", "series"])
def test_study_and_series_rendered_are_multipart(corpus, alice, level):
    it = corpus["mono1"]
    study = f"/studies/{it.ds.StudyInstanceUID}"
    url = study if level == "study" else it.url.rsplit("/instances/", 1)[0]
    r = alice.get(url + "/rendered", headers={"Accept": "multipart/related; type=\"image/png\""})
    assert r.status_code == 200, r.text[:300]
    parts = parse_multipart(r.headers["Content-Type"], r.content)
    assert len(parts) == (len(corpus) if level == "study" else 1)
    images = [np.asarray(Image.open(io.BytesIO(p.body))).astype(np.float64) for p in parts]
    c, w = float(it.ds.WindowCenter), float(it.ds.WindowWidth)
    want = 255 - windowed(it.ds, c, w)
    assert any(i.shape == want.shape and np.array_equal(i, want) for i in images), "MONOCHROME1 image among the parts"
