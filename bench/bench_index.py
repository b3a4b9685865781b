"""Index a tree of 10,000 DICOM files (issue 3 target: at least 10,000 files per second warm,
the class of python-gdcm's Scanner; pydicom ``dcmread(stop_before_pixels=True)`` measured in the
same run).

    .venv/bin/python bench/bench_index.py [--files 10000] [--repeats 3]

Two trees, written with pydicom into a temporary folder (50 series of 200 files, 16x16 pixels
so that the tree stays small; indexing reads headers only):

- ``GE CT``: the header of pydicom's ``CT_small.dcm`` (a real GE HiSpeed CT file: 258
  elements, many private) with new UIDs and positions;
- ``plain CT``: a lean header of the attributes a modern anonymised export keeps (~50 elements).

Each tree is indexed once to warm the page cache, then timed (best of --repeats):

- ``recistry``: ``index_tree(root)`` (walk, header parse, grouping into patients/studies/series);
- ``pydicom``: the same walk, ``dcmread(stop_before_pixels=True)`` per file and reading the same
  attributes (no grouping);
- ``raw``: the same walk, opening each file and reading its first 16 kB (the floor).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from recistry.imaging.discovery import index_tree, iter_files

KEYWORDS = (
    "PatientID",
    "PatientName",
    "StudyInstanceUID",
    "StudyDate",
    "SeriesInstanceUID",
    "SeriesDescription",
    "Modality",
    "SOPInstanceUID",
    "InstanceNumber",
    "PixelSpacing",
    "ImagePositionPatient",
    "ImageOrientationPatient",
)


def ge_template() -> Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Rows = ds.Columns = 16
    ds.PixelData = bytes(16 * 16 * 2)
    return ds


def plain_template() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240301"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AccessionNumber, ds.Modality, ds.Manufacturer = "A100", "CT", "bench"
    ds.ReferringPhysicianName, ds.StudyDescription = "", "CT chest abdomen pelvis"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
        "BENCH^INDEX",
        "P1",
        "19600101",
        "F",
    )
    ds.SliceThickness, ds.KVP, ds.PatientPosition = 1.0, 120, "HFS"
    ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber = "1", 2, 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.PixelSpacing = [0.7, 0.7]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.PixelData = bytes(16 * 16 * 2)
    return ds


def write_tree(root: Path, template: Dataset, files: int, per_series: int = 200) -> None:
    study = generate_uid()
    frame = generate_uid()
    for n in range(files):
        if n % per_series == 0:
            series = generate_uid()
            folder = root / f"series{n // per_series:03d}"
            folder.mkdir(parents=True)
        ds = template.copy()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesDescription = f"series {n // per_series}"
        ds.InstanceNumber = n % per_series + 1
        ds.ImagePositionPatient = [-100.0, -100.0, float(n % per_series)]
        ds.file_meta = FileMetaDataset()  # save_as fills in the SOP class and instance UIDs
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(folder / f"IM{n % per_series:05d}", enforce_file_format=True)


def pydicom_scan(root: Path) -> int:
    count = 0
    for path in iter_files(root):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in KEYWORDS:
            ds.get(keyword)
        count += 1
    return count


def raw_scan(root: Path) -> int:
    count = 0
    for path in iter_files(root):
        with open(path, "rb") as fp:
            fp.read(16384)
        count += 1
    return count


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.files} files per tree")
    with tempfile.TemporaryDirectory() as tmp:
        for name, template in (("GE CT", ge_template()), ("plain CT", plain_template())):
            root = Path(tmp) / name.replace(" ", "_")
            start = time.perf_counter()
            write_tree(root, template, args.files)
            written = time.perf_counter() - start
            index = index_tree(root)  # warm the page cache
            assert index.files_indexed == args.files and not index.errors, index.errors[:3]
            ours = best(lambda root=root: index_tree(root), args.repeats)
            pyd = best(lambda root=root: pydicom_scan(root), args.repeats)
            raw = best(lambda root=root: raw_scan(root), args.repeats)
            n = args.files
            series = len(index.patients[0].studies[0].series)
            print(f"\n{name} (written in {written:.1f} s, {series} series)")
            print(f"  raw 16 kB read   {raw:6.3f} s  {n / raw:8.0f} files/s  (floor)")
            print(
                f"  recistry index   {ours:6.3f} s  {n / ours:8.0f} files/s  "
                f"{pyd / ours:5.1f}x pydicom"
            )
            print(f"  pydicom dcmread  {pyd:6.3f} s  {n / pyd:8.0f} files/s")


if __name__ == "__main__":
    main()
