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

# ---- JPEG-LS (.80 lossless, .81 near-lossless) ----
# From the originals above, by two independent encoders: dcmtk's `dcmcjpls`
# (its own CharLS 1.x fork) and CharLS 2.x through the pillow-jpls Python
# package (custom MAXVAL, 2- and 5-bit samples, restart intervals, a SPIFF
# header), whose codestreams pydicom wraps. Restart markers: no encoder here
# writes them, so strips of a few lines are encoded as separate images and
# their entropy-coded segments joined with RSTm (T.87 resets contexts, run
# index and the line above at each restart, so the result is exactly what an
# encoder with DRI would write). This section runs on its own too, leaving
# the other fixtures as they are:
#   cd tests/fixtures && PY=... bash -c "set -euo pipefail; $(sed -n '/^# ---- JPEG-LS/,$p' ../make_fixtures.sh)"
# Needs: dcmcjpls, and JLS_PYTHON (default /tmp/jls-venv/bin/python) with
# numpy, pydicom and pillow-jpls; PY's pylibjpeg-libjpeg checks the results.
JPY=${JLS_PYTHON:-/tmp/jls-venv/bin/python}
rm -f ./*_jls*.dcm mono5.dcm mono2.dcm
# dcmtk writes 12-bit data as P=16 (MAXVAL 65535 in an LSE segment).
for f in ct16s ct12s ct12u mono8; do dcmcjpls +el "$f.dcm" "${f}_jls.dcm"; done
dcmcjpls +el +in rgb8.dcm rgb8_jls_ilv0.dcm
dcmcjpls +el +il rgb8.dcm rgb8_jls_ilv1.dcm
dcmcjpls +el +is rgb8.dcm rgb8_jls_ilv2.dcm
# Custom thresholds and RESET (LSE type 1).
dcmcjpls +el +t1 5 +t2 20 +t3 90 +rs 32 ct16s.dcm ct16s_jls_presets.dcm
# Near-lossless (dcmtk refuses signed data here): the name gives NEAR.
dcmcjpls +en +md 3 ct12u.dcm ct12u_jls_near3.dcm
dcmcjpls +en +md 2 mono8.dcm mono8_jls_near2.dcm
dcmcjpls +en +md 1 +in rgb8.dcm rgb8_jls_near1_ilv0.dcm
dcmcjpls +en +md 2 +il rgb8.dcm rgb8_jls_near2_ilv1.dcm
dcmcjpls +en +md 3 +is rgb8.dcm rgb8_jls_near3_ilv2.dcm
"$JPY" - <<'PYEOF'
import io
import numpy as np
import pillow_jpls  # noqa: F401 (registers the JPEG-LS plugin)
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, UID, generate_uid

def jls(pixels, **options):
    """CharLS 2.x codestream of a 2-D uint8/uint16 or an RGB uint8 array, no SPIFF unless asked."""
    options.setdefault("spiff", None)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG-LS", **options)
    return out.getvalue()

def wrap(src, stream, out, ts="1.2.840.10008.1.2.4.80"):
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = UID(ts)
    if len(stream) % 2:
        stream += b"\0"
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.save_as(out)

def segments(stream):
    """(marker, segment bytes) up to SOS, then the entropy-coded data."""
    i, out = 2, []
    while True:
        assert stream[i] == 0xFF
        m = stream[i + 1]
        n = int.from_bytes(stream[i + 2:i + 4], "big")
        out.append((m, stream[i:i + 2 + n]))
        i += 2 + n
        if m == 0xDA:
            break
    j = i
    while not (stream[j] == 0xFF and stream[j + 1] >= 0x80):
        j += 1
    return out, stream[i:j]

def with_restarts(image, lines, **options):
    """Strips of `lines` lines, joined into one codestream with DRI and RSTm."""
    parts = [jls(image[y:y + lines], **options) for y in range(0, image.shape[0], lines)]
    head, _ = segments(parts[0])
    stream = bytearray(b"\xff\xd8")
    for m, seg in head:
        if m == 0xF7:  # frame header: full height
            seg = seg[:5] + image.shape[0].to_bytes(2, "big") + seg[7:]
        if m == 0xDA:
            stream += b"\xff\xdd\x00\x04" + lines.to_bytes(2, "big")
        stream += seg
    for k, part in enumerate(parts):
        if k:
            stream += bytes([0xFF, 0xD0 + (k - 1) % 8])
        stream += segments(part)[1]
    return bytes(stream + b"\xff\xd9")

def original(name, pixels, bits_stored):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Fixture^Pixels"; ds.PatientID = "PIX"; ds.Modality = "OT"
    ds.Rows, ds.Columns = pixels.shape; ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8; ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1; ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(name, enforce_file_format=True)

def native(name):
    ds = pydicom.dcmread(name)
    return ds.pixel_array

# Low precision (P = 5 and 2: the MAXVAL < 128 threshold rules), new 32x32 originals.
mono8 = native("mono8.dcm")
mono5 = (mono8[:32, :32] >> 3).astype(np.uint8)
mono2 = (mono8[16:48, 16:48] >> 6).astype(np.uint8)
original("mono5.dcm", mono5, 5)
original("mono2.dcm", mono2, 2)
wrap("mono5.dcm", jls(mono5, bits_per_sample=5), "mono5_jls_charls.dcm")
wrap("mono2.dcm", jls(mono2, bits_per_sample=2), "mono2_jls_charls.dcm")
# A SPIFF header (APP8) in front of the frame, as CharLS writes by default.
wrap("mono8.dcm", jls(mono8, spiff={}), "mono8_jls_spiff.dcm")
# Restart intervals: 16 of 4 lines (RST0..7 twice), and sample-interleaved colour.
ct16s = native("ct16s.dcm").view(np.uint16)
wrap("ct16s.dcm", with_restarts(ct16s, 4), "ct16s_jls_restart.dcm")
rgb8 = native("rgb8.dcm")
wrap("rgb8.dcm", with_restarts(rgb8, 8, interleave="sample"), "rgb8_jls_restart_ilv2.dcm")
wrap("rgb8.dcm", with_restarts(rgb8, 8, interleave="line", near_lossless=2),
     "rgb8_jls_near2_restart_ilv1.dcm", "1.2.840.10008.1.2.4.81")
PYEOF
# Custom MAXVAL: CharLS writes MAXVAL < 2^P - 1 but keeps coding with the
# RANGE of 2^P (its streams decode only in CharLS), so these come from a
# plain T.87 encoder written here from the standard (independent of the Rust
# decoder); the check below has libjpeg decode them.
"$PY" - <<'PYEOF'
import math
import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID

J = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15]

class Bits:
    """MSB-first writer with T.87 bit stuffing (7 bits after each 0xFF)."""
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0
    def room(self):
        return 7 if self.out and self.out[-1] == 0xFF else 8
    def put(self, value, nbits):
        for i in range(nbits - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == self.room():
                self.out.append(self.acc)
                self.acc, self.n = 0, 0
    def flush(self):
        if self.n:
            self.out.append(self.acc << (self.room() - self.n))
            self.acc, self.n = 0, 0
        if self.out and self.out[-1] == 0xFF:
            self.out.append(0)
        return bytes(self.out)

def encode_jls(img, precision, maxval, near=0, t=None, reset=64):
    """T.87 encoder (one component, regular and run mode), written from the standard."""
    h, w = img.shape
    rng = (maxval + 2 * near) // (2 * near + 1) + 1
    qbpp = math.ceil(math.log2(rng))
    bpp = max(2, math.ceil(math.log2(maxval + 1)))
    limit = 2 * (bpp + max(8, bpp))
    if t is None:  # C.2.4.1.1 defaults
        clamp = lambda i, j: j if i > maxval or i < j else i
        f = (min(maxval, 4095) + 128) // 256
        t1 = clamp(f * 1 + 2 + 3 * near, near + 1)
        t2 = clamp(f * 4 + 3 + 5 * near, t1)
        t3 = clamp(f * 17 + 4 + 7 * near, t2)
        assert maxval >= 128
    else:
        t1, t2, t3 = t
    def q(d):
        if d <= -t3: return -4
        if d <= -t2: return -3
        if d <= -t1: return -2
        if d < -near: return -1
        if d <= near: return 0
        if d < t1: return 1
        if d < t2: return 2
        if d < t3: return 3
        return 4
    a0 = max(2, (rng + 32) // 64)
    A, N = [a0] * 367, [1] * 367
    B, C, Nn = [0] * 365, [0] * 365, [0, 0]
    step = 2 * near + 1
    bits = Bits()
    def golomb(m, k, lim):
        if (m >> k) < lim - qbpp - 1:
            bits.put(0, m >> k); bits.put(1, 1); bits.put(m & ((1 << k) - 1), k)
        else:
            bits.put(0, lim - qbpp - 1); bits.put(1, 1); bits.put(m - 1, qbpp)
    def quantized(e):
        return (e + near) // step if e > 0 else -((near - e) // step)
    def reduce(e):
        if e < 0: e += rng
        if e >= (rng + 1) // 2: e -= rng
        return e
    rec = np.zeros((h + 1, w), np.int64)  # row 0: the zero line above the image
    run_index = 0
    for y in range(h):
        prev, cur, ix = rec[y], rec[y + 1], img[y].astype(np.int64)
        rc0 = rec[y - 1][0] if y >= 1 else 0
        x = 0
        while x < w:
            ra = cur[x - 1] if x else prev[0]
            rb = prev[x]
            rc = prev[x - 1] if x else rc0
            rd = prev[x + 1] if x + 1 < w else prev[w - 1]
            d1, d2, d3 = rd - rb, rb - rc, rc - ra
            if max(abs(d1), abs(d2), abs(d3)) > near:
                qq = 81 * q(d1) + 9 * q(d2) + q(d3)
                sign = -1 if qq < 0 else 1
                qq = abs(qq)
                px = min(ra, rb) if rc >= max(ra, rb) else max(ra, rb) if rc <= min(ra, rb) else ra + rb - rc
                px = min(max(px + sign * C[qq], 0), maxval)
                e = quantized(sign * (int(ix[x]) - px))
                cur[x] = min(max(px + sign * e * step, 0), maxval)
                e = reduce(e)
                k = 0
                while (N[qq] << k) < A[qq]: k += 1
                if near == 0 and k == 0 and 2 * B[qq] <= -N[qq]:
                    m = 2 * e + 1 if e >= 0 else -2 * (e + 1)
                else:
                    m = 2 * e if e >= 0 else -2 * e - 1
                golomb(m, k, limit)
                B[qq] += e * step; A[qq] += abs(e)
                if N[qq] == reset:
                    A[qq] >>= 1; B[qq] >>= 1; N[qq] >>= 1
                N[qq] += 1
                if B[qq] <= -N[qq]:
                    B[qq] += N[qq]
                    if C[qq] > -128: C[qq] -= 1
                    if B[qq] <= -N[qq]: B[qq] = -N[qq] + 1
                elif B[qq] > 0:
                    B[qq] -= N[qq]
                    if C[qq] < 127: C[qq] += 1
                    if B[qq] > 0: B[qq] = 0
                x += 1
                continue
            # Run mode (A.7).
            runval, cnt = ra, 0
            while x < w and abs(int(ix[x]) - runval) <= near:
                cur[x] = runval; cnt += 1; x += 1
            while cnt >= (1 << J[run_index]):
                bits.put(1, 1); cnt -= 1 << J[run_index]
                if run_index < 31: run_index += 1
            if x == w:
                if cnt > 0: bits.put(1, 1)
                continue
            bits.put(0, 1); bits.put(cnt, J[run_index])
            rb = prev[x]
            ritype = 1 if abs(runval - rb) <= near else 0
            px = runval if ritype else rb
            sign = -1 if (ritype == 0 and runval > rb) else 1
            e = quantized(sign * (int(ix[x]) - px))
            cur[x] = min(max(px + sign * e * step, 0), maxval)
            e = reduce(e)
            qi = 365 + ritype
            temp = A[qi] + (N[qi] >> 1) * ritype
            k = 0
            while (N[qi] << k) < temp: k += 1
            nn = Nn[ritype]
            mp = 1 if ((k == 0 and e > 0 and 2 * nn < N[qi]) or (e < 0 and 2 * nn >= N[qi]) or (e < 0 and k != 0)) else 0
            em = 2 * abs(e) - ritype - mp
            golomb(em, k, limit - J[run_index] - 1)
            if e < 0: Nn[ritype] += 1
            A[qi] += (em + 1 - ritype) >> 1
            if N[qi] == reset:
                A[qi] >>= 1; N[qi] >>= 1; Nn[ritype] >>= 1
            N[qi] += 1
            if run_index > 0: run_index -= 1
            x += 1
    be = lambda v: int(v).to_bytes(2, "big")
    out = b"\xff\xd8"
    out += b"\xff\xf7\x00\x0b" + bytes([precision]) + be(h) + be(w) + b"\x01\x01\x11\x00"
    out += b"\xff\xf8\x00\x0d\x01" + be(maxval) + be(t1) + be(t2) + be(t3) + be(reset)
    out += b"\xff\xda\x00\x08\x01\x01\x00" + bytes([near]) + b"\x00\x00"
    return out + bits.flush() + b"\xff\xd9", rec[1:]

def wrap(src, stream, out, ts):
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = UID(ts)
    if len(stream) % 2:
        stream += b"\0"
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.save_as(out)

ct12u = pydicom.dcmread("ct12u.dcm").pixel_array
top = int(ct12u.max())  # MAXVAL: not 2^n - 1, so reconstruction clamps rather than masks
stream, _ = encode_jls(ct12u, 12, top, t=(9, 40, 150), reset=100)
wrap("ct12u.dcm", stream, "ct12u_jls_maxval.dcm", "1.2.840.10008.1.2.4.80")
stream, _ = encode_jls(ct12u, 12, top, near=2)
wrap("ct12u.dcm", stream, "ct12u_jls_maxval_near2.dcm", "1.2.840.10008.1.2.4.81")
PYEOF
du -ch ./*_jls*.dcm mono5.dcm mono2.dcm | tail -1

# Check with pydicom + pylibjpeg-libjpeg (a third decoder): lossless equal,
# near-lossless within the NEAR of the name (after masking to Bits Stored and
# sign extension: dcmtk codes 12-bit data as P=16, which pydicom leaves as is).
"$PY" - <<'PYEOF'
import glob
import re
import numpy as np
import pydicom
bad = 0
for f in sorted(glob.glob("*_jls*.dcm")):
    a = pydicom.dcmread(f.split("_")[0] + ".dcm").pixel_array.astype(np.int64)
    ds = pydicom.dcmread(f)
    b = ds.pixel_array.astype(np.int64) & ((1 << ds.BitsStored) - 1)
    if ds.PixelRepresentation:
        b = np.where(b >> (ds.BitsStored - 1), b - (1 << ds.BitsStored), b)
    near = int(m.group(1)) if (m := re.search(r"near(\d)", f)) else 0
    d = int(np.abs(a - b).max())
    print(f"{f}: max |diff| = {d} (NEAR {near})")
    bad += d > near
assert bad == 0, f"{bad} JPEG-LS fixtures differ from their originals"
PYEOF

# ---- Palettes and LUTs ----
# A segmented palette (discrete, linear, indirect segments) and greyscale
# pipelines (several windows with explanations, LINEAR_EXACT, SIGMOID on
# MONOCHROME1, VOI LUT Sequence with Presentation LUT Shape INVERSE, Modality
# LUT Sequence), each with a `.ref.raw` of pydicom.pixels' output. Runs on its
# own too: cd tests/fixtures && PY=... bash -c "$(sed -n '/^# ---- Palettes/,$p' ../make_fixtures.sh)"
"${PY:-/tmp/probe-venv/bin/python}" - <<'PYEOF'
# Palette and LUT fixtures: originals made here with pydicom, expected
# output computed by pydicom.pixels (apply_color_lut, apply_modality_lut,
# apply_voi_lut / apply_windowing), written as raw little-endian references.
import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

def base(rows, cols, bits_alloc, bits_stored, signed, photometric):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Fixture^Luts"; ds.PatientID = "PIX"; ds.Modality = "OT"
    ds.Rows = rows; ds.Columns = cols; ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_alloc; ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1; ds.PixelRepresentation = 1 if signed else 0
    return ds

def save(ds, name, arr):
    ds.PixelData = arr.tobytes()
    ds.save_as(name, enforce_file_format=True)

# ---- Segmented palette (PS3.3 C.7.9.2): discrete, linear and indirect segments.
def words(*v):
    return list(v)
red = words(0, 3, 0, 1000, 2000,          # discrete: 3 entries
            1, 100, 60000,                # linear: 100 entries up to 60000
            0, 2, 30000, 100,             # discrete: 2 entries
            2, 2, 0, 0,                   # indirect: the 2 segments at offset 0 again
            1, 48, 65535)                 # linear: 48 entries -> 256 in all
green = words(0, 1, 500, 1, 127, 40000, 1, 128, 123)
blue = words(0, 2, 0, 7, 1, 10, 7, 1, 244, 50001)
ds = base(16, 16, 8, 8, False, "PALETTE COLOR")
for colour, data in (("Red", red), ("Green", green), ("Blue", blue)):
    tag = pydicom.datadict.tag_for_keyword(f"{colour}PaletteColorLookupTableDescriptor")
    ds[tag] = DataElement(tag, "US", [256, 0, 16])
    tag = pydicom.datadict.tag_for_keyword(f"Segmented{colour}PaletteColorLookupTableData")
    ds[tag] = DataElement(tag, "OW", np.asarray(data, "<u2").tobytes())
pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)[::-1].copy()  # every index, reversed
save(ds, "palette_seg.dcm", pixels)
ds = pydicom.dcmread("palette_seg.dcm")
apply_color_lut(ds.pixel_array, ds).astype("<u2").tofile("palette_seg.ref.raw")

# ---- Greyscale pipeline references: 8-bit display values, one frame per
# window / VOI LUT item, from pydicom's output y in [y_min, y_max] as
# round(255 (y - y_min) / (y_max - y_min)), inverted (255 - v) for
# MONOCHROME1 and Presentation LUT Shape INVERSE.
def windows_ref(ds, name, y_range):
    arr = ds.pixel_array
    out = []
    n = len(ds.VOILUTSequence) if "VOILUTSequence" in ds else (
        ds["WindowCenter"].VM if "WindowCenter" in ds else 1)
    for i in range(n):
        y = apply_voi_lut(apply_modality_lut(arr, ds), ds, index=i).astype(np.float64)
        lo, hi = y_range(ds, i)
        v = np.clip(np.round((y - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
        invert = ds.get("PresentationLUTShape", "") == "INVERSE" or (
            "PresentationLUTShape" not in ds and ds.PhotometricInterpretation == "MONOCHROME1")
        out.append(255 - v if invert else v)
    np.concatenate(out).tofile(name)

def stored_range(ds, i):
    # pydicom's windowing output range (apply_windowing): stored range, rescaled.
    if "ModalityLUTSequence" in ds:
        return 0, 2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
    b = ds.BitsStored
    lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if ds.PixelRepresentation else (0, 2 ** b - 1)
    s, c = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    return lo * s + c, hi * s + c

def lut_range(ds, i):
    return 0, 2 ** ds.VOILUTSequence[i].LUTDescriptor[2] - 1

yy, xx = np.mgrid[0:32, 0:32]
ramp12 = (xx * 128 + yy * 4).astype(np.uint16)             # 0..4092, every row a ramp

# Several windows with explanations, LINEAR_EXACT (a window narrower than 1 too).
ds = base(32, 32, 16, 12, False, "MONOCHROME2")
ds.RescaleSlope = 1; ds.RescaleIntercept = -1024
ds.WindowCenter = [40, 400, 1000.25]; ds.WindowWidth = [400, 1800, 0.5]
ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "BONE", "EDGE"]
ds.VOILUTFunction = "LINEAR_EXACT"
save(ds, "voi_linear_exact.dcm", ramp12)
windows_ref(pydicom.dcmread("voi_linear_exact.dcm"), "voi_linear_exact.ref.raw", stored_range)

# SIGMOID on signed data, MONOCHROME1 (inverted for display).
ct = (ramp12.astype(np.int32) - 2048).astype(np.int16)
ds = base(32, 32, 16, 16, True, "MONOCHROME1")
ds.RescaleSlope = 2; ds.RescaleIntercept = 10
ds.WindowCenter = [0, -500]; ds.WindowWidth = [1000, 300]
ds.WindowCenterWidthExplanation = ["WIDE", "NARROW"]
ds.VOILUTFunction = "SIGMOID"
save(ds, "voi_sigmoid_mono1.dcm", ct)
windows_ref(pydicom.dcmread("voi_sigmoid_mono1.dcm"), "voi_sigmoid_mono1.ref.raw", stored_range)

# VOI LUT Sequence (two LUTs, 12- and 16-bit entries, with explanations), and
# Presentation LUT Shape INVERSE on MONOCHROME2.
ds = base(32, 32, 16, 12, False, "MONOCHROME2")
items = []
for first, n, bits, f, expl in ((1000, 2048, 12, lambda t: np.sqrt(t), "SQRT"),
                                (300, 300, 16, lambda t: t ** 3, "CUBE")):
    it = Dataset()
    it.LUTDescriptor = [n, first, bits]
    it["LUTDescriptor"].VR = "US"
    lut = np.round(f(np.linspace(0, 1, n)) * (2 ** bits - 1)).astype(np.uint16)
    it["LUTData"] = DataElement(0x00283006, "US", lut.tolist())
    it.LUTExplanation = expl
    items.append(it)
ds.VOILUTSequence = items
ds.PresentationLUTShape = "INVERSE"
save(ds, "voi_lut_seq.dcm", ramp12)
windows_ref(pydicom.dcmread("voi_lut_seq.dcm"), "voi_lut_seq.ref.raw", lut_range)

# Modality LUT Sequence (16-bit output), then a LINEAR window on its output.
ds = base(32, 32, 16, 10, False, "MONOCHROME2")
it = Dataset()
it.LUTDescriptor = [512, 256, 16]
it["LUTDescriptor"].VR = "US"
it["LUTData"] = DataElement(0x00283006, "US",
    np.round(65535 * np.linspace(0, 1, 512) ** 2).astype(np.uint16).tolist())
it.ModalityLUTType = "OD"
it.LUTExplanation = "OPTICAL DENSITY"
ds.ModalityLUTSequence = [it]
ds.WindowCenter = 20000; ds.WindowWidth = 30000
save(ds, "modality_lut_seq.dcm", (ramp12 >> 2).astype(np.uint16))
windows_ref(pydicom.dcmread("modality_lut_seq.dcm"), "modality_lut_seq.ref.raw", stored_range)
PYEOF

# ---- Multi-frame fragments, EOT, YBR_RCT ----
# Needs opj_compress (OpenJPEG) and PY as above; runs on its own like the sections above.
"${PY:-/tmp/probe-venv/bin/python}" - <<'PYEOF'
# YBR_RCT (OpenJPEG's lossless JPEG 2000 with the reversible colour transform)
# and a multi-frame RLE instance with several fragments per frame and an
# Extended Offset Table (PS3.5 A.4), from originals made here.
import subprocess
import numpy as np
import pydicom
from pydicom.encaps import encapsulate, fragment_frame
from pydicom.uid import UID, RLELossless

ds = pydicom.dcmread("rgb8.dcm")
rgb = ds.pixel_array
with open("rgb8.ppm", "wb") as f:
    f.write(b"P6\n64 64\n255\n" + rgb.tobytes())
subprocess.run(["opj_compress", "-i", "rgb8.ppm", "-o", "rgb8_rct.j2k", "-mct", "1"],
               check=True, capture_output=True)
ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.90")
ds.PhotometricInterpretation = "YBR_RCT"
ds.PixelData = encapsulate([open("rgb8_rct.j2k", "rb").read()])
ds["PixelData"].VR = "OB"
ds.save_as("rgb8_j2k_rct.dcm")

# Three 32x32 signed 16-bit frames (native original), then RLE with each
# frame cut into 3 fragments, an empty Basic Offset Table and an EOT.
src = pydicom.dcmread("ct16s.dcm")
frames = np.stack([src.pixel_array[:32, :32], src.pixel_array[32:, 32:], src.pixel_array[16:48, 8:40]])
ds = pydicom.dcmread("ct16s.dcm")
ds.Rows, ds.Columns, ds.NumberOfFrames = 32, 32, 3
ds.PixelData = frames.astype("<i2").tobytes()
ds.save_as("mf16s.dcm", enforce_file_format=True)
ds = pydicom.dcmread("mf16s.dcm")
ds.compress(RLELossless, encoding_plugin="pydicom")
rle_frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=3))
# Several fragments per frame, located by the Basic Offset Table.
ds.PixelData = encapsulate(rle_frames, fragments_per_frame=3, has_bot=True)
ds.save_as("mf16s_rle_frag3.dcm")
# One fragment per frame (as PS3.5 A.4 requires with an EOT), empty BOT, EOT.
ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = (
    pydicom.encaps.encapsulate_extended(rle_frames))
ds.save_as("mf16s_rle_eot.dcm")
# Independent check: pydicom decodes both (EOT, BOT) to the original frames.
for name in ("mf16s_rle_frag3.dcm", "mf16s_rle_eot.dcm"):
    assert (pydicom.dcmread(name).pixel_array == frames).all(), name
assert len(list(pydicom.encaps.generate_fragments(pydicom.dcmread("mf16s_rle_frag3.dcm").PixelData))) == 10
a = pydicom.dcmread("rgb8.dcm").pixel_array
import os
try:
    b = pydicom.dcmread("rgb8_j2k_rct.dcm").pixel_array
    print("rct max diff", np.abs(a.astype(int) - b.astype(int)).max())
except Exception as e:
    print("pydicom cannot decode rct:", e)
os.remove("rgb8.ppm"); os.remove("rgb8_rct.j2k")
PYEOF

# ---- Odd sizes, tiles and image offsets for the wavelet (vendored openjp2's 5/3
# vertical pass, crates/vendor/openjp2/RANGSI.md): 37 x 29 signed 16-bit, coded with tiles of
# 16 x 16 and the image origin at (3, 5), so resolutions start on odd rows and columns
# (both lifting parities) and blocks have fewer than 8 columns. Regenerate alone with:
#   cd tests/fixtures && PY=... bash -c "set -euo pipefail; $(sed -n '/^# ---- Odd sizes/,$p' ../make_fixtures.sh)"
"$PY" - <<'PYEOF'
import numpy as np, pydicom
src = pydicom.dcmread("ct16s.dcm")
a = np.random.default_rng(37).integers(-2000, 3000, size=(29, 37)).astype(np.int16)
a[:, :20] = src.pixel_array[10:39, 20:40]
a[0, 0] = -32768; a[0, 1] = 32767
ds = src
ds.Rows, ds.Columns = 29, 37
ds.PixelData = a.astype("<i2").tobytes()
ds.save_as("odd16s.dcm", enforce_file_format=True)
a.astype("<i2").tofile("odd16s.rawl")
PYEOF
opj_compress -i odd16s.rawl -F 37,29,1,16,s@1x1 -o odd16s.j2k -t 16,16 -d 3,5 -n 4 > /dev/null
ojph_compress -i odd16s.rawl -o odd16s.j2c -dims '{37,29}' -num_comps 1 -signed true -bit_depth 16 \
  -downsamp '{1,1}' -reversible true -image_offset '{3,5}' -tile_size '{16,16}' -num_decomps 4 > /dev/null
"$PY" - <<'PYEOF'
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID
for j2c, ts, out in (("odd16s.j2k", "1.2.840.10008.1.2.4.90", "odd16s_j2k_tiles.dcm"),
                     ("odd16s.j2c", "1.2.840.10008.1.2.4.201", "odd16s_htj2k_tiles.dcm")):
    ds = pydicom.dcmread("odd16s.dcm")
    ds.file_meta.TransferSyntaxUID = UID(ts)
    ds.PixelData = encapsulate([open(j2c, "rb").read()])
    ds["PixelData"].VR = "OB"
    ds.save_as(out)
PYEOF
rm -f odd16s.rawl odd16s.j2k odd16s.j2c
