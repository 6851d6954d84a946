"""Makes a 4D CT series (several phases at the same slice positions) from a folder of
one 3D series, for the MPR phase picker's e2e test: every image is copied once per
phase into a new study and series, with Temporal Position Identifier = phase number,
and phase p's stored values raised by p × --step (clipped to the stored range), so
each phase is told apart by its pixels. Phase p's files go to OUT/phase-p/. With
--limit N only the first N images (by file name) are copied: `--phases 1 --limit 2`
makes a series too short to be a volume.

    gen_4d_series.py SOURCE OUT [--phases 2] [--step 300] [--limit N]

Prints {"study_uid": ..., "series_uid": ..., "phases": n} as JSON.
"""
import argparse
import glob
import json
import os

import numpy as np
import pydicom
from pydicom.uid import generate_uid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--phases", type=int, default=2)
    ap.add_argument("--step", type=int, default=300)
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    study_uid, series_uid = generate_uid(), generate_uid()
    files = sorted(glob.glob(os.path.join(a.source, "**", "*.dcm"), recursive=True))[: a.limit]
    for p in range(a.phases):
        folder = os.path.join(a.out, f"phase-{p + 1}")
        os.makedirs(folder, exist_ok=True)
        for n, f in enumerate(files):
            d = pydicom.dcmread(f)
            if "PixelData" not in d:
                continue
            pixels = d.pixel_array.astype(np.int64) + p * a.step
            info = np.iinfo(d.pixel_array.dtype)
            d.PixelData = np.clip(pixels, info.min, info.max).astype(d.pixel_array.dtype).tobytes()
            d.StudyInstanceUID = study_uid
            d.SeriesInstanceUID = series_uid
            d.SOPInstanceUID = generate_uid()
            d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
            d.SeriesDescription = "4D"
            d.SeriesNumber = 4
            if a.phases > 1:
                d.TemporalPositionIdentifier = p + 1
                d.NumberOfTemporalPositions = a.phases
            d.InstanceNumber = p * len(files) + n + 1
            d.save_as(os.path.join(folder, f"P{p + 1}-{n:05d}.dcm"))
    print(json.dumps({"study_uid": study_uid, "series_uid": series_uid, "phases": a.phases}))


if __name__ == "__main__":
    main()
