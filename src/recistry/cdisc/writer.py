"""Writing the datasets: SAS transport v5 (``.xpt``) with pyreadstat, CSV, and define.csv.

All or nothing: every file is written into a temporary folder beside ``out`` which then replaces
``out`` by rename, so a reader never sees half a delivery. docs/cdisc.md says why pyreadstat.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from recistry.cdisc._metadata import SPECS, DatasetSpec
from recistry.cdisc.datasets import Columns
from recistry.errors import InputError

__all__ = ["DEFINE_COLUMNS", "MARKER", "write_datasets"]

MARKER = "define.csv"
"""The file that makes a folder a recistry CDISC delivery (the only kind it will replace)."""

DEFINE_COLUMNS = (
    "dataset",
    "dataset_label",
    "class",
    "variable",
    "label",
    "type",
    "length",
    "codelist",
    "source",
)

SAS_DATE_VARIABLES = frozenset({"TRTSDT", "ADT", "STARTDT"})
"""Numeric SAS dates, written with the DATE9. format."""


def _frame(spec: DatasetSpec, columns: Columns):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    data: dict[str, object] = {}
    for v in spec.variables:
        values = columns[v.name]
        if v.kind == "Num":
            data[v.name] = np.array([np.nan if x is None else x for x in values], dtype=float)
        else:
            data[v.name] = pd.Series(["" if x is None else str(x) for x in values], dtype=object)
    return pd.DataFrame(data, columns=list(spec.names))


def _csv_text(value: object, number: bool) -> str:
    """A cell as the CSV shows it: blank when missing, whole numbers without a decimal point."""
    if value is None:
        return ""
    if number and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _write_csv(path: Path, spec: DatasetSpec, columns: Columns) -> None:
    """The dataset as CSV: the header, then one line per record (csv module: quoting as
    pandas' ``to_csv`` does, without building a second frame)."""
    whole = {
        v.name
        for v in spec.variables
        if v.kind == "Num" and all(x is None or float(x).is_integer() for x in columns[v.name])  # type: ignore[arg-type]
    }
    cells = [
        [_csv_text(x, v.name in whole) for x in columns[v.name]]
        if v.kind == "Num"
        else ["" if x is None else str(x) for x in columns[v.name]]
        for v in spec.variables
    ]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(spec.names)
        writer.writerows(zip(*cells, strict=True))


def _lengths(spec: DatasetSpec, columns: Columns) -> dict[str, int]:
    """Bytes of the longest value of each character variable (8 for numbers)."""
    lengths = {}
    for v in spec.variables:
        if v.kind == "Num":
            lengths[v.name] = 8
        else:
            distinct = {"" if x is None else str(x) for x in columns[v.name]}
            lengths[v.name] = max((len(x.encode("utf-8")) for x in distinct), default=1) or 1
    return lengths


def write_datasets(datasets: Mapping[str, Columns], out: Path) -> list[Path]:
    """Write each dataset as ``name.xpt`` and ``name.csv`` plus ``define.csv`` into ``out``.

    ``out`` must not exist, be empty, or hold an earlier delivery (it has ``define.csv``); it is
    then replaced as a whole. Returns the files written, relative to ``out``.

    Raises
    ------
    InputError
        ``out`` holds other files, or cannot be created.
    """
    import pyreadstat

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise InputError(
            "the output folder exists and is not a recistry CDISC delivery (no define.csv); "
            "choose a new folder",
            path=str(out),
        )
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(out)) from exc
    written: list[Path] = []
    try:
        define_rows: list[Sequence[object]] = []
        for spec in SPECS:
            if spec.name not in datasets:
                continue
            frame = _frame(spec, datasets[spec.name])
            lengths = _lengths(spec, datasets[spec.name])
            name = spec.name.lower()
            pyreadstat.write_xport(
                frame,
                str(tmp / f"{name}.xpt"),
                file_label=spec.label,
                column_labels=[v.label for v in spec.variables],
                table_name=spec.name,
                file_format_version=5,
                variable_format={v: "DATE9." for v in spec.names if v in SAS_DATE_VARIABLES},
            )
            _write_csv(tmp / f"{name}.csv", spec, datasets[spec.name])
            written += [Path(f"{name}.xpt"), Path(f"{name}.csv")]
            define_rows.extend(
                (
                    spec.name,
                    spec.label,
                    spec.klass,
                    v.name,
                    v.label,
                    v.kind,
                    lengths[v.name],
                    v.codelist,
                    v.source,
                )
                for v in spec.variables
            )
        with open(tmp / MARKER, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(DEFINE_COLUMNS)
            writer.writerows(define_rows)
        written.append(Path(MARKER))
        os.chmod(tmp, 0o777 & ~_umask())
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(tmp: Path, out: Path) -> None:
    """Put the finished folder at ``out``: a rename, the earlier delivery moved aside first."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.replace(out, old / "previous")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / "previous", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
