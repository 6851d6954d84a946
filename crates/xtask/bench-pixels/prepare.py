#!/usr/bin/env python3
"""Test frames for `cargo xtask bench pixels`: one CT series encoded by third-party
encoders into each benchmarked transfer syntax, one file per frame.

Usage: prepare.py GEN_CT_SERIES OUT [--slices N] [--seed S]

1. `gen_ct_series.py` makes N 512x512 signed 16-bit CT slices (explicit VR LE).
2. Encoders: dcmtk `dcmcrle` (RLE), `dcmcjpeg +e1` (JPEG Lossless SV1), `dcmcjpls`
   (JPEG-LS lossless), `gdcmconv --j2k` (JPEG 2000 lossless), OpenJPH `ojph_compress`
   (HTJ2K lossless; its codestream is wrapped in DICOM here with pydicom), and
   `dcmcjpeg +eb` (JPEG Baseline) of an 8-bit windowed copy of the slices.
3. Every encoded file is decoded with pydicom (pylibjpeg, an independent decoder):
   the lossless ones must give back the source pixels exactly, or this script fails.
4. Each frame's encapsulated bytes (fragments joined) go to OUT/frames/SYNTAX/NNN.bin,
   OUT/manifest.json lists syntaxes, descriptions, files and the checksum of the
   source pixels of each frame (see `checksum`), and OUT/manifest.tsv the syntaxes
   with their sizes, for xtask.

Every encoder call is bounded in time; the script exits non-zero on any failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import UID

STEP_SECONDS = 120


def checksum(pixels):
    """(sum of v, sum of v * ((i mod 65521) + 1)) over the samples in order, as int64.

    The same two numbers are computed by the native bench (Rust) and in the browser
    (exact in doubles for 512x512 16-bit frames), so a wrong sign, byte order or pixel
    order anywhere shows up."""
    v = np.asarray(pixels).reshape(-1).astype(np.int64)
    w = (np.arange(v.size, dtype=np.int64) % 65521) + 1
    return [int(v.sum()), int((v * w).sum())]


def run(cmd):
    started = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_SECONDS)
    except subprocess.TimeoutExpired:
        sys.exit(f"prepare: `{' '.join(map(str, cmd))}` took over {STEP_SECONDS} s")
    if out.returncode != 0:
        sys.exit(f"prepare: `{' '.join(map(str, cmd))}` failed: {out.stderr.strip()[-600:]}")
    return time.monotonic() - started


def frame_bytes(ds):
    """The bytes of the single frame of `ds`: Pixel Data itself for native syntaxes,
    the frame's fragments joined for encapsulated ones."""
    if not ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return bytes(ds.PixelData)
    frames = list(generate_frames(ds.PixelData, number_of_frames=1))
    if len(frames) != 1:
        sys.exit(f"prepare: expected one frame, found {len(frames)}")
    return frames[0]


def eight_bit(ds, out_path):
    """An 8-bit unsigned copy of a CT slice, soft-tissue window (W 400, L 40 HU)."""
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    lo = 40.0 - 200.0
    u8 = np.clip((hu - lo) / 400.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ds8 = ds.copy()
    ds8.BitsAllocated = 8
    ds8.BitsStored = 8
    ds8.HighBit = 7
    ds8.PixelRepresentation = 0
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth",
                    "SmallestImagePixelValue", "LargestImagePixelValue"):
        if keyword in ds8:
            delattr(ds8, keyword)
    ds8.PixelData = u8.tobytes()
    ds8["PixelData"].VR = "OB"
    ds8.save_as(out_path, enforce_file_format=True)
    return u8


