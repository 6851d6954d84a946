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
       oracle.py --rgb FILE FRAME GRID     (colour: the 8-bit R, G, B pydicom shows at a
                                            grid of points of frame FRAME (from 1), with each
                                            channel's range over the 3x3 neighbourhood: YBR
                                            converted by pydicom, PALETTE COLOR through
                                            apply_color_lut, deeper samples scaled to 8 bits)
       oracle.py --restamp IN OUT [--widen-palette]
                                           (a copy of IN with new Study, Series and SOP
                                            Instance UIDs, so each file is a study of its own;
                                            --widen-palette pads a PALETTE COLOR table to 4096
                                            entries, past the server's inline limit, so its
                                            metadata gives bulk data URIs)
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


def rgb(path, frame, n):
    from pydicom.pixels import apply_color_lut

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1))
    if frames > 1:
        arr = arr[frame - 1]
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        lut = apply_color_lut(arr, ds)
        # 16-bit palette entries: the high byte (8-bit tables as they are).
        arr = lut >> 8 if lut.max() > 255 else lut
    elif int(ds.BitsStored) > 8:
        arr = arr >> (int(ds.BitsStored) - 8)
    arr = arr.astype(np.int64)
    rows, cols = arr.shape[:2]
    points = []
    for i in range(1, n + 1):
        for j in range(1, n + 1):
            col = int(cols * j / (n + 1))
            row = int(rows * i / (n + 1))
            nb = arr[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].reshape(-1, 3)
            points.append({"col": col, "row": row, "rgb": [int(v) for v in arr[row, col]],
                           "lo": [int(v) for v in nb.min(axis=0)], "hi": [int(v) for v in nb.max(axis=0)]})
    json.dump({"rows": rows, "cols": cols, "frames": frames, "points": points}, sys.stdout)


def restamp(src, dst, widen_palette=False):
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(src)
    if widen_palette:
        for c in ("Red", "Green", "Blue"):
            desc = ds[f"{c}PaletteColorLookupTableDescriptor"]
            data = np.frombuffer(ds[f"{c}PaletteColorLookupTableData"].value, "<u2")
            wide = np.concatenate([data, np.full(4096 - len(data), data[-1], "<u2")])
            ds[f"{c}PaletteColorLookupTableData"].value = wide.tobytes()
            desc.value = [4096, desc.value[1], desc.value[2]]
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "SOPClassUID" not in ds:
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    ds.PatientName = ds.get("PatientName") or "COLOUR^TEST"
    ds.PatientID = ds.get("PatientID") or "COLOUR"
    ds.save_as(dst, enforce_file_format=True)
    json.dump({"study_uid": ds.StudyInstanceUID, "series_uid": ds.SeriesInstanceUID,
               "sop_uid": ds.SOPInstanceUID}, sys.stdout)


def main():
    if sys.argv[1] == "--rgb":
        rgb(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if sys.argv[1] == "--restamp":
        restamp(sys.argv[2], sys.argv[3], "--widen-palette" in sys.argv[4:])
        return
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
