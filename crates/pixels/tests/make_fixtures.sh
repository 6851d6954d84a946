#!/usr/bin/env bash
# Regenerates tests/fixtures: small originals (Explicit VR Little Endian,
# made with pydicom/numpy) and the same pixels encoded by third-party
# encoders (dcmtk, gdcm, OpenJPH, pydicom's RLE encoder). The tests compare
# our decoder's output with the originals' native bytes, never with itself.
# Needs: dcmtk, gdcmconv, ojph_compress, and a Python with pydicom + numpy
# (PYTHON, default /tmp/probe-venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/fixtures"
PY=${PYTHON:-/tmp/probe-venv/bin/python}
rm -f ./*.dcm ./*.raw ./*.j2c ./*.yuv ./*.ppm

"$PY" - <<'PYEOF'
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

rng = np.random.default_rng(1234)

def base(rows, cols, spp, bits_alloc, bits_stored, signed, photometric):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Fixture^Pixels"; ds.PatientID = "PIX"; ds.Modality = "OT"
    ds.Rows = rows; ds.Columns = cols; ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = photometric
    if spp == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits_alloc; ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1; ds.PixelRepresentation = 1 if signed else 0
    return ds

def save(ds, name, raw_bytes):
    ds.PixelData = raw_bytes
    ds.save_as(name, enforce_file_format=True)

yy, xx = np.mgrid[0:64, 0:64]
r2 = (yy - 32) ** 2 + (xx - 30) ** 2
# CT-like phantom in HU: air, body, bone ring, noise.
hu = np.full((64, 64), -1000.0)
hu[r2 < 28 ** 2] = 40.0
hu[(r2 > 18 ** 2) & (r2 < 21 ** 2)] = 1200.0
hu[(yy - 40) ** 2 + (xx - 24) ** 2 < 36] = -600.0
hu += rng.normal(0, 12, hu.shape)

# 16-bit signed, full range, with extremes that break naive decoders.
ct16 = np.round(hu).astype(np.int16)
ct16[0, 0] = -32768; ct16[0, 1] = 32767; ct16[0, 2] = -1; ct16[0, 3] = 0
ds = base(64, 64, 1, 16, 16, True, "MONOCHROME2")
ds.Modality = "CT"; ds.RescaleIntercept = 0; ds.RescaleSlope = 1
ds.WindowCenter = 40; ds.WindowWidth = 400
save(ds, "ct16s.dcm", ct16.astype("<i2").tobytes())

# 12-bit signed in 16 bits allocated, high bits left zero (sign extension is the reader's job).
ct12s = np.clip(np.round(hu), -2048, 2047).astype(np.int16)
ds = base(64, 64, 1, 16, 12, True, "MONOCHROME2")
ds.Modality = "CT"; ds.RescaleIntercept = 0; ds.RescaleSlope = 1
save(ds, "ct12s.dcm", (ct12s.astype(np.int32) & 0x0FFF).astype("<u2").tobytes())

# 12-bit unsigned CT storage (intercept -1024), for 12-bit JPEG.
ct12u = np.clip(np.round(hu) + 1024, 0, 4095).astype(np.uint16)
ds = base(64, 64, 1, 16, 12, False, "MONOCHROME2")
ds.Modality = "CT"; ds.RescaleIntercept = -1024; ds.RescaleSlope = 1
ds.WindowCenter = 40; ds.WindowWidth = 400
save(ds, "ct12u.dcm", ct12u.astype("<u2").tobytes())

# 8-bit grey: smooth shapes (JPEG-friendly) plus a little noise.
mono8 = np.clip(60 + 2.5 * xx + 40 * np.sin(yy / 6.0) + rng.normal(0, 2, xx.shape), 0, 255).astype(np.uint8)
mono8[r2 < 10 ** 2] = 230
ds = base(64, 64, 1, 8, 8, False, "MONOCHROME2")
save(ds, "mono8.dcm", mono8.tobytes())

# 8-bit RGB: distinct hues so a wrong colour transform is caught.
rgb = np.zeros((64, 64, 3), np.uint8)
rgb[..., 0] = np.clip(4 * xx, 0, 255)
rgb[..., 1] = np.clip(4 * yy, 0, 255)
rgb[..., 2] = np.clip(255 - 2 * (xx + yy), 0, 255)
rgb[8:24, 8:24] = (255, 0, 0); rgb[8:24, 40:56] = (0, 200, 0); rgb[40:56, 8:24] = (20, 40, 230)
ds = base(64, 64, 3, 8, 8, False, "RGB")
save(ds, "rgb8.dcm", rgb.tobytes())
# Same image for OpenJPH.
with open("rgb8.ppm", "wb") as f:
    f.write(b"P6\n64 64\n255\n" + rgb.tobytes())
with open("ct16s.yuv", "wb") as f:
    f.write(ct16.astype("<i2").tobytes())
with open("ct12u.yuv", "wb") as f:
    f.write(ct12u.astype("<u2").tobytes())

# 32-bit unsigned (dcmtk's RLE encoder stops at 16 bits; pydicom's handles 32).
u32 = ((xx[:32, :32].astype(np.uint64) * 123457 + yy[:32, :32].astype(np.uint64) * 98765431) % (2**32)).astype(np.uint32)
u32[0, 0] = 0xFFFFFFFF
ds = base(32, 32, 1, 32, 32, False, "MONOCHROME2")
save(ds, "u32.dcm", u32.astype("<u4").tobytes())
PYEOF

# RLE Lossless (dcmtk).
for f in ct16s ct12s mono8 rgb8; do dcmcrle "$f.dcm" "${f}_rle.dcm"; done
# RLE Lossless, 32-bit: neither dcmtk nor pydicom encode it, so a plain
# PackBits encoder written here from PS3.5 Annex G (independent of the Rust decoder).
"$PY" - <<'PYEOF'
import struct
import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

def packbits(b):
    out = bytearray(); i = 0
    while i < len(b):
        j = i
        while j + 1 < len(b) and b[j + 1] == b[i] and j - i < 127:
            j += 1
        if j > i:  # replicate run of j - i + 1 bytes
            out += bytes([(257 - (j - i + 1)) & 0xFF, b[i]]); i = j + 1
        else:      # literal run until the next repeat
            j = i
            while j < len(b) and j - i < 128 and not (j + 1 < len(b) and b[j + 1] == b[j]):
                j += 1
            j = max(j, i + 1)
            out += bytes([j - i - 1]) + b[i:j]; i = j
    if len(out) % 2:
        out.append(0x80)  # no-op pad to even length
    return bytes(out)

ds = pydicom.dcmread("u32.dcm")
arr = np.frombuffer(ds.PixelData, "<u4")
planes = [bytes(((arr >> s) & 0xFF).astype(np.uint8)) for s in (24, 16, 8, 0)]
segs = [packbits(p) for p in planes]
offsets, pos = [], 64
for s in segs:
    offsets.append(pos); pos += len(s)
header = struct.pack("<16I", len(segs), *offsets, *([0] * (15 - len(segs))))
ds.file_meta.TransferSyntaxUID = RLELossless
ds.PixelData = encapsulate([header + b"".join(segs)])
ds["PixelData"].VR = "OB"
ds.save_as("u32_rle.dcm")
PYEOF

# JPEG Lossless SV1 (.70) and other predictors (.57).
for f in ct16s ct12s mono8 rgb8; do dcmcjpeg +e1 "$f.dcm" "${f}_jpll_sv1.dcm"; done
for sv in 2 3 4 5 6 7; do dcmcjpeg +el +sv "$sv" ct16s.dcm "ct16s_jpll_p$sv.dcm"; done
# JPEG Baseline (.50): YCbCr-coded colour (YBR_FULL_422) and RGB-coded colour.
dcmcjpeg +eb +q 90 mono8.dcm mono8_jpeg_baseline.dcm
dcmcjpeg +eb +q 90 rgb8.dcm rgb8_jpeg_baseline_ybr.dcm
dcmcjpeg +eb +q 90 +cr rgb8.dcm rgb8_jpeg_baseline_rgb.dcm
# JPEG Extended (.51), 12-bit.
dcmcjpeg +ee +q 90 ct12u.dcm ct12u_jpeg_extended.dcm

# JPEG 2000 (.90 lossless, .91 lossy) via gdcm.
for f in ct16s ct12s rgb8; do gdcmconv --j2k "$f.dcm" "${f}_j2k.dcm"; done
gdcmconv --j2k --lossy -r 8 ct16s.dcm ct16s_j2k_lossy.dcm

# HTJ2K (.201 lossless, .203 lossy) via OpenJPH, wrapped by pydicom.
ojph_compress -i ct16s.yuv -o ct16s.j2c -dims '{64,64}' -num_comps 1 -signed true -bit_depth 16 -downsamp '{1,1}' -reversible true
ojph_compress -i ct12u.yuv -o ct12u.j2c -dims '{64,64}' -num_comps 1 -signed false -bit_depth 12 -downsamp '{1,1}' -reversible true
ojph_compress -i rgb8.ppm -o rgb8_lossy.j2c -reversible false -qstep 0.01
"$PY" - <<'PYEOF'
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID
def wrap(src, j2c, ts, out, photometric=None):
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = UID(ts)
    ds.PixelData = encapsulate([open(j2c, "rb").read()])
    ds["PixelData"].VR = "OB"
    if photometric:
        ds.PhotometricInterpretation = photometric
    ds.save_as(out)
wrap("ct16s.dcm", "ct16s.j2c", "1.2.840.10008.1.2.4.201", "ct16s_htj2k.dcm")
wrap("ct12u.dcm", "ct12u.j2c", "1.2.840.10008.1.2.4.201", "ct12u_htj2k.dcm")
wrap("rgb8.dcm", "rgb8_lossy.j2c", "1.2.840.10008.1.2.4.203", "rgb8_htj2k_lossy.dcm", "YBR_ICT")
PYEOF

# Explicit VR Big Endian (retired, still seen).
dcmconv +tb ct16s.dcm ct16s_be.dcm

rm -f ./*.j2c ./*.yuv ./*.ppm

# dcmtk rescales pixel values when it compresses lossily, so those files get
# a reference decode by pydicom/pylibjpeg (libjpeg) instead: raw little endian
# samples of the width Bits Allocated gives.
"$PY" - <<'PYEOF'
import pydicom
for f in ["ct12u_jpeg_extended", "mono8_jpeg_baseline"]:
    a = pydicom.dcmread(f + ".dcm").pixel_array
    a.astype(a.dtype.newbyteorder("<")).tofile(f + ".ref.raw")
PYEOF
du -ch ./*.dcm | tail -1

# Sanity check of the fixtures with an independent decoder (pydicom + pylibjpeg):
# every lossless file must equal its original.
"$PY" - <<'PYEOF'
import glob
import numpy as np
import pydicom
for f in sorted(glob.glob("*_*.dcm")):
    src = f.split("_")[0] + ".dcm"
    a = pydicom.dcmread(src).pixel_array.astype(np.int64)
    try:
        b = pydicom.dcmread(f).pixel_array.astype(np.int64)
    except Exception as e:  # some decoders are missing in the venv: fine
        print(f"{f}: pydicom cannot decode ({type(e).__name__})"); continue
    d = np.abs(a - b).max() if a.shape == b.shape else "shape " + str(b.shape)
    print(f"{f}: max |diff| vs {src} = {d}")
PYEOF