def htj2k(src_ds, work, out_path):
    """HTJ2K lossless with OpenJPH's `ojph_compress` (raw signed 16-bit input), wrapped
    in DICOM as High-Throughput JPEG 2000 Lossless Only (1.2.840.10008.1.2.4.201)."""
    pixels = src_ds.pixel_array
    raw = work / "slice.yuv"
    j2c = work / "slice.j2c"
    raw.write_bytes(pixels.astype("<i2" if src_ds.PixelRepresentation else "<u2").tobytes())
    run(["ojph_compress", "-i", raw, "-o", j2c, "-reversible", "true", "-num_comps", "1",
         "-signed", "true" if src_ds.PixelRepresentation else "false",
         "-bit_depth", str(src_ds.BitsStored),
         "-dims", f"{{{src_ds.Columns},{src_ds.Rows}}}", "-downsamp", "{1,1}"])
    ds = src_ds.copy()
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.201")
    ds.PixelData = encapsulate([j2c.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(out_path, enforce_file_format=True)


# id, label, transfer syntax, encoder (None: the source file itself), bit depth
SYNTAXES = [
    ("native", "Explicit VR Little Endian (uncompressed)", "1.2.840.10008.1.2.1", None, 16),
    ("rle", "RLE Lossless", "1.2.840.10008.1.2.5", ["dcmcrle"], 16),
    ("jpeg-lossless", "JPEG Lossless SV1", "1.2.840.10008.1.2.4.70", ["dcmcjpeg", "+e1"], 16),
    ("jpeg-ls", "JPEG-LS Lossless", "1.2.840.10008.1.2.4.80", ["dcmcjpls", "+el"], 16),
    ("j2k", "JPEG 2000 Lossless", "1.2.840.10008.1.2.4.90", ["gdcmconv", "--j2k"], 16),
    ("htj2k", "HTJ2K Lossless", "1.2.840.10008.1.2.4.201", "ojph", 16),
    ("jpeg-baseline", "JPEG Baseline 8-bit", "1.2.840.10008.1.2.4.50", ["dcmcjpeg", "+eb"], 8),
]

ENCODER_NAMES = {
    "native": "none (gen_ct_series.py output)",
    "rle": "dcmtk `dcmcrle`",
    "jpeg-lossless": "dcmtk `dcmcjpeg +e1`",
    "jpeg-ls": "dcmtk `dcmcjpls +el`",
    "j2k": "GDCM `gdcmconv --j2k`",
    "htj2k": "OpenJPH `ojph_compress -reversible true`",
    "jpeg-baseline": "dcmtk `dcmcjpeg +eb` (quality 90) of an 8-bit copy (W 400 / L 40)",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen_ct_series")
    ap.add_argument("out", type=Path)
    ap.add_argument("--slices", type=int, default=20)
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()

    out = args.out
    if out.exists():
        shutil.rmtree(out)
    source = out / "source"
    dicom = out / "dicom"
    work = out / "work"
    for d in (dicom, work):
        d.mkdir(parents=True)
    started = time.monotonic()
    run([sys.executable, args.gen_ct_series, "--out", source, "--slices", str(args.slices),
         "--seed", str(args.seed)])
    slices = sorted(source.glob("**/*.dcm"))
    if len(slices) != args.slices:
        sys.exit(f"prepare: gen_ct_series.py wrote {len(slices)} files, not {args.slices}")

    manifest = {"slices": args.slices, "seed": args.seed, "syntaxes": []}
    eight = dicom / "source8"
    eight.mkdir()
    for sid, label, ts, encoder, bits in SYNTAXES:
        (dicom / sid).mkdir()
        frames_dir = out / "frames" / sid
        frames_dir.mkdir(parents=True)
        entry = {"id": sid, "label": label, "ts": ts, "encoder": ENCODER_NAMES[sid],
                 "lossy": sid == "jpeg-baseline", "files": [], "expected": [], "bytes": 0}
        encode_s = 0.0
        for n, src in enumerate(slices):
            src_ds = pydicom.dcmread(src)
            source_pixels = src_ds.pixel_array
            src_path = src
            if bits == 8:
                src_path = eight / src.name
                source_pixels = eight_bit(src_ds, src_path)
            dst = dicom / sid / src.name
            t0 = time.monotonic()
            if encoder is None:
                shutil.copy(src_path, dst)
            elif encoder == "ojph":
                htj2k(src_ds, work, dst)
            else:
                run(encoder + [src_path, dst])
            encode_s += time.monotonic() - t0
            ds = pydicom.dcmread(dst)
            if ds.file_meta.TransferSyntaxUID != ts:
                sys.exit(f"prepare: {sid}: encoder wrote {ds.file_meta.TransferSyntaxUID}, not {ts}")
            decoded = ds.pixel_array
            if not entry["lossy"] and not np.array_equal(decoded, source_pixels):
                sys.exit(f"prepare: {sid}: pydicom's decoding of {dst.name} differs from the source")
            if n == 0:
                entry.update(rows=int(ds.Rows), columns=int(ds.Columns),
                             bits_allocated=int(ds.BitsAllocated), bits_stored=int(ds.BitsStored),
                             high_bit=int(ds.HighBit), pixel_representation=int(ds.PixelRepresentation),
                             photometric=str(ds.PhotometricInterpretation).strip())
            data = frame_bytes(ds)
            name = f"{n:03}.bin"
            (frames_dir / name).write_bytes(data)
            entry["files"].append(f"frames/{sid}/{name}")
            entry["expected"].append(checksum(source_pixels))
            entry["bytes"] += len(data)
        entry["encode_seconds"] = round(encode_s, 2)
        manifest["syntaxes"].append(entry)
        print(f"prepare: {sid}: {len(slices)} frames, {entry['bytes'] / len(slices) / 1024:.0f} KiB/frame "
              f"({encode_s:.1f} s)", flush=True)
    shutil.rmtree(work)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    # The same list for xtask, which reads no JSON: id, label, ts, encoder, frames, bytes.
    (out / "manifest.tsv").write_text("".join(
        "\t".join([e["id"], e["label"], e["ts"], e["encoder"], str(len(e["files"])), str(e["bytes"])]) + "\n"
        for e in manifest["syntaxes"]))
    print(f"prepare: done in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
