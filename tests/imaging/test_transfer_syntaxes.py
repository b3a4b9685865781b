"""Every transfer syntax a PACS export uses, written by independent encoders, loads exactly.

recistry's own synthetic CT (12-bit unsigned) and Ga-68 PET (16-bit signed, per-slice slope)
series are re-encoded with DCMTK (dcmconv, dcmcrle, dcmcjpeg, dcmcjpls), GDCM (gdcmconv) and
OpenJPH (ojph_compress) (tests/imaging/_encoded.py). Lossless syntaxes must give the very same HU
and SUV as the native files; lossy ones the values of pydicom's own decode of the same file with
the file's rescale (pydicom.pixels.apply_rescale), and close to the original.
Transfer syntaxes: DICOM PS3.5 §10 and Annex A; PS3.6 Annex A (UIDs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_rescale

from recistry.imaging.ct import load_ct
from recistry.imaging.pet import load_pet_suv
from recistry.imaging.volume import Volume

from ._encoded import ENCODER_CASES, EncoderCase, encode_series
from .conftest import SyntheticScan

_BASELINE, _EXTENDED = "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"
CT8_BASELINE = EncoderCase("jpeg-baseline-8bit", _BASELINE, False, ("dcmcjpeg", "+eb"))
CT8_EXTENDED = EncoderCase("jpeg-extended-8bit", _EXTENDED, False, ("dcmcjpeg", "+ee"))


def _load(modality: str, files: list[Path]) -> Volume:
    return load_ct(files) if modality == "CT" else load_pet_suv(files)


def _same_geometry(a: Volume, b: Volume) -> None:
    assert a.spacing_mm == b.spacing_mm
    assert a.origin_mm == b.origin_mm
    np.testing.assert_array_equal(a.direction, b.direction)
    assert a.frame_of_reference_uid == b.frame_of_reference_uid
    assert len(a.sop_instance_uids) == len(b.sop_instance_uids)


def _pydicom_values(files: list[Path], volume: Volume, suv_per_bqml: float = 1.0) -> np.ndarray:
    """pydicom's decode and rescale of each file, in the volume's slice order."""
    by_uid = {}
    for f in files:
        ds = pydicom.dcmread(f)
        by_uid[str(ds.SOPInstanceUID)] = apply_rescale(ds.pixel_array, ds) * suv_per_bqml
    return np.stack([by_uid[uid] for uid in volume.sop_instance_uids])


@pytest.fixture(scope="module")
def native(synthetic_scan: SyntheticScan) -> dict[str, Volume]:
    return {
        "CT": load_ct(synthetic_scan.ct_files()),
        "PT": load_pet_suv(synthetic_scan.pet_files()),
    }


_CASES = [(case, m) for case in ENCODER_CASES for m in case.modalities]


@pytest.mark.parametrize(("case", "modality"), _CASES, ids=[f"{c.name}-{m}" for c, m in _CASES])
def test_encoded_series_loads_like_the_native_one(
    case: EncoderCase,
    modality: str,
    synthetic_scan: SyntheticScan,
    native: dict[str, Volume],
    tmp_path: Path,
) -> None:
    source = synthetic_scan.ct if modality == "CT" else synthetic_scan.pet
    files = encode_series(case, source, tmp_path / case.name)
    volume = _load(modality, files)
    reference = native[modality]
    _same_geometry(volume, reference)
    assert volume.units == reference.units
    if case.lossless:
        assert volume.sop_instance_uids == reference.sop_instance_uids
        np.testing.assert_array_equal(volume.array, reference.array)
        return
    # Lossy compression makes new instances (PS3.3 C.7.6.1.1.5): DCMTK gives new UIDs.
    # Lossy: the values are pydicom's decode of the same bytes, rescaled; and near the original.
    suv_per_bqml = 1.0
    if modality == "PT":
        suv_per_bqml = float(volume.provenance["suv_bw_factor_g_per_bq"])
    expected = _pydicom_values(files, volume, suv_per_bqml)
    np.testing.assert_allclose(volume.array, expected, rtol=1e-6, atol=1e-4)
    error = np.abs(volume.array - reference.array)
    assert float(error.mean()) < 0.05 * float(np.abs(reference.array).mean())
    assert not np.array_equal(volume.array, reference.array)  # it really is lossy


def _eight_bit_ct(source: Path, out: Path) -> list[Path]:
    """The CT series with 8-bit stored values (stored // 16, slope 16): what JPEG baseline holds."""
    out.mkdir()
    for f in sorted(source.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        stored = (ds.pixel_array // 16).astype(np.uint8)
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.RescaleSlope = "16"
        ds.PixelData = stored.tobytes()
        ds.save_as(out / f.name, enforce_file_format=True)
    return sorted(out.glob("*.dcm"))


@pytest.mark.parametrize("case", [CT8_BASELINE, CT8_EXTENDED], ids=lambda c: c.name)
def test_eight_bit_jpeg_baseline_and_extended(
    case: EncoderCase, synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    eight_bit = _eight_bit_ct(synthetic_scan.ct, tmp_path / "ct8")
    reference = load_ct(eight_bit)
    files = encode_series(case, tmp_path / "ct8", tmp_path / case.name)
    volume = load_ct(files)
    _same_geometry(volume, reference)
    np.testing.assert_allclose(volume.array, _pydicom_values(files, volume), rtol=0, atol=1e-3)
    assert float(np.abs(volume.array - reference.array).mean()) < 16.0  # one stored step


_UNGUARDED_SCRIPT = """
import sys
from recistry.imaging.ct import load_ct
volume = load_ct(sys.argv[1:])
print(volume.array.shape)
"""


def test_a_script_without_main_guard_decodes_in_parallel(
    synthetic_scan: SyntheticScan, tmp_path: Path
) -> None:
    """A researcher's script calling load_ct at top level (no ``if __name__ == "__main__"``):
    the 30 compressed slices go to worker processes, which must not re-run the script."""
    import os
    import subprocess
    import sys

    j2k = next(c for c in ENCODER_CASES if c.name == "j2k-lossless")
    files = encode_series(j2k, synthetic_scan.ct, tmp_path / "j2k")
    script = tmp_path / "script.py"
    script.write_text(_UNGUARDED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"({len(files)}, 128, 128)"
