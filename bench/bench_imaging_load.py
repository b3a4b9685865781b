"""Load a CT and a PET series into volumes (issue 3 targets: no slower than SimpleITK's
ImageSeriesReader, within 2x of reading the same bytes raw, peak memory <= 1.5x the volume), and
the CT compressed (issue 11 targets: JPEG 2000 lossless and JPEG Lossless load within 1.3x of the
decoder's own time to decode every frame, peak memory <= 1.5x the volume).

    .venv/bin/python bench/bench_imaging_load.py [--slices 300] [--repeats 3] [--keep DIR]
                                                 [--compressed-only]

Writes a 512x512xN CT series (int16, RescaleSlope 1, RescaleIntercept -1024; about 150 MB at
N = 300) and a 200x200xN PET series (per-slice RescaleSlope, Ga-68 header) with pydicom into a
temporary folder, reads every file once to warm the page cache, then times (best of --repeats):

- ``raw read``: open and read every file's bytes (the floor);
- ``write float32``: cast the same stored values, already in memory, into a new float32 volume
  (no files: what producing the output alone costs, page faults of the new array included);
- ``read + cast``: the raw read into one reused buffer plus the cast of each file's pixel bytes
  into a new float32 volume, in file order, no header parsed or checked (the least any loader
  returning float32 does);

both on one thread and on two (recistry reads slices on up to four threads, two on this VM).
- ``recistry``: ``load_ct`` / ``load_pet_suv`` (float32 HU / SUVbw, slices sorted, validated);
- ``SimpleITK``: ``ImageSeriesReader`` with float32 output (needed for per-slice slopes,
  SimpleITK #1636) on the same file list;
- ``pydicom loop``: ``dcmread`` + ``pixel_array`` x slope + intercept per file, sort, stack.

Peak memory is measured in a fresh process per loader: the rise of the peak resident set
(VmHWM) over the resident set before the call, divided by the size of the loaded volume.

Compressed: the CT series is re-encoded by GDCM (``gdcmconv --j2k``, JPEG 2000 lossless) and DCMTK
(``dcmcjpeg +e1``, JPEG Lossless SV1). ``decoder`` is the plugin pydicom uses (openjpeg's and
libjpeg's ``decode``) decoding every frame's code stream, already in memory, one after the other
on one core; ``recistry`` is ``load_ct`` on the files (headers, decoding in worker processes,
rescale, checks). For memory, the loading process's own peak rise is reported, and separately
the largest resident set of a decoding worker (each holds Python, numpy, pydicom and a few
frames).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from recistry.imaging._decode import PARALLEL_FROM_FRAMES


def write_series(folder: Path, modality: str, size: int, slices: int, spacing: float) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    base = rng.integers(0, 2000, size=(size, size)).astype(np.int16)
    paths = []
    for k in range(slices):
        ds = Dataset()
        ds.SOPClassUID = (
            "1.2.840.10008.5.1.4.1.1.2" if modality == "CT" else "1.2.840.10008.5.1.4.1.1.128"
        )
        ds.SOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID, ds.PatientSex = "BENCH^LOAD", "BENCH", "M"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20240301"
        ds.StudyTime, ds.SeriesTime, ds.AcquisitionTime = "100000", "110000", "110000"
        ds.Modality = modality
        ds.SeriesDescription = f"bench {modality}"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-200.0, -200.0, f"{-300.0 + k * spacing:.2f}"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [
            spacing if modality == "PT" else 0.7,
            spacing if modality == "PT" else 0.7,
        ]
        ds.SliceThickness = spacing
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        if modality == "CT":
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        else:
            ds.ImageType = ["ORIGINAL", "PRIMARY"]
            ds.RescaleSlope, ds.RescaleIntercept = f"{0.5 + 0.01 * k:.4f}", 0
            ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
            ds.PatientWeight, ds.PatientSize = 70, 1.75
            ds.FrameReferenceTime, ds.ActualFrameDuration = 0, 120000
            item = Dataset()
            item.RadiopharmaceuticalStartDateTime = "20240301100000"
            item.RadionuclideTotalDose, item.RadionuclideHalfLife = 150e6, 4062.6
            ds.RadiopharmaceuticalInformationSequence = [item]
        ds.PixelData = np.roll(base, k, axis=0).tobytes()
        ds.file_meta = FileMetaDataset()  # save_as fills in the SOP class and instance UIDs
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{modality}_{k:04d}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def raw_read(paths: list[str]) -> int:
    total = 0
    for p in paths:
        with open(p, "rb") as fp:
            total += len(fp.read())
    return total


def _in_threads(count: int, threads: int, work: Callable[[range], None]) -> None:
    bounds = [count * t // threads for t in range(threads + 1)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(work, range(a, b)) for a, b in itertools.pairwise(bounds)]:
            future.result()


def write_float32(stored: np.ndarray, threads: int) -> np.ndarray:
    out = np.empty(stored.shape, dtype=np.float32)

    def work(ks: range) -> None:
        np.copyto(out[ks.start : ks.stop], stored[ks.start : ks.stop])

    _in_threads(len(stored), threads, work)
    return out


def read_and_cast(paths: list[str], rows: int, cols: int, threads: int) -> np.ndarray:
    pixel_bytes = rows * cols * 2
    largest = max(os.path.getsize(p) for p in paths)
    out = np.empty((len(paths), rows, cols), dtype=np.float32)

    def work(ks: range) -> None:
        buf = bytearray(largest)
        for k in ks:
            with open(paths[k], "rb", buffering=0) as fp:
                size = fp.readinto(buf)
            # the bench's files end with their pixel data
            stored = np.frombuffer(buf, "<i2", rows * cols, size - pixel_bytes)
            np.copyto(out[k], stored.reshape(rows, cols))

    _in_threads(len(paths), threads, work)
    return out


def load_recistry(modality: str) -> Callable[[list[str]], np.ndarray]:
    if modality == "CT":
        from recistry.imaging.ct import load_ct

        return lambda paths: load_ct(paths).array
    from recistry.imaging.pet import load_pet_suv

    return lambda paths: load_pet_suv(paths).array


def load_sitk(paths: list[str]) -> np.ndarray:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(paths)
    reader.SetOutputPixelType(sitk.sitkFloat32)
    return sitk.GetArrayViewFromImage(reader.Execute())


def load_pydicom(paths: list[str]) -> np.ndarray:
    slices = []
    for p in paths:
        ds = pydicom.dcmread(p)
        z = float(ds.ImagePositionPatient[2])
        slices.append(
            (z, ds.pixel_array * np.float32(ds.RescaleSlope) + np.float32(ds.RescaleIntercept))
        )
    slices.sort(key=lambda s: s[0])
    return np.stack([s[1] for s in slices])


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


_MEMORY_CHILD = """
import sys
sys.path.insert(0, {bench!r})
from bench_imaging_load import load_recistry, load_sitk, load_pydicom
paths = {paths!r}
def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
loaders = {{"SimpleITK": load_sitk, "pydicom loop": load_pydicom}}
loader = loaders.get({name!r}) or load_recistry({modality!r})
loader(paths[:{warm}])  # import everything (and start any workers) before measuring
before = kb("VmRSS")
array = loader(paths)
print((kb("VmHWM") - before) * 1024, array.nbytes)
"""


def peak_memory(name: str, modality: str, paths: list[str], warm: int = 2) -> tuple[int, int]:
    code = _MEMORY_CHILD.format(
        bench=str(Path(__file__).parent), paths=paths, modality=modality, name=name, warm=warm
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rise, nbytes = (int(v) for v in out.stdout.split())
    return rise, nbytes


def bench(modality: str, paths: list[str], repeats: int) -> None:
    nbytes = raw_read(paths)
    ours_volume = load_recistry(modality)(paths)
    rows, cols = ours_volume.shape[1:]
    stored = np.stack([pydicom.dcmread(p).pixel_array for p in paths])
    load = os.getloadavg()[0]
    raw = best_time(lambda: raw_read(paths), repeats)
    write = [best_time(functools.partial(write_float32, stored, t), repeats) for t in (1, 2)]
    cast = [
        best_time(functools.partial(read_and_cast, paths, rows, cols, t), repeats) for t in (1, 2)
    ]
    ours = best_time(lambda: load_recistry(modality)(paths), repeats)
    sitk_t = best_time(lambda: load_sitk(paths), repeats)
    pyd = best_time(lambda: load_pydicom(paths), repeats)
    print(
        f"\n{modality}: {len(paths)} files, {nbytes / 1e6:.1f} MB on disk, float32 volume "
        f"{ours_volume.nbytes / 1e6:.1f} MB; load average {load:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print(f"  raw read       {raw:7.3f} s  (floor)")
    for t in (1, 2):
        print(f"  write float32  {write[t - 1]:7.3f} s  {write[t - 1] / raw:5.2f}x raw  ", end="")
        print(f"(no files, {t} thread{'s' if t > 1 else ''})")
    for t in (1, 2):
        print(f"  read + cast    {cast[t - 1]:7.3f} s  {cast[t - 1] / raw:5.2f}x raw  ", end="")
        print(f"(no headers, {t} thread{'s' if t > 1 else ''})")
    print(
        f"  recistry       {ours:7.3f} s  {ours / raw:5.2f}x raw  {ours / cast[1]:5.2f}x "
        f"read+cast (2 threads)  {ours / sitk_t:5.2f}x SimpleITK"
    )
    print(f"  SimpleITK      {sitk_t:7.3f} s  {sitk_t / raw:5.2f}x raw")
    print(f"  pydicom loop   {pyd:7.3f} s  {pyd / raw:5.2f}x raw")
    for name in ("recistry", "SimpleITK", "pydicom loop"):
        rise, volume_bytes = peak_memory(name, modality, paths)
        print(
            f"  peak memory {name:<13} {rise / 1e6:7.1f} MB = {rise / volume_bytes:4.2f}x its "
            f"volume ({volume_bytes / 1e6:.1f} MB)"
        )


_COMPRESSED = {
    "JPEG 2000 lossless": (("gdcmconv", "--j2k"), "openjpeg"),
    "JPEG Lossless SV1": (("dcmcjpeg", "+e1"), "libjpeg"),
}


def encode_series(paths: list[str], folder: Path, command: tuple[str, ...]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = [str(folder / Path(p).name) for p in paths]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [
            pool.submit(subprocess.run, [*command, src, dst], check=True, capture_output=True)
            for src, dst in zip(paths, out, strict=True)
        ]
        for job in jobs:
            job.result()
    return out


def code_streams(paths: list[str]) -> list[bytes]:
    from pydicom.encaps import generate_frames

    streams = []
    for p in paths:
        ds = pydicom.dcmread(p)
        streams.extend(generate_frames(ds.PixelData, number_of_frames=1))
    return streams


_WORKER_MEMORY_CHILD = """
import resource, sys
sys.path.insert(0, {bench!r})
from bench_imaging_load import load_recistry
from recistry.imaging._decode import shutdown_workers
load_recistry("CT")({paths!r})
shutdown_workers(wait=True)  # the workers' peak resident sets count once they have exited
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def bench_compressed(name: str, paths: list[str], decoder: str, repeats: int) -> None:
    decode = importlib.import_module(decoder).decode
    streams = code_streams(paths)
    load = os.getloadavg()[0]
    ours_volume = load_recistry("CT")(paths)  # starts the decoding workers once
    baseline = best_time(lambda: [decode(s) for s in streams], repeats)
    ours = best_time(lambda: load_recistry("CT")(paths), repeats)
    print(
        f"\nCT {name}: {len(paths)} files, {sum(len(s) for s in streams) / 1e6:.1f} MB of code "
        f"streams, float32 volume {ours_volume.nbytes / 1e6:.1f} MB; load average {load:.2f} "
        f"-> {os.getloadavg()[0]:.2f}"
    )
    print(f"  decoder ({decoder}, every frame, 1 core) {baseline:7.3f} s  (baseline)")
    print(f"  recistry load_ct                      {ours:7.3f} s  {ours / baseline:5.2f}x decoder")
    # Warmed on enough frames to start the decoding workers, as a second load finds them.
    rise, volume_bytes = peak_memory("recistry", "CT", paths, warm=PARALLEL_FROM_FRAMES)
    print(
        f"  peak memory recistry (loading process) {rise / 1e6:7.1f} MB = "
        f"{rise / volume_bytes:4.2f}x its volume ({volume_bytes / 1e6:.1f} MB)"
    )
    code = _WORKER_MEMORY_CHILD.format(bench=str(Path(__file__).parent), paths=paths)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    print(f"  largest decoding worker resident set  {int(out.stdout.split()[-1]) / 1e6:7.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the series here and keep them")
    parser.add_argument(
        "--compressed-only", action="store_true", help="only the compressed CT benchmarks"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        start = time.perf_counter()
        ct = write_series(root / "ct", "CT", 512, args.slices, 1.0)
        pet = write_series(root / "pet", "PT", 200, args.slices, 4.0)
        print(f"wrote {len(ct)} CT and {len(pet)} PET files in {time.perf_counter() - start:.1f} s")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {dt.date.today()}")
        if not args.compressed_only:
            bench("CT", ct, args.repeats)
            bench("PT", pet, args.repeats)
        for name, (command, decoder) in _COMPRESSED.items():
            start = time.perf_counter()
            encoded = encode_series(ct, root / name.replace(" ", "_"), command)
            print(f"\nencoded {name} with {command[0]} in {time.perf_counter() - start:.1f} s")
            bench_compressed(name, encoded, decoder, args.repeats)


if __name__ == "__main__":
    main()
