"""Raw voxels of one axial CT series for `cargo xtask bench volume`'s native run.

Reads every DICOM file under DIR (pydicom), checks the series is axial
(ImageOrientationPatient 1\\0\\0\\0\\1\\0), one size, one spacing and one rescale, sorts
the slices by ascending z, and writes their stored values as signed 16-bit little
endian, slice after slice, to OUT. Prints the geometry as one line on stdout,
`geometry<TAB>size=…<TAB>slices=…<TAB>first=x,y,z<TAB>spacing=…<TAB>gap=…<TAB>slope=…<TAB>intercept=…`
(first: the lowest slice's position; spacing: pixel spacing; gap: between slices, mm).

usage: python ct_raw.py DIR OUT
"""

import glob
import sys

import numpy as np
import pydicom


def main(src, out):
    files = [pydicom.dcmread(f) for f in sorted(glob.glob(f"{src}/**/*.dcm", recursive=True))]
    files = [d for d in files if "ImagePositionPatient" in d]
    if len(files) < 2:
        sys.exit(f"{src}: fewer than 2 slices")
    iop = [float(v) for v in files[0].ImageOrientationPatient]
    if any(abs(a - b) > 1e-6 for a, b in zip(iop, [1, 0, 0, 0, 1, 0])):
        sys.exit(f"{src}: not axial ({iop})")
    files.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    size = int(files[0].Rows)
    spacing = [float(v) for v in files[0].PixelSpacing]
    z = [float(d.ImagePositionPatient[2]) for d in files]
    gaps = np.diff(z)
    for d in files:
        if (int(d.Rows), int(d.Columns)) != (size, size):
            sys.exit(f"{src}: slices of several sizes")
        if [float(v) for v in d.PixelSpacing] != spacing or spacing[0] != spacing[1]:
            sys.exit(f"{src}: pixel spacing differs or is not square")
    if np.ptp(gaps) > 1e-3:
        sys.exit(f"{src}: irregular slice gaps")
    slope = float(getattr(files[0], "RescaleSlope", 1))
    intercept = float(getattr(files[0], "RescaleIntercept", 0))
    with open(out, "wb") as f:
        for d in files:
            f.write(d.pixel_array.astype("<i2").tobytes())
    first = ",".join(repr(float(v)) for v in files[0].ImagePositionPatient)
    print(f"geometry\tsize={size}\tslices={len(files)}\tfirst={first}\tspacing={spacing[0]!r}"
          f"\tgap={float(gaps.mean())!r}\tslope={slope!r}\tintercept={intercept!r}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
