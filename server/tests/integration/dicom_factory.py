"""Test instances made at test time: pydicom-built images, dcmtk-compressed variants and
CT series from `shared/gen_ct_series.py`.

Everything here is an independent producer of DICOM bytes (pydicom, dcmtk, the shared
generator); nothing here knows the server. Character-set variants are written byte by
byte so that the test, not pydicom's encoder, decides what goes on the wire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import (
    ExplicitVRLittleEndian,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
MULTIFRAME_GRAYSCALE_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"

PATIENT_NAME = Tag(0x0010, 0x0010)


# ---------------------------------------------------------------------------
# Character sets


def tis620(text: str) -> bytes:
    """Thai text in TIS-620 (the byte values ISO_IR 166 / ISO 2022 IR 166 use)."""
    return text.encode("tis_620")


def pn_bytes_iso_2022_ir_166(family: str, given: str) -> bytes:
    """A PN value in ISO 2022 with Thai in G1: `ESC - T` designates TIS-620 before each
    Thai component; per PS3.5 6.1.2.5.3 the designation is lost at the `^` delimiter
    and has to be repeated (the PS3.5 H.3.1 Korean example does the same)."""
    esc_thai = b"\x1b\x2d\x54"  # ESC - T : ISO-IR 166 into G1
    return esc_thai + tis620(family) + b"^" + esc_thai + tis620(given)


def set_raw_patient_name(ds: Dataset, value: bytes) -> None:
    """Put PatientName into `ds` as exactly these bytes (padded to even length)."""
    if len(value) % 2:
        value += b" "
    ds[PATIENT_NAME] = RawDataElement(PATIENT_NAME, "PN", len(value), value, 0, False, True)


# ---------------------------------------------------------------------------
# pydicom-built instances


@dataclass
class Study:
    """UIDs shared by the instances of one test study."""

    patient_id: str
    study_uid: str = field(default_factory=generate_uid)

    def new_series_uid(self) -> str:
        return generate_uid()


def new_image(
    *,
    patient_id: str,
    patient_name: str = "TEST^PATIENT",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    sop_class: str = SecondaryCaptureImageStorage,
    modality: str = "OT",
    charset: str | None = None,
    study_date: str = "20230615",
    study_time: str = "101500",
    accession: str = "",
    study_description: str = "",
    series_description: str = "",
    series_number: int = 1,
    instance_number: int = 1,
    referring: str = "",
    study_id: str = "1",
    birth_date: str = "19700101",
    sex: str = "O",
    age: str | None = None,
    institution: str | None = None,
    pixels: np.ndarray | None = None,
    rgb: bool = False,
    bits_stored: int | None = None,
) -> Dataset:
    """A small image instance with the given identity. `pixels`: (rows, cols) or
    (frames, rows, cols) grey, or (rows, cols, 3) uint8 when `rgb`."""
    if pixels is None:
        pixels = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 3) % 4096
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.ImageType = ["DERIVED", "SECONDARY"] if sop_class != CT_IMAGE_STORAGE else ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyDate = study_date
    ds.SeriesDate = study_date
    ds.StudyTime = study_time
    ds.SeriesTime = study_time
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = "RANGSI-IT"
    if institution is not None:
        ds.InstitutionName = institution
    ds.ReferringPhysicianName = referring
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = age
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyID = study_id
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    if rgb:
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = pixels.shape[:2]
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        if pixels.ndim == 3:
            ds.NumberOfFrames = pixels.shape[0]
            ds.FrameIncrementPointer = Tag(0x0018, 0x2002)  # FrameLabelVector
        ds.Rows, ds.Columns = pixels.shape[-2:]
        ds.BitsAllocated = pixels.dtype.itemsize * 8
        ds.BitsStored = bits_stored or ds.BitsAllocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
BASIC_TEXT_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.11"

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _document_base(sop_class: str, modality: str, *, patient_id: str, study_uid: str | None) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyDate = ds.ContentDate = "20230615"
    ds.StudyTime = ds.ContentTime = "101500"
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "RANGSI-IT"
    ds.ReferringPhysicianName = ""
    ds.PatientName = "DOCUMENT^PATIENT"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def new_pdf(*, patient_id: str, study_uid: str | None = None) -> Dataset:
    """An Encapsulated PDF instance (a storage class without pixel data)."""
    ds = _document_base(ENCAPSULATED_PDF_STORAGE, "DOC", patient_id=patient_id, study_uid=study_uid)
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "ใบรายงานผล"
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = MINIMAL_PDF + (b"\0" if len(MINIMAL_PDF) % 2 else b"")
    return ds


def code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def new_text_sr(*, patient_id: str, text: str, study_uid: str | None = None) -> Dataset:
    """A Basic Text SR: a container holding one TEXT finding (nested sequences, UTF-8)."""
    ds = _document_base(BASIC_TEXT_SR_STORAGE, "SR", patient_id=patient_id, study_uid=study_uid)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [code("18748-4", "LN", "Diagnostic Imaging Report")]
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    finding = Dataset()
    finding.RelationshipType = "CONTAINS"
    finding.ValueType = "TEXT"
    finding.ConceptNameCodeSequence = [code("121071", "DCM", "Finding")]
    finding.TextValue = text
    ds.ContentSequence = [finding]
    return ds


def save(ds: Dataset, path: Path, *, rle: bool = False) -> Path:
    """Write `ds` as a Part-10 file (RLE Lossless-compressed with pydicom when `rle`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if rle:
        ds.compress(RLELossless)
    ds.save_as(path, enforce_file_format=True)
    return path


def noise_image(rows: int, cols: int, *, seed: int, dtype=np.uint16, maximum: int = 4095, frames: int | None = None):
    """Smooth gradient plus noise: compressible but not trivial, every row different."""
    rng = np.random.default_rng(seed)
    shape = (rows, cols) if frames is None else (frames, rows, cols)
    y = np.arange(rows, dtype=np.float64)[:, None]
    x = np.arange(cols, dtype=np.float64)[None, :]
    base = (x * 7 + y * 13) % (maximum + 1)
    img = base + rng.integers(0, 40, size=shape)
    if frames is not None:
        img = img + (np.arange(frames) * 97)[:, None, None]
    return (np.clip(img, 0, maximum)).astype(dtype)


def rgb_image(rows: int, cols: int) -> np.ndarray:
    """An RGB test card: each channel a different ramp, so swapped channels or a
    transposed image are visible."""
    y = np.arange(rows)[:, None]
    x = np.arange(cols)[None, :]
    r = (x * 255 // max(cols - 1, 1)) + 0 * y
    g = (y * 255 // max(rows - 1, 1)) + 0 * x
    b = ((x + y) * 37) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


# ---------------------------------------------------------------------------
# Third-party encoders (dcmtk) and the shared CT generator


def run_tool(args: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, timeout=120, **kw)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited {proc.returncode}:\n"
        f"{proc.stdout.decode(errors='replace')}\n{proc.stderr.decode(errors='replace')}"
    )
    return proc


def dcmtk_compress(src: Path, dst: Path, kind: str) -> Path:
    """Compress with dcmtk: kind in {jpeg-lossless-sv1, jpeg-baseline, rle, jpeg-ls}."""
    from dimse import dcmtk_tool

    tool = {
        "jpeg-lossless-sv1": ["dcmcjpeg", "+e1"],
        "jpeg-baseline": ["dcmcjpeg", "+eb"],
        "rle": ["dcmcrle"],
        "jpeg-ls": ["dcmcjpls", "+el"],
    }[kind]
    dst.parent.mkdir(parents=True, exist_ok=True)
    run_tool([dcmtk_tool(tool[0]), *tool[1:], str(src), str(dst)])
    return dst


@dataclass
class CtSeries:
    """One study written by gen_ct_series.py (one series)."""

    study_uid: str
    series_uid: str
    patient_id: str
    patient_name: str
    accession: str
    transfer_syntax: str
    files: list[Path]

    def sop_uids(self) -> list[str]:
        return [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in self.files]


def gen_ct(
    shared: Path,
    out: Path,
    *,
    slices: int,
    ts: str = "explicit",
    thai: bool = False,
    patient_id: str | None = None,
    rows: int = 512,
    seed: int = 1,
    studies: int = 1,
    study_description: str | None = None,
) -> list[CtSeries]:
    """Run the shared CT generator (random UIDs) and return its studies."""
    args = [
        sys.executable, str(shared / "gen_ct_series.py"), "--out", str(out), "--slices", str(slices),
        "--ts", ts, "--rows", str(rows), "--cols", str(rows), "--seed", str(seed),
        "--studies", str(studies), "--random-uids",
    ]
    if thai:
        args.append("--thai")
    if patient_id:
        args += ["--patient-id", patient_id]
    if study_description:
        args += ["--study-description", study_description]
    run_tool(args)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [
        CtSeries(
            study_uid=s["study_uid"],
            series_uid=s["series_uid"],
            patient_id=s["patient_id"],
            patient_name=s["patient_name"],
            accession=s["accession"],
            transfer_syntax=s["transfer_syntax"],
            files=[Path(s["dir"]) / f for f in s["files"]],
        )
        for s in manifest["studies"]
    ]


# ---------------------------------------------------------------------------
# Oracles


def frames_as_stored(ds: Dataset) -> list[bytes]:
    """Each frame's bytes as stored: native frames sliced out of PixelData, or the
    concatenated fragments of each encapsulated frame."""
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=n))
    size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
    return [bytes(ds.PixelData[i * size:(i + 1) * size]) for i in range(n)]


def decoded_frames(ds: Dataset) -> list[bytes]:
    """Native little-endian bytes of each decoded frame, by pydicom + pylibjpeg
    (colour interleaved, as PlanarConfiguration 0)."""
    arr = ds.pixel_array
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if n == 1:
        arr = arr[None, ...]
    return [np.ascontiguousarray(f).astype(f.dtype.newbyteorder("<")).tobytes() for f in arr]


def dataset_fingerprint(ds: Dataset) -> dict:
    """Every element outside the file meta group, as DICOM JSON with all binary values
    inline: equal fingerprints mean equal dataset content."""
    clone = Dataset(ds)
    return clone.to_json_dict(bulk_data_threshold=1 << 40)


def read(path_or_bytes) -> Dataset:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        from io import BytesIO

        return pydicom.dcmread(BytesIO(path_or_bytes), force=True)
    return pydicom.dcmread(os.fspath(path_or_bytes), force=True)
