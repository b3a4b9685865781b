"""Re-encode recistry's synthetic series with independent encoders (DCMTK, GDCM, OpenJPH).

Every case is one transfer syntax written by a tool that shares no code with recistry or pydicom's
decoders, except HTJ2K: OpenJPH's ``ojph_compress`` writes the code stream and pydicom only wraps
it into the encapsulated Pixel Data (PS3.5 A.4).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID

__all__ = ["ENCODER_CASES", "EncoderCase", "encode_series", "require_tool"]


@dataclass(frozen=True, slots=True)
class EncoderCase:
    """One way of re-encoding a file.

    Attributes
    ----------
    name
        Test id.
    transfer_syntax_uid
        What the encoder must have written (checked).
    lossless
        Whether decoded values must equal the original's exactly.
    command
        ``(tool, options...)``; the input and output paths are appended. ``None`` for HTJ2K,
        written by :func:`_htj2k`.
    modalities
        Which synthetic series the case applies to (``"CT"``, ``"PT"``); JPEG baseline and
        extended cannot hold PET's 16-bit signed values.
    """

    name: str
    transfer_syntax_uid: str
    lossless: bool
    command: tuple[str, ...] | None
    modalities: tuple[str, ...] = ("CT", "PT")


ENCODER_CASES = (
    EncoderCase("implicit-le", "1.2.840.10008.1.2", True, ("dcmconv", "+ti")),
    EncoderCase("explicit-be", "1.2.840.10008.1.2.2", True, ("dcmconv", "+tb")),
    EncoderCase("deflate", "1.2.840.10008.1.2.1.99", True, ("dcmconv", "+td")),
    EncoderCase("rle", "1.2.840.10008.1.2.5", True, ("dcmcrle",)),
    EncoderCase("jpeg-lossless-p14", "1.2.840.10008.1.2.4.57", True, ("dcmcjpeg", "+el")),
    EncoderCase("jpeg-lossless-sv1", "1.2.840.10008.1.2.4.70", True, ("dcmcjpeg", "+e1")),
    EncoderCase(
        "jpeg-extended-12bit", "1.2.840.10008.1.2.4.51", False, ("dcmcjpeg", "+ee"), ("CT",)
    ),
    EncoderCase("jpeg-ls-lossless", "1.2.840.10008.1.2.4.80", True, ("dcmcjpls", "+el")),
    # DCMTK's near-lossless JPEG-LS encoder refuses signed samples.
    EncoderCase(
        "jpeg-ls-near-lossless",
        "1.2.840.10008.1.2.4.81",
        False,
        ("dcmcjpls", "+en", "+md", "2"),
        ("CT",),
    ),
    EncoderCase("j2k-lossless", "1.2.840.10008.1.2.4.90", True, ("gdcmconv", "--j2k")),
    EncoderCase(
        "j2k-lossy", "1.2.840.10008.1.2.4.91", False, ("gdcmconv", "--j2k", "--lossy", "-q", "80")
    ),
    EncoderCase("htj2k-lossless", "1.2.840.10008.1.2.4.201", True, None),
)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} missing: run scripts/install-system-deps.sh"
    return path


def encode_series(case: EncoderCase, source: Path, out: Path) -> list[Path]:
    """Re-encode every ``*.dcm`` of ``source`` into ``out`` (same names)."""
    out.mkdir(parents=True)
    written = []
    for src in sorted(source.glob("*.dcm")):
        dst = out / src.name
        if case.command is None:
            _htj2k(src, dst, out)
        else:
            require_tool(case.command[0])
            subprocess.run(
                [*case.command, str(src), str(dst)], check=True, capture_output=True, timeout=60
            )
        ts = pydicom.dcmread(dst, stop_before_pixels=True).file_meta.TransferSyntaxUID
        assert ts == case.transfer_syntax_uid, f"{case.name}: {dst} was written as {ts}"
        written.append(dst)
    return written


def _htj2k(src: Path, dst: Path, scratch: Path) -> None:
    """HTJ2K lossless (PS3.5 A.4.6) by OpenJPH from the raw stored values."""
    tool = require_tool("ojph_compress")
    ds = pydicom.dcmread(src)
    stored = ds.pixel_array
    signed = ds.PixelRepresentation == 1
    raw = scratch / (src.stem + ".raw")
    stream = scratch / (src.stem + ".j2c")
    # OpenJPH reads raw samples in the machine's byte order (little endian here).
    raw.write_bytes(np.ascontiguousarray(stored, dtype="<i2" if signed else "<u2").tobytes())
    subprocess.run(
        [
            tool,
            "-i",
            str(raw),
            "-o",
            str(stream),
            "-dims",
            f"{{{ds.Columns},{ds.Rows}}}",
            "-num_comps",
            "1",
            "-signed",
            "true" if signed else "false",
            "-bit_depth",
            str(ds.BitsStored),
            "-downsamp",
            "{1,1}",
            "-reversible",
            "true",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ds.PixelData = encapsulate([stream.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.201")
    ds.save_as(dst, enforce_file_format=True)
    raw.unlink()
    stream.unlink()
