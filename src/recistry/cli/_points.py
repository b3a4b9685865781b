"""Command-line parsing and printing shared by ``measure`` and ``track``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Point = tuple[float, float, float]


def lps_point(text: str) -> Point:
    """``X,Y,Z`` in patient mm (LPS) as three floats (an argparse ``type``)."""
    parts = text.replace(" ", "").split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected X,Y,Z in patient mm (LPS), e.g. -70,-10,12.5; got {text!r}"
        )
    return (values[0], values[1], values[2])


def add_pet_and_format_arguments(parser: argparse.ArgumentParser, pet_help: str) -> None:
    """``--pet PET_DIR`` and ``--format table|json``, as ``measure`` and ``track`` take them."""
    parser.add_argument("--pet", type=Path, metavar="PET_DIR", help=pet_help)
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print on stdout (default: %(default)s)",
    )


def table(record: dict[str, Any], keys: Sequence[str]) -> str:
    """``key  value`` lines for the human-readable --format table."""
    width = max(len(k) for k in keys)
    lines = []
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            text = "  ".join(
                "(" + ", ".join(f"{v:.2f}" for v in item) + ")"
                if isinstance(item, list)
                else str(item)
                for item in value
            )
        elif isinstance(value, float):
            text = f"{value:.2f}"
        else:
            text = "-" if value is None else str(value)
        lines.append(f"{key.ljust(width)}  {text}")
    return "\n".join(lines)


MEASUREMENT_KEYS = (
    "long_axis_mm",
    "short_axis_mm",
    "long_axis_endpoints_lps_mm",
    "short_axis_endpoints_lps_mm",
    "sop_instance_uid",
    "suv_max",
    "suv_peak",
    "volume_ml",
    "method",
)
