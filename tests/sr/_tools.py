"""Drive the other tools of the SR tests for real: dcmjs (OHIF) through node, dcmqi's binaries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

DCMJS_DIR = Path(__file__).parent / "dcmjs"
OHIF_SCRIPT = DCMJS_DIR / "ohif.js"


def dcmjs_ready() -> None:
    """Install dcmjs from tests/sr/dcmjs/package-lock.json if ``make test`` has not yet."""
    if not (DCMJS_DIR / "node_modules" / "dcmjs").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=DCMJS_DIR, check=True, timeout=600
        )


def node(*args: str) -> None:
    dcmjs_ready()
    done = subprocess.run(
        ["node", str(OHIF_SCRIPT), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def image_id(ds: Dataset) -> str:
    return f"wadouri:{ds.SOPInstanceUID}"


def ohif_report(
    images: Sequence[Dataset], tools: Mapping[str, Mapping[str, list[dict[str, Any]]]], out: Path
) -> Path:
    """An OHIF report written by dcmjs from Cornerstone tool states.

    ``tools`` maps a SOP Instance UID to ``{"Length": [tool data], "Bidirectional": [...]}``.
    """
    spec = {
        "patient": {
            "PatientID": images[0].PatientID,
            "PatientName": str(images[0].PatientName),
            "PatientBirthDate": "",
            "PatientSex": "",
            "StudyDate": images[0].StudyDate,
            "StudyTime": images[0].get("StudyTime", ""),
        },
        "images": {
            image_id(ds): {
                "studyInstanceUID": ds.StudyInstanceUID,
                "seriesInstanceUID": ds.SeriesInstanceUID,
                "sopClassUID": ds.SOPClassUID,
                "sopInstanceUID": ds.SOPInstanceUID,
            }
            for ds in images
        },
        "toolState": {
            f"wadouri:{uid}": {tool: {"data": data} for tool, data in by_tool.items()}
            for uid, by_tool in tools.items()
        },
    }
    spec_path = out.with_suffix(".json")
    spec_path.write_text(json.dumps(spec))
    node("write", str(spec_path), str(out))
    return out


def ohif_tool_states(sr: Path) -> dict[str, list[dict[str, Any]]]:
    """What dcmjs's Cornerstone adapter reads from a report: tool data by tool type."""
    out = sr.with_suffix(".tools.json")
    node("read", str(sr), str(out))
    result: dict[str, list[dict[str, Any]]] = json.loads(out.read_text())
    return result


def dcmqi(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of dcmqi's command-line tools (installed with the ``dcmqi`` wheel)."""
    exe = shutil.which(tool) or str(Path(sys.executable).parent / tool)
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{tool}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def headers(paths: Sequence[Path]) -> list[Dataset]:
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
