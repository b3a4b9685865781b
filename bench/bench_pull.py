"""Pull a 300-slice CT + PET study from a local Orthanc (issue 11 target: within 1.5x of
dicomweb-client's bare retrieve of the same study, measured in the same run).

    .venv/bin/python bench/bench_pull.py [--slices 300] [--repeats 3] [--size 512]

Makes one synthetic study with ``recistry synth`` (CT SIZE x SIZE, PET half of it), extends each
series to --slices slices (the synthetic slices repeated further along the z axis, each with its
own SOP Instance UID and position), starts Orthanc (Debian packages ``orthanc`` and
``orthanc-dicomweb``, as the tests do: tests/pacs/_orthanc.py) on free ports with a temporary
storage, and loads the study over its REST API. Then, best of --repeats, alternating:

- ``bare retrieve`` (baseline): ``DICOMwebClient.retrieve_study`` of the study with the same
  media type recistry asks for (``application/dicom; transfer-syntax=*``), instances kept in
  memory, nothing written;
- ``recistry pull``: ``recistry.pacs.pull`` into an empty folder: QIDO-RS for studies, series
  and instances, WADO-RS per series, every file written under a temporary name, fsynced and
  renamed;
- ``resume`` (for information): the same pull again, every file on disk checked and skipped.

Prints the times and the ratio pull / bare retrieve.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pacs._orthanc import start_orthanc  # noqa: E402

from recistry.imaging.synth import write_synthetic_studies  # noqa: E402
from recistry.pacs import Credentials, PullQuery, parse_location, pull  # noqa: E402
from recistry.pacs.dicomweb import AS_STORED  # noqa: E402

TARGET_RATIO = 1.5
USER, PASSWORD = "bench", "bench-password"


def extend_series(folder: Path, slices: int, out: Path) -> list[Path]:
    """Write ``slices`` slices from the series in ``folder``: slice k is source slice
    k mod n, moved k x spacing along z, with its own SOP Instance UID."""
    sources = sorted(
        (pydicom.dcmread(p) for p in folder.glob("*.dcm")),
        key=lambda d: float(d.ImagePositionPatient[2]),
    )
    z0 = float(sources[0].ImagePositionPatient[2])
    spacing = float(sources[1].ImagePositionPatient[2]) - z0
    out.mkdir(parents=True)
    paths = []
    for k in range(slices):
        ds = sources[k % len(sources)]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        x, y, _ = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, round(z0 + k * spacing, 3)]
        ds.SliceLocation = round(z0 + k * spacing, 3)
        if "NumberOfSlices" in ds:
            ds.NumberOfSlices = slices
        path = out / f"{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def timed(fn: Callable[[], object], before: Callable[[], object] = lambda: None) -> float:
    before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp_name:
        tmp = Path(tmp_name)
        write_synthetic_studies(tmp / "synth", patients=1, timepoints=1, seed=3, size=args.size)
        (scan,) = (tmp / "synth").glob("*/*/CT")
        files = extend_series(scan, args.slices, tmp / "study" / "CT")
        files += extend_series(scan.parent / "PT", args.slices, tmp / "study" / "PT")
        header = pydicom.dcmread(files[0], stop_before_pixels=True)
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        print(
            f"study: {len(files)} instances ({args.slices} CT {header.Rows}x{header.Columns}, "
            f"{args.slices} PET), {size_mb:.0f} MB"
        )
        orthanc = start_orthanc(tmp / "orthanc", users={USER: PASSWORD})
        try:
            start = time.perf_counter()
            orthanc.upload(files)
            print(f"loaded into Orthanc over REST in {time.perf_counter() - start:.1f} s")
            shutil.rmtree(tmp / "synth")
            session = requests.Session()
            session.auth = (USER, PASSWORD)
            client = DICOMwebClient(orthanc.dicomweb_url, session=session)
            study_uid = str(header.StudyInstanceUID)
            location = parse_location(orthanc.dicomweb_url)
            credentials = Credentials("environment", username=USER, password=PASSWORD)
            out = tmp / "pulled"

            def bare() -> None:
                instances = client.retrieve_study(study_uid, media_types=AS_STORED)
                assert len(instances) == len(files)

            def recistry_pull() -> None:
                result = pull(
                    location, PullQuery(study_uid=study_uid), out, credentials=credentials
                )
                assert result.instances == len(files)

            def empty() -> None:
                shutil.rmtree(out, ignore_errors=True)

            bare()  # warm Orthanc's storage in the page cache
            bare_times, pull_times, resume_times = [], [], []
            for _ in range(args.repeats):
                bare_times.append(timed(bare))
                pull_times.append(timed(recistry_pull, empty))
                resume_times.append(timed(recistry_pull))
        finally:
            orthanc.stop()
    baseline, ours = min(bare_times), min(pull_times)
    for label, seconds in (
        ("bare retrieve (dicomweb-client, in memory)", baseline),
        ("recistry pull (QIDO + WADO + atomic files)", ours),
    ):
        print(f"{label}: {seconds:.2f} s  {size_mb / seconds:.0f} MB/s")
    print(f"resume, nothing missing (files checked):    {min(resume_times):.2f} s")
    ratio = ours / baseline
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio pull / bare retrieve: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
