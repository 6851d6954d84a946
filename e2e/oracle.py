#!/usr/bin/env python3
"""Independent oracle for the e2e pixel checks: reads a DICOM file with pydicom,
applies Rescale Slope/Intercept and the VOI LINEAR window (PS3.3 C.11.2.1.2.1),
and prints, for a grid of image points, the expected 8-bit gray and the range of
the 3x3 neighbourhood (the browser resamples, so a point may land a pixel off).

usage: oracle.py FILE CENTER WIDTH GRID
       oracle.py --pixel FILE COLUMN ROW   (the stored and modality value of one pixel,
                                            Pixel Spacing and the image size)
       oracle.py --roi FILE ellipse|rectangle X0 Y0 X1 Y1
                                           (mean, population SD, min, max of the modality
                                            values whose pixel centres lie inside, and the
                                            shape's area in mm^2; corners in image pixels,
                                            (0,0) = top left corner of the first pixel)
"""
import json
import sys

import numpy as np
import pydicom


def pixel(path, col, row):
    """What the viewer's probe and length tool must agree with, read by pydicom."""
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array[row, col].item()
    modality = float(stored) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    spacing = [float(v) for v in ds.PixelSpacing] if "PixelSpacing" in ds else None
    ipp = [float(v) for v in ds.ImagePositionPatient] if "ImagePositionPatient" in ds else None
    iop = [float(v) for v in ds.ImageOrientationPatient] if "ImageOrientationPatient" in ds else None
    patient = None
    if spacing and ipp and iop:
        # PS3.3 C.7.6.2.1.1: P = S + X * column spacing * column + Y * row spacing * row.
        patient = [ipp[k] + iop[k] * spacing[1] * col + iop[3 + k] * spacing[0] * row for k in range(3)]
    json.dump({"stored": stored, "modality": modality, "pixel_spacing": spacing, "patient": patient,
               "rows": int(ds.Rows), "cols": int(ds.Columns)}, sys.stdout)


def roi(path, kind, x0, y0, x1, y1):
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    rows, cols = hu.shape
    xa, xb, ya, yb = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    cx, cy = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    if kind == "ellipse":
        rx, ry = (xb - xa) / 2, (yb - ya) / 2
        inside = ((cx - (xa + rx)) / rx) ** 2 + ((cy - (ya + ry)) / ry) ** 2 <= 1.0
    else:
        inside = (cx >= xa) & (cx <= xb) & (cy >= ya) & (cy <= yb)
    v = hu[inside]
    row_mm, col_mm = (float(x) for x in ds.PixelSpacing)
    w, h = (xb - xa) * col_mm, (yb - ya) * row_mm
    area = np.pi * w * h / 4 if kind == "ellipse" else w * h
    json.dump({"mean": float(v.mean()), "sd": float(v.std()), "min": float(v.min()), "max": float(v.max()),
               "pixels": int(v.size), "area": float(area)}, sys.stdout)


def main():
    if sys.argv[1] == "--roi":
        roi(sys.argv[2], sys.argv[3], *(float(x) for x in sys.argv[4:8]))
        return
    if sys.argv[1] == "--pixel":
        pixel(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    path, c, w, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    lo_edge = c - 0.5 - (w - 1) / 2
    hi_edge = c - 0.5 + (w - 1) / 2
    y = np.where(hu <= lo_edge, 0.0, np.where(hu > hi_edge, 1.0, (hu - (c - 0.5)) / (w - 1) + 0.5))
    gray = np.round(y * 255)
    rows, cols = gray.shape
    points = []
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            col = int(cols * j / (n + 1))
            row = int(rows * i / (n + 1))
            nb = gray[row - 1:row + 2, col - 1:col + 2]
            points.append({"col": col, "row": row, "gray": int(gray[row, col]),
                           "lo": int(nb.min()), "hi": int(nb.max())})
    json.dump({"rows": rows, "cols": cols, "points": points}, sys.stdout)


if __name__ == "__main__":
    main()
